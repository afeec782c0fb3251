"""Bytes that are not UTF-8, at every entry point, through the real nginx and daemons.

A browser fails its WebSocket (close 1007) on a text frame that is not UTF-8, and the sidecar
replays retained history on resume: one such publish would keep a whole room reconnecting. The
room clients here are python3-websockets, which, like a browser, closes the connection on a text
frame that is not UTF-8, so a client that still receives a later message has received nothing
broken. The control socket and POST /push refuse such data (invalid_utf8), pushctl refuses it
before sending, the program's output is repaired with U+FFFD.
"""

import json
import os
import subprocess
import time

import harness
from harness import ControlConnection, RoomClient

BEHAVIOUR = os.path.join(harness.FIXTURES, "job_behaviour.sh")
GOOD = "\u00e9 \u20ac \U0001d11e"  # é € 𝄞: two, three and four bytes in UTF-8


def publish_line(room, data_bytes, before=b""):
    return (b'{"op":"publish","room":"' + room.encode() + b'","event":"note",' + before
            + b'"data":' + data_bytes + b"}\n")


class Utf8(harness.StackTestCase):
    EXEC = BEHAVIOUR + " {input} {workdir}"

    def test_control_socket_refuses_data_that_is_not_utf8_and_the_room_stays_connected(self):
        room = "u-control"
        bad = [
            publish_line(room, b'{"t":"caf\xe9"}'),                    # scan_publish's path
            publish_line(room, b'"\xed\xa0\x80"', b'"x":"\\u00e9",'),  # cJSON's: a \u escape
            publish_line(room, b'[01,"\xf0\x9d\x84"]'),                # cJSON's, printed again
        ]

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as a, \
                    RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as b:
                await a.next()
                await b.next()
                with ControlConnection(self.stack.control_socket) as control:
                    refusals = []
                    for line in bad:
                        control.send_raw(line)
                        refusals.append(control.line())
                    heard = await a.nothing_for(0.5)
                    # The same connection goes on; the clients get the next message whole.
                    control.send_raw(publish_line(room, ('{"t": "%s"}' % GOOD).encode()))
                    ack = control.line()
                    texts = [await a.next_text(), await b.next_text()]
                    history = control.request({"op": "history", "room": room})
                return refusals, heard, ack, texts, history

        refusals, heard, ack, texts, history = self.run_async(scenario())
        for refusal in refusals:
            self.assertEqual(refusal["ok"], False)
            self.assertEqual(refusal["error"]["code"], "invalid_utf8")
            self.assertIn('"data" is not valid UTF-8', refusal["error"]["message"])
            self.assertIn("browser", refusal["error"]["message"])
        self.assertEqual(heard, [], "a refused publish reaches nobody")
        self.assertEqual((ack["ok"], ack["seq"]), (True, 1), "nothing was published before")
        for text in texts:
            self.assertIn('"data":{"t": "%s"}' % GOOD, text, "passed on verbatim, as UTF-8")
            self.assertEqual(json.loads(text)["seq"], 1)
        self.assertEqual([m["data"] for m in history["messages"]], [{"t": GOOD}])

    def test_push_with_a_body_that_is_not_utf8_is_400_invalid_utf8(self):
        def push(room, body):
            path = self.write_fixture("push-%d.json" % time.monotonic_ns(), body)
            return self.curl("-X", "POST", "-H", "Content-Type: application/json",
                             "--data-binary", "@" + path, self.stack.url + "/push/" + room)

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/u-http") as client:
                await client.next()
                refused = push("u-http", b'{"t":"caf\xe9"}')
                accepted = push("u-http", json.dumps({"t": GOOD}, ensure_ascii=False).encode())
                return refused, accepted, await client.next()

        refused, accepted, message = self.run_async(scenario())
        status, _, body = refused
        self.assertEqual(status, 400, body)
        error = json.loads(body)["error"]
        self.assertEqual(error["code"], "invalid_utf8")
        self.assertIn("the body is not valid UTF-8", error["message"])
        self.assertEqual(accepted[0], 200, accepted[2])
        self.assertEqual((message["seq"], message["data"]), (1, {"t": GOOD}))

    def run_mode(self, mode, room):
        """Uploads a job in `mode`; (job id, every message of the room up to its end)."""
        path = self.write_fixture("input-%s.txt" % mode, mode.encode() + b"\n")

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                status, _, body = self.upload(path, room=room, item="i")
                self.assertEqual(status, 202, body)
                seen = await client.until(
                    lambda m: m.get("event") in ("job.done", "job.failed"))
                return json.loads(body)["jobId"], seen

        return self.run_async(scenario())

    def test_program_output_that_is_not_utf8_is_repaired_and_warned_about_once(self):
        job_id, seen = self.run_mode("notutf8", "u-job")
        events = [m["event"] for m in seen]
        self.assertEqual(events, ["job.queued", "job.started", "job.progress", "job.done"],
                         self.logs())
        self.assertEqual(seen[2]["data"]["stage"], "caf\ufffd")
        # What the fixture printed, as a browser's decoder (and Python's) would read it.
        printed = b'{"ok":true,"latin1":"caf\xe9","cut":"\xf0\x9d\x84","good":"' \
            + GOOD.replace(" ", "").encode() + b'"}'
        expected = json.loads(printed.decode("utf-8", "replace"))
        self.assertEqual(expected["cut"], "\ufffd", "one U+FFFD for the cut character")
        self.assertEqual(seen[3]["data"]["result"], expected)
        status, _, body = self.curl(self.stack.url + "/jobs/" + job_id)
        self.assertEqual(json.loads(body)["result"], expected)
        with open(os.path.join(self.stack.log_dir, "app.log"), errors="replace") as log:
            warnings = [line for line in log if "event=program_output_not_utf8" in line]
        mine = [line for line in warnings if "job=" + job_id in line]
        self.assertEqual(len(mine), 1, warnings)
        self.assertIn("level=warn", mine[0])
        self.assertIn("lines=2", mine[0])

    def test_program_stderr_that_is_not_utf8_is_a_repaired_error_message(self):
        _, seen = self.run_mode("notutf8err", "u-job-err")
        self.assertEqual(seen[-1]["event"], "job.failed", self.logs())
        self.assertEqual(seen[-1]["data"]["error"]["message"],
                         "job_behaviour: caf\ufffd is not UTF-8")

    def test_an_item_id_that_is_not_utf8_is_invalid_item(self):
        path = self.write_fixture("item.txt", b"ok\n")
        status, _, body = self.curl("-F", "roomId=u-item", "-F", b"itemId=caf\xe9",
                                    "-F", "file=@" + path, self.stack.url + "/cad")
        self.assertEqual(status, 400, body)
        self.assertEqual(json.loads(body)["error"]["code"], "invalid_item")
        self.assertIn("UTF-8", json.loads(body)["error"]["message"])

    def pushctl_bytes(self, *args, stdin=b""):
        return subprocess.run([self.stack.layout.pushctl, "--socket", self.stack.control_socket]
                              + list(args), capture_output=True, input=stdin, timeout=30)

    def test_pushctl_refuses_data_that_is_not_utf8_with_the_sidecars_code(self):
        latin1 = b'{"t":"caf\xe9"}'
        from_file = "@" + self.write_fixture("latin1.json", latin1)
        for source, stdin in ((latin1, b""), (from_file, b""), ("-", latin1)):
            with self.subTest(source=source):
                result = self.pushctl_bytes("publish", "u-cli", "--data", source, stdin=stdin)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(b"not valid UTF-8", result.stderr)
                self.assertIn(b"(invalid_utf8)", result.stderr)
        lines = b'u-cli\t{"n":1}\nu-cli\t' + latin1 + b'\nu-cli\t{"t":"' + GOOD.encode() + b'"}\n'
        result = self.pushctl_bytes("publish", "--lines", "--json", stdin=lines)
        self.assertEqual(result.returncode, 1, result.stderr)
        summary = json.loads(result.stdout)
        self.assertEqual((summary["sent"], summary["acked"], summary["failed"]), (2, 2, 1))
        self.assertEqual([(f["line"], f["code"]) for f in summary["failures"]],
                         [(2, "invalid_utf8")])
        history = json.loads(self.pushctl_bytes("history", "u-cli", "--json").stdout)
        self.assertEqual([m["data"] for m in history["messages"]], [{"n": 1}, {"t": GOOD}])


if __name__ == "__main__":
    harness.main()
