"""One bad client never hurts the others: keepalive, slow consumers, hostile input on both
entry points, metrics, and a clean SIGTERM. Real clients, through the real nginx."""

import asyncio
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.request

import harness
from harness import ControlConnection, RoomClient, rss_kib

PING_INTERVAL = 1
PING_TIMEOUT = 1
MAX_QUEUE = 1 << 20


def parse_prometheus(text):
    """name -> value for every sample; raises on a line that is not Prometheus text."""
    samples = {}
    sample = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+]+|NaN|[+-]Inf)$")
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = sample.match(line)
        if match is None:
            raise AssertionError("not Prometheus text: %r" % line)
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


class Limits(harness.StackTestCase):
    SIDECAR_ARGS = ("--ping-interval", str(PING_INTERVAL), "--ping-timeout", str(PING_TIMEOUT),
                    "--max-queue", str(MAX_QUEUE), "--history-bytes", str(2 << 20))

    def control(self):
        return ControlConnection(self.stack.control_socket)

    def members(self, room):
        with self.control() as control:
            detail = control.request({"op": "room", "room": room})
        return len(detail.get("members", []))

    def metrics(self):
        with urllib.request.urlopen(self.stack.url + "/metrics", timeout=5) as response:
            self.assertEqual(response.status, 200)
            self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))
            return parse_prometheus(response.read().decode())

    def test_a_peer_that_stops_answering_pings_is_removed_and_a_live_one_stays(self):
        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/ping") as healthy:
                await healthy.next()
                silent = harness.RawWebSocket(self.stack.port, "/ws/rooms/ping")
                await asyncio.sleep(0.3)
                self.assertEqual(self.members("ping"), 2)
                started = time.monotonic()
                while self.members("ping") == 2 and time.monotonic() - started < 15:
                    await asyncio.sleep(0.1)  # the healthy client answers pings meanwhile
                removed_after = time.monotonic() - started
                still = self.members("ping")
                silent.close()
                return removed_after, still

        removed_after, still = self.run_async(scenario())
        self.assertEqual(still, 1, "the silent peer is gone, the healthy one is not")
        self.assertLess(removed_after, PING_INTERVAL + PING_TIMEOUT + 3)
        self.assertGreaterEqual(self.metrics()["roompush_ping_timeouts_total"], 1)

    def test_slow_consumer_is_closed_with_1013_and_the_fast_one_gets_everything(self):
        payload = "x" * 100_000
        count = 100  # 10 MB in all
        before = rss_kib(self.stack.processes["sidecar"].pid)

        async def drain_slow(slow):
            # The slow client looks again once the sidecar has given up on it, and finds the
            # close code at the end of what was queued for it.
            loop = asyncio.get_running_loop()
            deadline = time.monotonic() + 60
            while (await loop.run_in_executor(None, self.metrics))[
                    "roompush_slow_consumer_closes_total"] < 1:
                self.assertLess(time.monotonic(), deadline, "the slow client was never dropped")
                await asyncio.sleep(0.05)
            try:
                while True:
                    await asyncio.wait_for(slow.recv(), 10)
            except harness.websockets.ConnectionClosed as closed:
                return closed.code

        async def scenario():
            slow_socket = socket.create_connection(("127.0.0.1", self.stack.port))
            slow = await harness.websockets.connect(self.stack.ws_url + "/ws/rooms/flood",
                                                    sock=slow_socket, max_queue=1,
                                                    read_limit=16384, max_size=None)
            async with RoomClient(self.stack.ws_url + "/ws/rooms/flood") as fast:
                fast.socket.max_size = None
                await fast.next()
                slow_closed = asyncio.create_task(drain_slow(slow))
                received = []
                window = threading.Semaphore(8)  # the publisher stays at most 8 ahead of `fast`

                def publish_all():
                    with self.control() as control:
                        for n in range(count):
                            window.acquire()
                            control.publish("flood", {"n": n, "pad": payload})

                publisher = threading.Thread(target=publish_all)
                publisher.start()
                while len(received) < count:
                    message = await fast.next(timeout=30)
                    if message["type"] == "message":
                        received.append(message["data"]["n"])
                        window.release()
                publisher.join()
                code = await slow_closed
            return received, code

        received, code = self.run_async(scenario(), timeout=120)
        self.assertEqual(received, list(range(count)), "the fast client missed nothing")
        self.assertEqual(code, 1013)
        self.assertGreaterEqual(self.metrics()["roompush_slow_consumer_closes_total"], 1)
        growth_mib = (rss_kib(self.stack.processes["sidecar"].pid) - before) / 1024
        if not self.stack.sanitized_build():  # ASan's quarantine keeps freed memory on purpose
            # Bounded by: 2 MiB of history + 1 MiB per member queue + socket buffers, frames
            # shared between members. 10 MB went through; far less may stay.
            self.assertLess(growth_mib, 24, "RSS grew by %.1f MiB" % growth_mib)

    def test_hostile_websocket_input_closes_only_that_connection(self):
        cases = [
            ("oversized frame", lambda ws: ws.send("x" * 5000), "frame_too_big", 1009),
            ("binary frame", lambda ws: ws.send(b"\x00\x01"), "binary_frame", 1003),
            ("invalid JSON", lambda ws: ws.send("{nope"), "bad_json", 1008),
            ("unknown op", lambda ws: ws.send('{"op":"explode","room":"a"}'), "unknown_op", 1008),
            ("invalid room", lambda ws: ws.send('{"op":"subscribe","room":"a/b"}'),
             "invalid_room", 1008),
            ("wrong type", lambda ws: ws.send('{"op":"subscribe","room":"a","since":"x"}'),
             "wrong_type", 1008),
            ("invalid room in the path", None, "invalid_room", 1008),
        ]

        async def hostile(name, act, code, close_code):
            path = "/ws/rooms/bad*room" if act is None else "/ws"
            async with harness.websockets.connect(self.stack.ws_url + path) as ws:
                if act is not None:
                    await act(ws)
                frames = []
                try:
                    while True:
                        frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
                except asyncio.TimeoutError:
                    self.fail("%s: the connection was not closed (got %s)" % (name, frames))
                except harness.websockets.ConnectionClosed as closed:
                    self.assertEqual(frames, [frames[-1]] if frames else [None], name)
                    self.assertEqual(frames[-1]["type"], "error", name)
                    self.assertEqual(frames[-1]["code"], code, name)
                    self.assertEqual(closed.code, close_code, name)

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/calm") as calm:
                await calm.next()
                with self.control() as control:
                    for n, (name, act, code, close_code) in enumerate(cases):
                        await asyncio.wait_for(hostile(name, act, code, close_code), 15)
                        control.publish("calm", {"n": n})
                seen = [(await calm.next())["data"]["n"] for _ in cases]
            return seen

        seen = self.run_async(scenario(), timeout=120)
        self.assertEqual(seen, list(range(len(cases))), "the calm client kept receiving")

    def test_a_thousand_subscribes_get_the_room_limit_and_keep_their_rooms(self):
        async def scenario():
            async with harness.websockets.connect(self.stack.ws_url + "/ws") as ws:
                for n in range(1000):
                    await ws.send(json.dumps({"op": "subscribe", "room": "many-%d" % n}))
                frames = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(1000)]
                with self.control() as control:
                    delivered = control.publish("many-0", {"still": "here"})["delivered"]
                    refused = control.publish("many-999", {"x": 1})["delivered"]
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                return frames, delivered, refused, message

        frames, delivered, refused, message = self.run_async(scenario())
        subscribed = [f for f in frames if f["type"] == "subscribed"]
        errors = [f for f in frames if f["type"] == "error"]
        self.assertEqual(len(subscribed), 64)
        self.assertEqual(len(errors), 936)
        self.assertEqual({e["code"] for e in errors}, {"too_many_rooms"})
        self.assertEqual((delivered, refused), (1, 0))
        self.assertEqual(message["data"], {"still": "here"})

    def test_hostile_control_lines_get_errors_and_the_connection_stays_usable(self):
        cases = [
            (b"this is not json\n", "bad_json"),
            (b"x" * (1 << 20) + b"yy\n", "line_too_long"),
            (b'{"op":"publish","room":"A","event":"e"}\n', "missing_field"),
            (b'{"op":"publish","room":5,"event":"e","data":1}\n', "wrong_type"),
            (b'{"op":"publish","room":"A","event":"e","data":1,"id":{}}\n', "wrong_type"),
            (b'{"op":"rooms"}\x00\n', "bad_json"),
            (b'{"op":"pub\x00lish"}\n', "bad_json"),
            (b'["op","rooms"]\n', "bad_request"),
            (b'{"op":"history","room":"A","limit":-3}\n', "wrong_type"),
        ]

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/steady") as steady:
                await steady.next()
                with self.control() as control, self.control() as other:
                    codes = []
                    for n, (line, _) in enumerate(cases):
                        control.send_raw(line)
                        reply = control.line()
                        self.assertFalse(reply["ok"])
                        self.assertTrue(reply["error"]["message"])
                        codes.append(reply["error"]["code"])
                        other.publish("steady", {"n": n})
                    still_usable = control.publish("steady", {"n": len(cases)})
                seen = [(await steady.next())["data"]["n"] for _ in range(len(cases) + 1)]
            return codes, still_usable, seen

        codes, still_usable, seen = self.run_async(scenario())
        self.assertEqual(codes, [code for _, code in cases])
        self.assertTrue(still_usable["ok"])
        self.assertEqual(seen, list(range(len(cases) + 1)))

    def test_metrics_parse_and_move_with_publishes(self):
        before = self.metrics()
        for name in ("roompush_connections", "roompush_rooms", "roompush_members",
                     "roompush_bytes_queued", "roompush_messages_published_total",
                     "roompush_messages_delivered_total", "roompush_messages_dropped_total",
                     "roompush_slow_consumer_closes_total", "roompush_ping_timeouts_total",
                     "roompush_control_requests_total", "roompush_control_errors_total"):
            self.assertIn(name, before)

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/metered") as client:
                await client.next()
                during = self.metrics()
                with self.control() as control:
                    for n in range(3):
                        control.publish("metered", {"n": n})
                    control.request({"op": "nope"})
                for _ in range(3):
                    await client.next()
                return during

        during = self.run_async(scenario())
        after = self.metrics()
        self.assertGreaterEqual(during["roompush_connections"], 1)
        self.assertEqual(after["roompush_messages_published_total"]
                         - before["roompush_messages_published_total"], 3)
        self.assertGreaterEqual(after["roompush_messages_delivered_total"]
                                - before["roompush_messages_delivered_total"], 3)
        self.assertGreaterEqual(after["roompush_control_errors_total"]
                                - before["roompush_control_errors_total"], 1)


class Shutdown(harness.StackTestCase):

    def test_sigterm_closes_every_client_with_1001_and_exits_0(self):
        async def scenario():
            clients = [RoomClient(self.stack.ws_url + "/ws/rooms/bye-%d" % (n % 2)) for n in range(3)]
            for client in clients:
                await client.__aenter__()
                await client.next()
            sidecar = self.stack.processes["sidecar"]
            sidecar.send_signal(signal.SIGTERM)
            codes = []
            for client in clients:
                try:
                    await client.next(timeout=10)
                except harness.websockets.ConnectionClosed as closed:
                    codes.append(closed.code)
            exit_code = await asyncio.get_running_loop().run_in_executor(None, sidecar.wait, 10)
            return codes, exit_code

        codes, exit_code = self.run_async(scenario())
        self.assertEqual(codes, [1001, 1001, 1001])
        self.assertEqual(exit_code, 0)
        self.assertFalse(os.path.exists(self.stack.control_socket))
        self.stack.start_sidecar()  # so that the class teardown finds a sidecar to stop




class QueueLimit(harness.StackTestCase):
    """The default 30 s ping interval: a close that waited for the keepalive would show."""
    SIDECAR_ARGS = ("--max-queue", "4096")

    def test_a_publish_larger_than_a_member_queue_closes_it_with_1013_at_once(self):
        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/big") as client:
                await client.next()
                with ControlConnection(self.stack.control_socket) as control:
                    ack = control.publish("big", {"pad": "x" * 6000})
                started = time.monotonic()
                try:
                    while True:
                        await asyncio.wait_for(client.socket.recv(), 5)
                except harness.websockets.ConnectionClosed as closed:
                    return ack, closed.code, time.monotonic() - started

        ack, code, waited = self.run_async(scenario(), timeout=30)
        self.assertTrue(ack["ok"])
        self.assertEqual(code, 1013)
        self.assertLess(waited, 5)


if __name__ == "__main__":
    harness.main()
