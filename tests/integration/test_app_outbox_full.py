"""The app's outbox at its limit, end to end: with the sidecar away, pushes and uploads are
refused loudly once --outbox-limit results wait, /healthz says so, and when the sidecar is back
every result that was accepted arrives exactly once and the app takes work again."""

import json
import time

import harness

LIMIT = 3


class OutboxFull(harness.StackTestCase):
    APP_ARGS = ("--outbox-limit", str(LIMIT))

    def push(self, room, key):
        return self.curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                         json.dumps({"key": key}), self.stack.url + "/push/%s?id=%s" % (room, key))

    def history(self, room, expected, timeout=20):
        deadline = time.monotonic() + timeout
        with harness.ControlConnection(self.stack.control_socket) as control:
            while True:
                answer = control.request({"op": "history", "room": room})
                messages = answer.get("messages", []) if answer.get("ok") else []
                if len(messages) >= expected or time.monotonic() > deadline:
                    return messages
                time.sleep(0.1)

    def test_full_outbox_refuses_then_drains_exactly_once(self):
        self.assertEqual(self.stack.stop_process("sidecar"), 0)
        queued = [self.push("full-room", "k%d" % n) for n in range(LIMIT)]
        for status, _, body in queued:
            self.assertEqual(status, 202, body)
            self.assertTrue(json.loads(body)["queued"])

        status, headers, body = self.push("full-room", "k-over")
        self.assertEqual(status, 503, body)
        self.assertEqual(json.loads(body)["error"]["code"], "outbox_full")
        self.assertIn("retry-after", headers)

        stl = self.write_fixture("cube.stl", harness.binary_stl(harness.cube_triangles()))
        status, headers, body = self.upload(stl, room="full-room")
        self.assertEqual(status, 503, body)
        self.assertEqual(json.loads(body)["error"]["code"], "outbox_full")

        status, _, body = self.curl(self.stack.url + "/healthz")
        self.assertEqual(status, 503, body)
        self.assertTrue(json.loads(body)["outbox"]["full"])
        self.assertIn("event=outbox_full", self.stack.log_tail("app", 200))
        metrics = self.app_metrics()
        self.assertEqual((metrics["roompush_app_outbox_full"],
                          metrics["roompush_app_outbox_pending"]), (1, LIMIT))
        self.assertGreater(metrics["roompush_app_push_retries_total"], 0)

        self.stack.start_sidecar()
        delivered = self.history("full-room", LIMIT)
        self.assertEqual(sorted(m["data"]["key"] for m in delivered),
                         ["k%d" % n for n in range(LIMIT)])  # all accepted, once; not the refused
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, _, body = self.curl(self.stack.url + "/healthz")
            if status == 200:
                break
            time.sleep(0.1)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["outbox"]["pending"], 0)
        metrics = self.app_metrics()
        self.assertEqual(metrics["roompush_app_outbox_full"], 0)
        self.assertGreaterEqual(metrics["roompush_app_pushes_sent_total"], LIMIT)
        # Read before the upload: the job's own events may fill this tiny outbox again for a moment.
        status, _, body = self.upload(stl, room="full-room")
        self.assertEqual(status, 202, body)

    def app_metrics(self):
        status, headers, body = self.curl(self.stack.url + "/metrics/app")
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        return {name: int(value) for name, value in
                (line.split() for line in body.splitlines() if not line.startswith("#"))}

    def test_app_metrics_are_for_the_machine_only(self):
        status, _, _ = self.curl("--interface", "127.0.0.2", self.stack.url + "/metrics/app")
        self.assertEqual(status, 403)


if __name__ == "__main__":
    harness.main()
