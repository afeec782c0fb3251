"""POST /push/ROOM through the real nginx: another backend publishes over HTTP."""

import asyncio
import concurrent.futures
import json

import harness
from harness import RoomClient


class HttpPush(harness.StackTestCase):

    def push(self, path, body, *extra):
        return self.curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                         body, *extra, self.stack.url + path)

    def test_push_reaches_the_room_with_its_seq_once_per_id(self):
        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/http-room") as room:
                await room.next()
                first = self.push("/push/http-room?event=note&id=order-1", '{"x":1}')
                message = await room.next()
                again = self.push("/push/http-room?event=note&id=order-1", '{"x":1}')
                extra = await room.nothing_for(0.5)
                return first, message, again, extra

        first, message, again, extra = self.run_async(scenario())
        status, _, body = first
        self.assertEqual(status, 200, body)
        answer = json.loads(body)
        self.assertEqual(answer["seq"], message["seq"])
        self.assertEqual((message["event"], message["data"]), ("note", {"x": 1}))
        self.assertEqual(json.loads(again[2])["seq"], answer["seq"])
        self.assertEqual(extra, [], "a repeated id is delivered once")

    def test_bad_pushes_get_clear_errors(self):
        big = "@" + self.write_fixture("big.json", ("[" + "1," * 600000 + "1]").encode())
        cases = [
            ("/push/bad%20room", "{}", 400, "invalid_room"),
            ("/push/ok?event=no%20way", "{}", 400, "invalid_event"),
            ("/push/ok", "{not json", 400, "bad_json"),
            ("/push/ok", big, 413, None),
        ]
        for path, body, status, code in cases:
            with self.subTest(path=path, code=code):
                got, _, text = self.push(path, body)
                self.assertEqual(got, status, text)
                if code:
                    self.assertEqual(json.loads(text)["error"]["code"], code)
        got, _, _ = self.curl(self.stack.url + "/push/ok")
        self.assertEqual(got, 405)

    def test_sidecar_away_means_queued_then_delivered(self):
        self.assertEqual(self.stack.stop_process("sidecar"), 0)
        status, _, body = self.push("/push/later?id=k-later", '{"n":1}')
        self.assertEqual(status, 202, body)
        self.assertTrue(json.loads(body)["queued"])
        self.stack.start_sidecar()
        with harness.ControlConnection(self.stack.control_socket) as control:
            for _ in range(100):
                history = control.request({"op": "history", "room": "later"})
                if history.get("ok") and history["messages"]:
                    break
                __import__("time").sleep(0.1)
        self.assertEqual([m["data"] for m in history["messages"]], [{"n": 1}])



class HttpPushSentOnce(harness.StackTestCase):
    """Without retained history the sidecar cannot recognise a second copy of a push: each
    push must reach it once (it was sent twice: directly, and again by the outbox)."""

    SIDECAR_ARGS = ("--history", "0")

    def test_every_push_is_sent_to_the_sidecar_once(self):
        count, threads = 200, 4

        def push_some(first):
            for n in range(first, count, threads):
                status, _, body = self.curl("-X", "POST", "--data-binary", '{"n":%d}' % n,
                                            self.stack.url + "/push/once?event=note&id=n%d" % n)
                self.assertEqual(status, 200, body)

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/once") as room:
                await room.next()
                loop = asyncio.get_running_loop()
                with concurrent.futures.ThreadPoolExecutor(threads) as pool:
                    pushing = [loop.run_in_executor(pool, push_some, first) for first in range(threads)]
                    received = [await room.next() for _ in range(count)]
                    await asyncio.gather(*pushing)
                return received, await room.nothing_for(1.0)

        received, extra = self.run_async(scenario(), timeout=120)
        self.assertEqual(sorted(m["data"]["n"] for m in received), list(range(count)))
        self.assertEqual(extra, [], "a push was delivered twice")
        with harness.ControlConnection(self.stack.control_socket) as control:
            stats = control.request({"op": "stats"})
        self.assertEqual((stats["published"], stats["duplicates"]), (count, 0))

if __name__ == "__main__":
    harness.main()
