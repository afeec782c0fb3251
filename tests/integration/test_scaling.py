"""Scale-out on Redis (docs/scaling.md): two sidecars behind one nginx upstream share their rooms
through a real redis-server on loopback that the stack starts. Every test restarts whatever it
stopped, so the class shares one stack."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import harness
import websockets
from harness import ControlConnection, RoomClient, devstack

A, B = 0, 1


class NodeClient(RoomClient):
    """A room client connected straight to one sidecar's WebSocket socket (not through nginx),
    so a test knows which node serves it."""

    def __init__(self, path, target):
        super().__init__("ws://localhost" + target)
        self.path = path

    async def __aenter__(self):
        self.socket = await websockets.unix_connect(self.path, self.url)
        return self


def room_path(room, since=None, epoch=None):
    query = []
    if since is not None:
        query.append("since=%d" % since)
    if epoch is not None:
        query.append("epoch=" + epoch)
    return "/ws/rooms/" + room + ("?" + "&".join(query) if query else "")


class ClusterTestCase(harness.StackTestCase):
    """Helpers for a stack of several sidecars on Redis (no tests of its own)."""
    NODES = 2

    def on(self, node, room, since=None, epoch=None):
        return NodeClient(self.stack.node_ws_socket(node), room_path(room, since, epoch))

    def control(self, node):
        return ControlConnection(self.stack.node_control_socket(node))

    def publish_many(self, node, room, values, prefix="m"):
        with self.control(node) as control:
            for value in values:
                answer = control.publish(room, {"n": value}, id="%s-%d" % (prefix, value))
                self.assertTrue(answer["ok"], answer)

    def redis_cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.stack.redis_port)] + list(args),
                              capture_output=True, text=True, timeout=10).stdout.strip()

    def stats(self, node):
        with self.control(node) as control:
            return control.request({"op": "stats"})

    def node_pushctl(self, node, *args, stdin=None, timeout=60):
        return subprocess.run([self.stack.layout.pushctl, "--socket",
                               self.stack.node_control_socket(node)] + list(args),
                              capture_output=True, text=True, input=stdin, timeout=timeout)

    def publish_lines(self, node, lines):
        """pushctl publish --lines (pipelined) through one node; returns its JSON summary."""
        result = self.node_pushctl(node, "--json", "publish", "--lines", "--event", "note",
                                   stdin="".join(lines), timeout=120)
        self.assertIn(result.returncode, (0, 1), result.stderr)
        return json.loads(result.stdout)

    def wait_for(self, predicate, timeout=15, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        self.fail("timed out waiting for " + what + "\n" + self.all_logs())

    def all_logs(self):
        names = [self.stack.node_name(node) for node in range(self.stack.nodes)] + ["app"]
        names += ["redis"] if self.stack.redis_port is not None else []
        return "\n".join("--- %s ---\n%s" % (name, self.stack.log_tail(name, 20))
                         for name in names)

    def broker_up(self, node):
        with self.control(node) as control:
            return control.request({"op": "stats"}).get("broker_up") == 1

    async def messages(self, client, count, timeout=30):
        got = []
        while len(got) < count:
            message = await client.next(timeout)
            if message["type"] == "message":
                got.append(message)
        return got

    def assert_consecutive(self, messages, first):
        self.assertEqual([m["seq"] for m in messages], list(range(first, first + len(messages))))


class Scaling(ClusterTestCase):

    # -- the scenarios ---------------------------------------------------------------------
    def test_a_client_on_one_node_gets_what_another_node_publishes_in_order(self):
        async def scenario():
            async with self.on(A, "cross") as client:
                subscribed = await client.next()
                self.publish_many(B, "cross", range(20))
                with self.control(B) as control:  # pipelined: one batch on the control socket
                    control.send_raw(b"".join(json.dumps(
                        {"op": "publish", "room": "cross", "event": "note", "data": {"n": n}}
                    ).encode() + b"\n" for n in range(20, 30)))
                    acks = [control.line() for _ in range(10)]
                return subscribed, acks, await self.messages(client, 30)

        subscribed, acks, got = self.run_async(scenario())
        self.assertEqual(subscribed["type"], "subscribed")
        self.assertTrue(all(ack["ok"] for ack in acks), acks)
        self.assert_consecutive(got, subscribed["seq"] + 1)
        self.assertEqual([m["data"]["n"] for m in got], list(range(30)))
        self.assertEqual([ack["seq"] for ack in acks], [m["seq"] for m in got[20:]])
        self.assertEqual({m["epoch"] for m in got}, {subscribed["epoch"]})

    def test_data_crosses_redis_as_the_publisher_wrote_it(self):
        data = '{"n":12345678901234567890, "s":"a\\u00e9","f":1.0e2}'
        line = '{"op":"publish","room":"verbatim","event":"note","data": %s}\n' % data

        async def scenario():
            async with self.on(A, "verbatim") as client:
                await client.next()
                with self.control(B) as control:
                    control.send_raw(line.encode())
                    ack = control.line()
                return ack, await client.next_text()

        ack, live = self.run_async(scenario())
        self.assertTrue(ack["ok"], ack)
        with self.control(A) as control:
            history = control.request_text({"op": "history", "room": "verbatim"})
        for text in (live, history):
            self.assertIn('"data":' + data + ',"ts":', text)

    def test_a_killed_node_s_client_resumes_on_the_other_through_nginx(self):
        async def before():
            async with self.on(A, "failover") as client:
                await client.next()
                self.publish_many(B, "failover", range(5))
                return await self.messages(client, 5)

        seen = self.run_async(before())
        self.stack.kill_process("sidecar")  # SIGKILL: no goodbye
        try:
            self.publish_many(B, "failover", range(5, 10))

            async def after():
                last = seen[-1]
                url = self.stack.ws_url + room_path("failover", last["seq"], last["epoch"])
                async with RoomClient(url) as client:  # nginx: node A refuses, B answers
                    first = await client.next()
                    got = await self.messages(client, 5)
                    return first, got, await client.nothing_for(0.5)

            first, got, extra = self.run_async(after())
        finally:
            self.stack.start_sidecar(node=A)
        self.assertEqual(first["type"], "subscribed", first)
        self.assertEqual(first["epoch"], seen[-1]["epoch"])
        self.assert_consecutive(seen + got, seen[0]["seq"])
        self.assertEqual([m["data"]["n"] for m in got], list(range(5, 10)))
        self.assertEqual(extra, [], "no duplicates, no reset")

    def test_history_and_epochs_survive_a_restart_of_every_sidecar(self):
        self.publish_many(A, "survive", range(5))
        with self.control(B) as control:
            before = control.request({"op": "history", "room": "survive"})
        self.assertTrue(before["ok"], before)
        self.assertEqual(len(before["messages"]), 5)
        for node in (A, B):
            self.assertEqual(self.stack.stop_process(self.stack.node_name(node)), 0)
        for node in (A, B):
            self.stack.start_sidecar(node=node)

        async def resume():
            url = self.stack.ws_url + room_path("survive", before["seq"] - 2, before["epoch"])
            async with RoomClient(url) as client:
                first = await client.next()
                got = await self.messages(client, 2)
                return first, got, await client.nothing_for(0.3)

        first, got, extra = self.run_async(resume())
        self.assertEqual((first["type"], first["epoch"], first["seq"]),
                         ("subscribed", before["epoch"], before["seq"]))
        self.assertEqual([m["seq"] for m in got], [before["seq"] - 1, before["seq"]])
        self.assertEqual(extra, [], "no reset")
        with self.control(A) as control:
            after = control.request({"op": "history", "room": "survive"})
        self.assertEqual(after["messages"], before["messages"])

    def test_redis_away_means_clean_errors_then_every_push_exactly_once(self):
        count = 12

        async def scenario():
            async with self.on(B, "outage") as client:
                subscribed = await client.next()
                self.assertEqual(self.stack.stop_process("redis"), 0)
                self.wait_for(lambda: not self.broker_up(A), what="node A to see Redis gone")
                with self.control(A) as control:
                    refused = control.publish("outage", {"direct": True})
                with urllib.request.urlopen(self.stack.url + "/metrics", timeout=5) as response:
                    metrics = response.read().decode()
                for n in range(count):  # through nginx and the app's outbox
                    status, _, body = self.curl(
                        "-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                        json.dumps({"n": n}), self.stack.url + "/push/outage?event=note&id=o-%d" % n)
                    self.assertEqual(status, 202, body)
                    self.assertTrue(json.loads(body)["queued"])
                time.sleep(1)
                self.stack.start_redis()
                got = await self.messages(client, count, timeout=40)
                return subscribed, refused, metrics, got, await client.nothing_for(1.0)

        subscribed, refused, metrics, got, extra = self.run_async(scenario(), timeout=90)
        self.assertFalse(refused["ok"])
        self.assertEqual(refused["error"]["code"], "unavailable")
        self.assertIn("Redis", refused["error"]["message"])
        self.assertIn("roompush_broker_up 0", metrics)
        self.assert_consecutive(got, subscribed["seq"] + 1)
        self.assertEqual(sorted(m["data"]["n"] for m in got), list(range(count)))
        self.assertEqual(extra, [], "each push exactly once")
        self.assertIn("broker_down", self.stack.log_tail("sidecar", 400))
        self.wait_for(lambda: self.broker_up(A) and self.broker_up(B), what="both nodes back")

    def test_a_frozen_redis_defers_pushes_and_every_deadline_agrees(self):
        # The app waits longer for an answer than the sidecar takes to give one (5 s, even with
        # Redis frozen): it hears `unavailable` and defers the push, rather than giving up on a
        # connection that works (sidecar_connection_lost) and sending it again.
        redis = self.stack.processes["redis"]
        app_log_before = len(self.stack.log_tail("app", 100000))

        async def scenario():
            async with self.on(B, "frozen") as client:
                subscribed = await client.next()
                os.kill(redis.pid, signal.SIGSTOP)
                try:
                    status, _, body = self.curl("-X", "POST", "--data-binary", '{"n":1}',
                                                self.stack.url + "/push/frozen?event=note&id=f-1")
                    refused = self.pushctl("publish", "frozen", "--event", "note", "--data", '{"n":2}',
                                           "--id", "f-2")
                    time.sleep(3)
                finally:
                    os.kill(redis.pid, signal.SIGCONT)
                self.wait_for(lambda: self.broker_up(B), what="node B back on Redis")
                # As the error says: again, with the same id (Redis may have run the first one).
                again = self.pushctl("publish", "frozen", "--event", "note", "--data", '{"n":2}',
                                     "--id", "f-2")
                self.assertEqual(again.returncode, 0, again.stderr)
                got = await self.messages(client, 2, timeout=40)
                return subscribed, status, body, refused, got, await client.nothing_for(1.0)

        subscribed, status, body, refused, got, extra = self.run_async(scenario(), timeout=90)
        self.assertEqual(status, 202, body)
        self.assertEqual(refused.returncode, 1, refused.stderr)
        # Either the publish waited for Redis, or the node had already found Redis gone (its
        # heartbeat timed out first): both say what happened, in words.
        self.assertRegex(refused.stderr, "Redis did not answer within|is unreachable")
        self.assertNotIn("Resource temporarily unavailable", refused.stderr)
        self.assertEqual(sorted(m["data"]["n"] for m in got), [1, 2])
        self.assertEqual(extra, [], "each push arrives once")
        app_log = self.stack.log_tail("app", 100000)[app_log_before:]
        self.assertIn("event=push_deferred", app_log)
        self.assertNotIn("sidecar_connection_lost", app_log)
        self.wait_for(lambda: self.broker_up(A) and self.broker_up(B), what="both nodes back")

    def test_publishes_in_redis_do_not_stop_a_connection_and_keep_its_answers_in_order(self):
        # With Redis frozen, publishes sent in separate reads are all taken (the connection
        # reads on); a `stats` after them is answered only after theirs, and every answer comes
        # in request order once Redis runs them (docs/protocol.md).
        redis = self.stack.processes["redis"]
        with self.control(A) as control:
            os.kill(redis.pid, signal.SIGSTOP)
            try:
                for n in range(3):
                    control.send_raw(json.dumps({"op": "publish", "room": "owed", "event": "note",
                                                 "data": {"n": n}, "id": "owed-%d" % n}).encode()
                                     + b"\n")
                    time.sleep(0.2)
                control.send_raw(b'{"op":"stats"}\n')
                time.sleep(0.5)
            finally:
                os.kill(redis.pid, signal.SIGCONT)
            answers = [control.line() for _ in range(4)]
        self.assertTrue(all(answer["ok"] for answer in answers), answers)
        seqs = [answer.get("seq") for answer in answers[:3]]
        self.assertEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2], answers)
        self.assertIn("uptime_s", answers[3], "stats is answered after the publishes before it")
        self.wait_for(lambda: self.broker_up(A) and self.broker_up(B), what="both nodes up")

    def test_a_thousand_concurrent_publishes_arrive_everywhere_consecutively(self):
        total, writers = 1000, 4

        async def scenario():
            async with self.on(A, "burst") as on_a, self.on(B, "burst") as on_b, \
                    RoomClient(self.stack.ws_url + "/ws/rooms/burst") as via_nginx:
                heads = [(await c.next())["seq"] for c in (on_a, on_b, via_nginx)]
                threads = [threading.Thread(target=self.publish_many, args=(
                    w % 2, "burst", range(w, total, writers), "b")) for w in range(writers)]
                for thread in threads:
                    thread.start()
                results = [await self.messages(c, total, timeout=60)
                           for c in (on_a, on_b, via_nginx)]
                for thread in threads:
                    thread.join(60)
                return heads, results

        heads, results = self.run_async(scenario(), timeout=120)
        for head, got in zip(heads, results):
            self.assert_consecutive(got, head + 1)
            self.assertEqual(sorted(m["data"]["n"] for m in got), list(range(total)))

    def test_the_cluster_view_shows_every_node_s_members(self):
        def both_nodes_seen(control):
            rooms = control.request({"op": "rooms", "cluster": True})
            entry = [r for r in rooms.get("rooms", []) if r["room"] == "seen"]
            return rooms if entry and entry[0]["members"] == 2 else None

        async def scenario():
            async with self.on(A, "seen") as a, self.on(B, "seen") as b:
                await a.next()
                await b.next()
                with self.control(A) as control:  # each node reports every 2 s
                    self.wait_for(lambda: both_nodes_seen(control), timeout=10,
                                  what="both nodes' reports")
                    return (both_nodes_seen(control),
                            control.request({"op": "room", "room": "seen", "cluster": True}))

        rooms, room = self.run_async(scenario())
        self.assertTrue(rooms["cluster"], rooms)
        entry = [r for r in rooms["rooms"] if r["room"] == "seen"]
        self.assertEqual((entry[0]["members"], entry[0]["nodes"]), (2, 2), rooms)
        self.assertEqual(sorted(m["node"] for m in room["members"]), ["node0", "node1"])
        result = subprocess.run([os.path.join(harness.BUILD_DIR, "cli/pushctl"), "--socket",
                                 self.stack.control_socket, "rooms", "--cluster"],
                                capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("seen", result.stdout)

    def test_hostile_answers_from_redis_are_refused_not_trusted(self):
        self.redis_cli("SET", "rp:{wrongtype}", "not a hash")
        with self.control(A) as control:
            answer = control.publish("wrongtype", {"x": 1})
            self.assertFalse(answer["ok"])
            self.assertEqual(answer["error"]["code"], "broker_error")
            self.assertIn("WRONGTYPE", answer["error"]["message"])
            # Pipelined, the three go to Redis in one script call: the bad room's error is its
            # own, the publishes around it happen.
            control.send_raw("".join(json.dumps({"op": "publish", "room": room, "event": "e",
                                                 "data": {"n": n}}) + "\n"
                                     for n, room in enumerate(["fine", "wrongtype", "fine"]))
                             .encode())
            answers = [control.line() for _ in range(3)]
            self.assertEqual([a["ok"] for a in answers], [True, False, True], answers)
            self.assertEqual(answers[1]["error"]["code"], "broker_error")
            self.assertEqual(answers[2]["seq"], answers[0]["seq"] + 1)

        async def join_wrongtype():
            async with self.on(A, "wrongtype") as client:
                return await client.next()

        refusal = self.run_async(join_wrongtype())
        self.assertEqual((refusal["type"], refusal["code"], refusal["room"]),
                         ("error", "room_unavailable", "wrongtype"))
        # Garbage on the channel of a room that node A has a member in (so A listens to it).
        async def garbage_on_the_channel():
            async with self.on(A, "r") as client:
                await client.next()
                with self.control(A) as control:
                    self.redis_cli("SPUBLISH", "rp:{r}:ch", "garbage")
                    self.redis_cli("SPUBLISH", "rp:{r}:ch",
                                   "1\nr\n0123456789abcdef\n1\n0\nbad event\n{}")
                    self.wait_for(
                        lambda: control.request({"op": "stats"})["broker_bad_messages"] >= 2,
                        what="bad messages counted")
                    self.assertTrue(control.request({"op": "stats"})["ok"])
                    return control.request({"op": "stats"})["broker_bad_messages"]

        bad_before = self.run_async(garbage_on_the_channel())

        # A stream entry that no sidecar wrote is left out; the room still works.
        epoch = "0123456789abcdef"
        self.redis_cli("HSET", "rp:{corrupt}", "epoch", epoch, "seq", "2")
        self.redis_cli("XADD", "rp:{corrupt}:log", "1-0", "x", "y")
        self.redis_cli("XADD", "rp:{corrupt}:log", "2-0", "e", "note", "d", '{"n":2}', "t", "5")

        async def join():
            async with self.on(A, "corrupt", since=0, epoch=epoch) as client:
                return [await client.next() for _ in range(3)]

        frames = self.run_async(join())
        self.assertEqual([f["type"] for f in frames], ["subscribed", "reset", "message"])
        self.assertEqual((frames[2]["seq"], frames[2]["data"]), (2, {"n": 2}))
        with self.control(A) as control:
            self.assertGreater(control.request({"op": "stats"})["broker_bad_messages"], bad_before)


class KeyLifetimes(ClusterTestCase):
    """Every key a publish leaves in Redis expires, though the node asks the script to set or
    renew a TTL only when it has not yet on this connection (docs/scaling.md, "Keys")."""
    SIDECAR_ARGS = ("--broker-room-ttl", "60", "--broker-dedupe-ttl", "300")

    def ttl(self, key):
        return int(self.redis_cli("TTL", key))

    def own_hashes(self, room):
        return self.redis_cli("KEYS", "rp:{%s}:own:*" % room).split()

    def publish(self, room, **fields):
        with self.control(A) as control:
            answer = control.publish(room, {"n": 1}, **fields)
            self.assertTrue(answer["ok"], answer)
            return answer

    def test_every_key_of_a_publish_gets_a_ttl(self):
        self.publish("life-own")
        self.publish("life-own")
        self.publish("life-id", id="k1")
        for key in ("rp:{life-own}", "rp:{life-own}:log", "rp:{life-id}", "rp:{life-id}:log"):
            self.assertTrue(0 < self.ttl(key) <= 60, key)
        hashes = self.own_hashes("life-own")  # one, or two if a minute began in between
        self.assertEqual(sum(int(self.redis_cli("HLEN", key)) for key in hashes), 2,
                         "a field per publish")
        for key in hashes:
            self.assertTrue(0 < self.ttl(key) <= 120, key)
        self.assertTrue(0 < self.ttl("rp:{life-id}:id:k1") <= 300)
        self.assertEqual(self.publish("life-id", id="k1")["seq"], 1, "a repeat is known")

    def test_a_room_is_renewed_once_a_tenth_of_its_ttl_has_passed(self):
        self.publish("life-renew")
        self.redis_cli("EXPIRE", "rp:{life-renew}", "30")
        self.publish("life-renew")
        self.assertLessEqual(self.ttl("rp:{life-renew}"), 30, "not renewed by every publish")
        time.sleep(6.2)
        self.publish("life-renew")
        self.assertGreater(self.ttl("rp:{life-renew}"), 50, "renewed after 6 s (a tenth)")
        self.assertGreater(self.ttl("rp:{life-renew}:log"), 50)

    def test_a_room_deleted_behind_the_node_s_back_is_made_again_with_its_ttls(self):
        self.publish("life-gone")
        self.redis_cli("DEL", "rp:{life-gone}", "rp:{life-gone}:log")
        again = self.publish("life-gone")
        self.assertEqual(again["seq"], 1, "a new life of the room")
        for key in ("rp:{life-gone}", "rp:{life-gone}:log"):
            self.assertTrue(0 < self.ttl(key) <= 60, key)

    def test_a_repeat_in_a_room_made_again_leaves_the_room_a_ttl(self):
        self.publish("life-repeat", id="k2")
        # The room's keys expired; its idempotency key (a longer TTL) did not.
        self.redis_cli("DEL", "rp:{life-repeat}", "rp:{life-repeat}:log")
        self.assertEqual(self.publish("life-repeat", id="k2")["seq"], 1, "answered as a repeat")
        self.assertTrue(0 < self.ttl("rp:{life-repeat}") <= 60)

    def test_a_room_a_join_made_gets_its_stream_expired_by_the_first_publish(self):
        self.publish("life-joined")
        self.redis_cli("DEL", "rp:{life-joined}", "rp:{life-joined}:log")  # the room expired

        async def scenario():
            async with self.on(A, "life-joined") as client:  # loading it makes it again
                await client.next()
                self.publish("life-joined")  # makes the stream
                return await self.messages(client, 1)

        got = self.run_async(scenario())
        self.assertEqual(got[0]["seq"], 1)
        for key in ("rp:{life-joined}", "rp:{life-joined}:log"):
            self.assertTrue(0 < self.ttl(key) <= 60, key)

    def test_a_first_message_renews_a_room_a_join_made_when_it_is_due(self):
        async def scenario():
            async with self.on(A, "life-joined-renew") as client:  # the load makes the room
                await client.next()
                self.redis_cli("EXPIRE", "rp:{life-joined-renew}", "20")
                self.publish("life-joined-renew")  # the node's first to the room: renew it
                return await self.messages(client, 1)

        got = self.run_async(scenario())
        self.assertEqual(got[0]["seq"], 1)
        for key in ("rp:{life-joined-renew}", "rp:{life-joined-renew}:log"):
            self.assertGreater(self.ttl(key), 50, key)

    def test_a_new_connection_to_redis_sets_the_ttls_again(self):
        keys = ("rp:{life-reconnect}", "rp:{life-reconnect}:log")
        self.publish("life-reconnect")
        for key in keys:
            self.redis_cli("PERSIST", key)
        started = time.monotonic()
        self.redis_cli("CLIENT", "KILL", "TYPE", "normal")
        self.redis_cli("CLIENT", "KILL", "TYPE", "pubsub")

        def published():  # `unavailable` until the node has both connections back
            with self.control(A) as control:
                return control.publish("life-reconnect", {"n": 2})["ok"]
        self.wait_for(published, what="a publish on the new connections")
        # Within a tenth of the room's TTL, when the node would renew it anyway.
        self.assertLess(time.monotonic() - started, 5.5, "too slow to show anything")
        for key in keys:
            self.assertTrue(0 < self.ttl(key) <= 60, key)


class BrokerOptions(harness.unittest.TestCase):
    """Bad --broker values and password files stop the sidecar before it starts: exit 2 and one
    line that says what is wrong."""

    def run_sidecar(self, *args):
        return subprocess.run(devstack.daemon_command(
            [os.path.join(harness.BUILD_DIR, "ws-sidecar/roompush-sidecar"),
             "--ws-socket", "/tmp/rp-never-ws.sock",
             "--control-socket", "/tmp/rp-never-control.sock"] + list(args)),
            capture_output=True, text=True, timeout=20)

    def test_bad_broker_urls(self):
        for url in ("redis://", "redis://host:99999", "redis://host/77", "http://host",
                    "redis://user:hunter2@host", "unix:relative", "",
                    "sentinel://host:26379", "sentinel://:hunter2@host/m", "sentinel://h,/m",
                    "redis://a memory", "redis://a redis://a", "redis://a " + "x" * 5000):
            result = self.run_sidecar("--broker", url)
            self.assertEqual(result.returncode, 2, (url, result.stderr))
            self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
            self.assertIn("--broker", result.stderr)
            self.assertNotIn("hunter2", result.stderr)

    def test_bad_credentials_and_replica_counts(self):
        for args in (["--broker-user", "alice"], ["--broker-user", "al ice"],
                     ["--broker-user", ""], ["--broker-min-replicas", "17"],
                     ["--broker-min-replicas", "-1"], ["--broker-min-replicas", "one"]):
            result = self.run_sidecar("--broker", "redis://127.0.0.1:1", *args)
            self.assertEqual(result.returncode, 2, (args, result.stderr))
            self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
            self.assertIn(args[0], result.stderr)

    def test_unreadable_password_file(self):
        for path in ("/nonexistent/redis.pass", "/tmp"):
            result = self.run_sidecar("--broker", "redis://127.0.0.1:1",
                                      "--broker-password-file", path)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
            self.assertIn("--broker-password-file", result.stderr)

    def test_a_server_that_answers_garbage_is_survived(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        stop = threading.Event()

        def serve():
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    peer, _ = listener.accept()
                except socket.timeout:
                    continue
                threading.Thread(target=answer_garbage, args=(peer,), daemon=True).start()

        def answer_garbage(peer):
            peer.settimeout(0.5)
            while not stop.is_set():
                try:
                    if not peer.recv(65536):
                        break
                    peer.sendall(b"$7\r\ngarbage\r\n")
                except socket.timeout:
                    continue
                except OSError:
                    break
            peer.close()

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        run_dir = devstack.daemon_dir(harness.tempfile.mkdtemp(prefix="rp-", dir="/tmp"))
        control = os.path.join(run_dir, "control.sock")
        sidecar = subprocess.Popen(devstack.daemon_command(
            [os.path.join(harness.BUILD_DIR, "ws-sidecar/roompush-sidecar"),
             "--ws-socket", os.path.join(run_dir, "ws.sock"), "--control-socket", control,
             "--broker", "redis://127.0.0.1:%d" % port]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(control) and time.monotonic() < deadline:
                time.sleep(0.05)
            with ControlConnection(control) as connection:
                answer = connection.publish("garbage", {"x": 1})
                self.assertFalse(answer["ok"])
                self.assertEqual(answer["error"]["code"], "broker_bad_reply")
                history = connection.request({"op": "history", "room": "garbage"})
                self.assertFalse(history["ok"])
            self.assertIsNone(sidecar.poll())
        finally:
            sidecar.send_signal(signal.SIGTERM)
            _, err = sidecar.communicate(timeout=15)
            stop.set()
            listener.close()
            harness.shutil.rmtree(run_dir, ignore_errors=True)
        self.assertEqual(sidecar.returncode, 0, err[-2000:])


if __name__ == "__main__":
    harness.main()
