"""The sidecar's rooms with real clients through the real nginx: resume, idempotency, history,
tail and the inspection ops."""

import asyncio
import json

import harness
from harness import ControlConnection, RoomClient


class Rooms(harness.StackTestCase):

    def control(self):
        return ControlConnection(self.stack.control_socket)

    def test_reconnect_with_since_and_epoch_gets_exactly_what_was_missed(self):
        async def scenario():
            with self.control() as control:
                async with RoomClient(self.stack.ws_url + "/ws/rooms/resume") as client:
                    subscribed = await client.next()
                    control.publish("resume", {"n": 0})
                    last = await client.next()
                missed = [control.publish("resume", {"n": n})["seq"] for n in range(1, 6)]
                url = "%s/ws/rooms/resume?since=%d&epoch=%s" % (
                    self.stack.ws_url, last["seq"], last["epoch"])
                async with RoomClient(url) as client:
                    again = await client.next()
                    replay = [await client.next() for _ in missed]
                    control.publish("resume", {"n": 6})
                    live = await client.next()
                return subscribed, last, missed, again, replay, live

        subscribed, last, missed, again, replay, live = self.run_async(scenario())
        self.assertEqual(subscribed["type"], "subscribed")
        self.assertEqual(last["epoch"], subscribed["epoch"])
        self.assertEqual(again["type"], "subscribed")
        self.assertEqual(again["seq"], missed[-1])
        self.assertEqual([m["type"] for m in replay], ["message"] * 5)
        self.assertEqual([m["seq"] for m in replay], missed)
        self.assertEqual([m["data"]["n"] for m in replay], [1, 2, 3, 4, 5])
        self.assertEqual(live["data"]["n"], 6)
        self.assertEqual(live["seq"], missed[-1] + 1)

    def test_data_arrives_exactly_as_the_publisher_wrote_it(self):
        """Live, in history and in a replay: a big integer keeps its digits, and exponents,
        escapes and spacing stay as sent (the sidecar no longer re-prints data)."""
        data = '{"n":12345678901234567890, "s":"a\\u00e9" ,"f":1.0e2,"x":[ {} ]}'
        line = '{"op":"publish","room":"verbatim","event":"note","data":  %s  }\n' % data

        async def scenario():
            with self.control() as control:
                async with RoomClient(self.stack.ws_url + "/ws/rooms/verbatim") as client:
                    subscribed = await client.next()
                    control.send_raw(line.encode())
                    ack = control.line()
                    live = await client.next_text()
                history = control.request_text({"op": "history", "room": "verbatim"})
            url = "%s/ws/rooms/verbatim?since=0&epoch=%s" % (self.stack.ws_url,
                                                              subscribed["epoch"])
            async with RoomClient(url) as client:
                await client.next()
                replay = await client.next_text()
            return ack, live, history, replay

        ack, live, history, replay = self.run_async(scenario())
        self.assertEqual(ack, {"ok": True, "seq": 1, "delivered": 1})
        for text in (live, history, replay):
            self.assertIn('"data":' + data + ',"ts":', text)
        self.assertEqual(json.loads(live)["data"]["n"], 12345678901234567890)
        self.assertEqual(json.loads(live)["data"]["s"], "a\u00e9")

    def test_stale_epoch_and_too_old_since_get_reset_and_what_is_retained(self):
        with self.control() as control:
            for n in range(3):
                control.publish("stale", {"n": n})

        async def scenario():
            url = self.stack.ws_url + "/ws/rooms/stale?since=1&epoch=0000000000000000"
            async with RoomClient(url) as client:
                return [await client.next() for _ in range(5)]

        frames = self.run_async(scenario())
        self.assertEqual([f["type"] for f in frames],
                         ["subscribed", "reset", "message", "message", "message"])
        self.assertEqual(frames[1]["epoch"], frames[0]["epoch"])
        self.assertEqual([f["seq"] for f in frames[2:]], [1, 2, 3])

    def test_repeated_id_is_delivered_once(self):
        async def scenario():
            with self.control() as control:
                async with RoomClient(self.stack.ws_url + "/ws/rooms/idem") as client:
                    await client.next()
                    first = control.publish("idem", {"v": 1}, id="job-1:done")
                    second = control.publish("idem", {"v": 1}, id="job-1:done")
                    got = await client.next()
                    extra = await client.nothing_for(0.5)
                    return first, second, got, extra

        first, second, got, extra = self.run_async(scenario())
        self.assertEqual(first, {"ok": True, "seq": 1, "delivered": 1})
        self.assertEqual(second, {"ok": True, "seq": 1, "delivered": 0, "duplicate": True})
        self.assertEqual(got["seq"], 1)
        self.assertEqual(extra, [])

    def test_a_large_room_gets_a_burst_and_spaced_publishes_complete_and_in_order(self):
        # Over 32 members: a burst waits a turn of the loop (later publishes join the same
        # writes; on poll that is the writeable pass), spaced publishes are written at once;
        # both must deliver everything, the end of the burst without any later event.
        members, burst, spaced = 40, 60, 3

        async def scenario():
            url = self.stack.ws_url + "/ws/rooms/crowd"
            clients = [RoomClient(url) for _ in range(members)]
            for client in clients:
                await client.__aenter__()
                await client.next()
            try:
                with self.control() as control:
                    lines = b"".join(
                        json.dumps({"op": "publish", "room": "crowd", "event": "note",
                                    "data": {"n": n}}).encode() + b"\n" for n in range(burst))
                    control.send_raw(lines)
                    acks = [control.line() for _ in range(burst)]
                    for n in range(burst, burst + spaced):
                        await asyncio.sleep(0.1)
                        acks.append(control.publish("crowd", {"n": n}))
                got = [[(await client.next())["data"]["n"] for _ in range(burst + spaced)]
                       for client in clients]
                extra = await clients[0].nothing_for(0.3)
            finally:
                for client in clients:
                    await client.__aexit__(None, None, None)
            return acks, got, extra

        acks, got, extra = self.run_async(scenario(), timeout=60)
        self.assertEqual([a["delivered"] for a in acks], [members] * (burst + spaced))
        self.assertEqual([a["seq"] for a in acks], list(range(1, burst + spaced + 1)))
        for received in got:
            self.assertEqual(received, list(range(burst + spaced)))
        self.assertEqual(extra, [])

    def test_history_returns_what_was_published(self):
        with self.control() as control:
            for n in range(4):
                control.publish("hist", {"n": n}, event="e%d" % n)
            everything = control.request({"op": "history", "room": "hist"})
            some = control.request({"op": "history", "room": "hist", "since": 1, "limit": 2})
            unknown = control.request({"op": "history", "room": "never-used"})
        self.assertTrue(everything["ok"])
        self.assertEqual([m["data"]["n"] for m in everything["messages"]], [0, 1, 2, 3])
        self.assertEqual([m["event"] for m in everything["messages"]], ["e0", "e1", "e2", "e3"])
        self.assertEqual(everything["seq"], 4)
        self.assertEqual([m["seq"] for m in some["messages"]], [2, 3])
        self.assertEqual(unknown["error"]["code"], "not_found")

    def test_tail_replays_since_and_streams_live_messages(self):
        with self.control() as control, self.control() as tail:
            control.publish("tailed", {"n": 1})
            control.publish("tailed", {"n": 2})
            self.assertEqual(tail.request({"op": "tail", "rooms": ["tailed", "other"],
                                           "since": 1}), {"ok": True})
            first_lines = [tail.line() for _ in range(3)]
            control.publish("tailed", {"n": 3})
            control.publish("other", {"n": 4})
            live = [tail.line(), tail.line()]
        types = sorted(line["type"] for line in first_lines)
        self.assertEqual(types, ["message", "subscribed", "subscribed"])
        replayed = [line for line in first_lines if line["type"] == "message"]
        self.assertEqual(replayed[0]["data"], {"n": 2})
        self.assertEqual([(m["room"], m["data"]["n"]) for m in live], [("tailed", 3), ("other", 4)])

    def test_room_stats_and_kick(self):
        async def scenario():
            with self.control() as control:
                async with RoomClient(self.stack.ws_url + "/ws/rooms/ops") as client:
                    await client.next()
                    detail = control.request({"op": "room", "room": "ops"})
                    stats = control.request({"op": "stats"})
                    member = detail["members"][0]["id"]
                    kicked = control.request({"op": "kick", "room": "ops", "member": member})
                    missing = control.request({"op": "kick", "room": "ops", "member": 999999})
                    error = await client.next()
                    try:
                        await client.next()
                        code = None
                    except harness.websockets.ConnectionClosed as closed:
                        code = closed.code
                    return detail, stats, kicked, missing, error, code

        detail, stats, kicked, missing, error, code = self.run_async(scenario())
        self.assertTrue(detail["ok"])
        self.assertEqual(detail["room"], "ops")
        self.assertEqual(len(detail["members"]), 1)
        self.assertEqual(detail["members"][0]["peer"], "127.0.0.1")
        self.assertIn("queued_bytes", detail["members"][0])
        self.assertTrue(stats["ok"])
        self.assertGreaterEqual(stats["connections"], 1)
        self.assertGreaterEqual(stats["control_requests"], 2)
        self.assertEqual(kicked, {"ok": True})
        self.assertEqual(missing["error"]["code"], "not_found")
        self.assertEqual(error["code"], "kicked")
        self.assertEqual(code, 1008)


class Restart(harness.StackTestCase):

    def test_after_a_sidecar_restart_a_resuming_client_gets_reset(self):
        async def before():
            with ControlConnection(self.stack.control_socket) as control:
                async with RoomClient(self.stack.ws_url + "/ws/rooms/r1") as client:
                    await client.next()
                    control.publish("r1", {"n": 1})
                    return await client.next()

        last = self.run_async(before())
        self.assertEqual(self.stack.stop_process("sidecar"), 0)
        self.stack.start_sidecar()
        with ControlConnection(self.stack.control_socket) as control:
            control.publish("r1", {"n": 2})

        async def after():
            url = "%s/ws/rooms/r1?since=%d&epoch=%s" % (self.stack.ws_url, last["seq"], last["epoch"])
            async with RoomClient(url) as client:
                return [await client.next() for _ in range(3)]

        frames = self.run_async(after())
        self.assertEqual([f["type"] for f in frames], ["subscribed", "reset", "message"])
        self.assertNotEqual(frames[0]["epoch"], last["epoch"])
        self.assertEqual(frames[2]["data"], {"n": 2})


if __name__ == "__main__":
    harness.main()
