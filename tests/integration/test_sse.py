"""Server-sent events (docs/sse.md) through the real nginx and sidecar: the format as curl sees
it, every message with `id: EPOCH:SEQ`, a reconnect with Last-Event-ID that resumes with nothing
lost or doubled, several rooms in one stream, tokens, and hostile requests answered with JSON."""

import json
import socket
import subprocess
import time

import harness


class EventStream:
    """GET on the site as EventSource does it (HTTP/1.0, so nginx streams the body as it comes),
    parsed into events: {"id": ..., "data": parsed JSON}."""

    def __init__(self, port, path, last_event_id=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        headers = "Accept: text/event-stream\r\n"
        if last_event_id is not None:
            headers += "Last-Event-ID: %s\r\n" % last_event_id
        self.sock.sendall(("GET %s HTTP/1.0\r\nHost: localhost\r\n%s\r\n" % (path, headers)).encode())
        self.buffer = b""
        head = self.read_until(b"\r\n\r\n").decode()
        self.status = int(head.split()[1])
        self.headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip()
                        for line in head.split("\r\n")[1:] if ":" in line}

    def read_until(self, marker):
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the stream ended")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def body(self):
        """The rest of an error answer."""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return json.loads(self.buffer)
            self.buffer += chunk

    def next(self):
        """The next event (comments skipped)."""
        while True:
            block = self.read_until(b"\n\n").decode()
            event = {"id": None, "data": []}
            for line in block.split("\n"):
                if line.startswith("id: "):
                    event["id"] = line[4:]
                elif line.startswith("data: "):
                    event["data"].append(line[6:])
            if event["data"]:
                event["data"] = json.loads("\n".join(event["data"]))
                return event

    def until(self, predicate, limit=50):
        seen = []
        for _ in range(limit):
            seen.append(self.next())
            if predicate(seen[-1]):
                return seen
        raise AssertionError("not found in %s" % seen)

    def close(self):
        self.sock.close()


class Sse(harness.StackTestCase):

    def publish(self, room, n):
        with harness.ControlConnection(self.stack.control_socket) as control:
            return control.publish(room, {"n": n})

    def test_curl_shows_the_format(self):
        self.publish("s-curl", 1)
        done = subprocess.run(["curl", "-sN", "--max-time", "1", "-D", "-",
                               self.stack.url + "/sse/rooms/s-curl?since=0"],
                              capture_output=True, text=True)
        self.assertIn(done.returncode, (0, 28), done.stderr)  # 28: --max-time ended it
        head, _, body = done.stdout.partition("\n\n")  # text=True made \r\n into \n
        self.assertTrue(body, done.stdout + done.stderr)
        self.assertIn("content-type: text/event-stream", head.lower())
        self.assertIn("cache-control: no-cache", head.lower())
        lines = body.splitlines()
        self.assertTrue(lines[0].startswith("data: {\"type\":\"subscribed\""), body)
        message = lines.index(next(line for line in lines if '"type":"message"' in line))
        self.assertRegex(lines[message - 1], r"^id: [0-9a-f]{16}:1$")

    def test_a_reconnect_with_last_event_id_resumes_with_nothing_lost_or_doubled(self):
        stream = EventStream(self.stack.port, "/sse/rooms/s-1")
        self.assertEqual(stream.status, 200)
        first = stream.next()
        self.assertEqual(first["data"]["type"], "subscribed")
        for n in range(1, 4):
            self.publish("s-1", n)
        seen = stream.until(lambda e: e["data"].get("data") == {"n": 3})
        last_id = seen[-1]["id"]
        stream.close()
        for n in range(4, 6):
            self.publish("s-1", n)
        again = EventStream(self.stack.port, "/sse/rooms/s-1", last_event_id=last_id)
        resumed = again.until(lambda e: e["data"].get("data") == {"n": 5})
        self.publish("s-1", 6)
        live = again.next()
        again.close()
        messages = [e for e in seen + resumed + [live] if e["data"]["type"] == "message"]
        self.assertEqual([e["data"]["data"]["n"] for e in messages], [1, 2, 3, 4, 5, 6])
        epoch = first["id"].split(":")[0]
        self.assertEqual([e["id"] for e in messages], ["%s:%d" % (epoch, n) for n in range(1, 7)])
        self.assertEqual([e["id"] for e in resumed if e["data"]["type"] == "subscribed"], [None],
                         "a resumed room's subscribed moves no id: the replay is still to come")

    def test_a_stale_epoch_gets_a_reset_and_what_is_retained(self):
        self.publish("s-2", 1)
        stream = EventStream(self.stack.port, "/sse/rooms/s-2",
                             last_event_id="00000000deadbeef:1")
        seen = stream.until(lambda e: e["data"]["type"] == "message")
        stream.close()
        self.assertEqual([e["data"]["type"] for e in seen], ["subscribed", "reset", "message"])

    def test_several_rooms_in_one_stream_name_every_position(self):
        stream = EventStream(self.stack.port, "/sse?rooms=s-a,s-b")
        stream.until(lambda e: e["data"].get("room") == "s-b" and
                     e["data"]["type"] == "subscribed")
        self.publish("s-a", 1)
        self.publish("s-b", 2)
        seen = stream.until(lambda e: e["data"].get("room") == "s-b" and
                            e["data"]["type"] == "message")
        stream.close()
        self.assertRegex(seen[-1]["id"], r"^s-a=[0-9a-f]{16}:1 s-b=[0-9a-f]{16}:1$")
        again = EventStream(self.stack.port, "/sse?rooms=s-a,s-b", last_event_id=seen[-1]["id"])
        self.publish("s-a", 3)
        resumed = again.until(lambda e: e["data"]["type"] == "message")
        again.close()
        self.assertEqual(resumed[-1]["data"]["data"], {"n": 3}, "nothing replayed twice")

    def test_hostile_requests_get_json_errors(self):
        cases = [
            ("/sse/rooms/bad*room", None, 400, "invalid_room"),
            ("/sse", None, 400, "bad_request"),
            ("/sse?rooms=" + ",".join("r%d" % n for n in range(70)), None, 400,
             "too_many_rooms"),
            ("/sse/rooms/ok?since=nope", None, 400, "bad_since"),
            ("/sse/rooms/ok", "not-an-id", 400, "bad_request"),
            ("/sse/rooms/ok", "e:" + "9" * 30, 400, "bad_request"),
            ("/sse/rooms/ok", "e:" + "1" * 5000, 400, "bad_request"),  # over 4 KB
            ("/sse/rooms/ok?token=a%00b", None, 400, "bad_request"),
        ]
        for path, last_id, status, code in cases:
            with self.subTest(path=path):
                stream = EventStream(self.stack.port, path, last_event_id=last_id)
                self.assertEqual(stream.status, status)
                self.assertEqual(stream.body()["error"]["code"], code)
                stream.close()

    def test_a_slow_reader_does_not_hold_the_sidecar(self):
        """The session's queue bound applies: a stream that is not read is ended, not grown."""
        stream = EventStream(self.stack.port, "/sse/rooms/s-slow")
        stream.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        with harness.ControlConnection(self.stack.control_socket) as control:
            for n in range(400):
                control.publish("s-slow", {"n": n, "pad": "x" * 60000})
        deadline = time.monotonic() + 20
        closes = 0
        while time.monotonic() < deadline and not closes:
            status, _, body = self.curl(self.stack.url + "/metrics")
            closes = sum(float(line.split()[1]) for line in body.splitlines()
                         if line.startswith("roompush_slow_consumer_closes_total"))
            time.sleep(0.2)
        stream.close()
        self.assertGreaterEqual(closes, 1)


class SseWithTokens(harness.TokenStackTestCase):

    def test_a_room_that_needs_a_token_answers_403_without_one(self):
        refused = EventStream(self.stack.port, "/sse/rooms/t-1")
        self.assertEqual((refused.status, refused.body()["error"]["code"]), (403, "token_missing"))
        refused.close()
        token = self.mint("t-1")
        stream = EventStream(self.stack.port, "/sse/rooms/t-1?token=" + token)
        self.assertEqual(stream.status, 200)
        self.assertEqual(stream.next()["data"]["type"], "subscribed")
        stream.close()
        wrong = EventStream(self.stack.port, "/sse?rooms=t-1,t-2&token=" + token)
        self.assertEqual((wrong.status, wrong.body()["error"]["code"]), (403, "token_wrong_room"))
        wrong.close()


if __name__ == "__main__":
    harness.main()
