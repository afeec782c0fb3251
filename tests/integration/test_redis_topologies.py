"""Scale-out past one Redis (docs/scaling.md): pipelined publishing, per-room delivery, a
Sentinel failover, shards, and a reply lost after Redis ran the script. Real redis-server and
sentinel processes on loopback (tools/redis_topology.py), real sidecars, nginx and app."""

import asyncio
import contextlib
import json
import os
import re
import threading
import time

import harness
import redis_topology
from harness import RoomClient
from test_scaling import A, B, ClusterTestCase


def shard_of(room, shards):
    """ShardedBroker's choice (ws-sidecar/broker/sharded_broker.cpp): jump hash of FNV-1a."""
    key = 14695981039346656037
    for byte in room.encode():
        key = ((key ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    bucket, following = -1, 0
    while following < shards:
        bucket = following
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        following = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def prometheus_samples(text, name):
    """{labels text: value} of one metric family in /metrics text."""
    return {labels: int(value) for labels, value in
            re.findall(r"^%s\{([^}]*)\} (\d+)$" % re.escape(name), text, re.M)}


class TopologyTestCase(harness.OwnRedis, ClusterTestCase):
    """A stack whose sidecars use the --broker that topology() starts (instead of the stack's
    own redis-server)."""

    @classmethod
    def attach(cls, stack, url):
        stack.broker = url


class PipelinedAndPerRoom(ClusterTestCase):
    """Four sidecars on one redis-server."""
    NODES = 4

    def test_ten_thousand_publishes_through_two_nodes_arrive_consecutively_in_fifty_rooms(self):
        rooms = ["p%d" % r for r in range(50)]
        total = 10000
        lines = ["%s\t{\"n\":%d}\n" % (rooms[i % 50], i) for i in range(total)]

        async def scenario():
            async with contextlib.AsyncExitStack() as clients:
                members = {}
                for room in rooms:
                    for node in (A, B):
                        client = await clients.enter_async_context(self.on(node, room))
                        head = (await client.next())["seq"]
                        members[(room, node)] = (client, head)
                summaries = [None, None]

                def publish(node):
                    summaries[node] = self.publish_lines(node, lines[node::2])

                threads = [threading.Thread(target=publish, args=(node,)) for node in (A, B)]
                for thread in threads:
                    thread.start()
                got = {}
                for key, (client, head) in members.items():
                    got[key] = (head, await self.messages(client, total // 50, timeout=90))
                for thread in threads:
                    thread.join(120)
                extra = [await client.nothing_for(0.2) for client, _ in members.values()]
                return summaries, got, extra

        summaries, got, extra = self.run_async(scenario(), timeout=240)
        self.assertEqual([s["acked"] for s in summaries], [total // 2, total // 2], summaries)
        for (room, node), (head, messages) in got.items():
            self.assert_consecutive(messages, head + 1)
            expected = list(range(rooms.index(room), total, 50))
            self.assertEqual(sorted(m["data"]["n"] for m in messages), expected, (room, node))
        self.assertEqual(sum(len(e) for e in extra), 0, "nothing doubled")

    def test_a_node_receives_only_the_messages_of_rooms_it_has_members_in(self):
        per_room = 100
        rooms = ["own%d" % node for node in range(4)]

        async def scenario():
            async with contextlib.AsyncExitStack() as clients:
                members = []
                for node, room in enumerate(rooms):
                    client = await clients.enter_async_context(self.on(node, room))
                    await client.next()
                    members.append(client)
                before = [self.stats(node)["broker_received"] for node in range(4)]
                lines = ["%s\t{\"n\":%d}\n" % (room, i) for i in range(per_room) for room in rooms]
                summary = self.publish_lines(A, lines)
                for client in members:
                    await self.messages(client, per_room)
                after = [self.stats(node)["broker_received"] for node in range(4)]
                return summary, [a - b for a, b in zip(after, before)]

        summary, received = self.run_async(scenario(), timeout=120)
        self.assertEqual(summary["acked"], 4 * per_room)
        print("broker messages received per node (of %d published): %s"
              % (4 * per_room, received))
        for node, count in enumerate(received):
            # Its own room's messages; with one channel for every room it was all 400.
            self.assertGreaterEqual(count, per_room, node)
            self.assertLessEqual(count, per_room + 5, node)


class SentinelFailover(TopologyTestCase):
    """Two sidecars on a Sentinel group: a master, two replicas, three sentinels. A publish is
    acked once a replica has it (--broker-min-replicas 1), so the failover loses none; with two
    replicas, the new master still has one to confirm with."""
    SIDECAR_ARGS = ("--broker-min-replicas", "1")

    @classmethod
    def topology(cls, base, exit_stack):
        cls.master, cls.replicas, cls.sentinels = exit_stack.enter_context(
            redis_topology.sentinel_topology(base, replicas=2))
        return cls.sentinels.broker_url()

    def test_a_killed_master_fails_over_and_nothing_acked_is_lost_or_doubled(self):
        acked, refused, pushed = [], [], []
        stop = threading.Event()
        killed_at = []

        def publish_steadily():
            n = 0
            while not stop.is_set() and n < 2000:
                n += 1
                result = self.node_pushctl(n % 2, "publish", "fo", "--event", "note",
                                           "--data", json.dumps({"n": n}), timeout=30)
                (acked if result.returncode == 0 else refused).append((n, time.monotonic()))
                time.sleep(0.02)

        def push_through_the_app():
            n = 0
            while not stop.is_set() and n < 500:
                n += 1
                status, _, body = self.curl("-X", "POST", "--data-binary", json.dumps({"p": n}),
                                            self.stack.url + "/push/fo?event=app&id=app-%d" % n)
                self.assertIn(status, (200, 202), body)  # sent at once, or deferred
                pushed.append(n)
                time.sleep(0.05)

        async def scenario():
            async with self.on(A, "fo") as on_a, self.on(B, "fo") as on_b:
                epochs = [(await c.next())["epoch"] for c in (on_a, on_b)]
                workers = [threading.Thread(target=publish_steadily),
                           threading.Thread(target=push_through_the_app)]
                for worker in workers:
                    worker.start()
                await asyncio.sleep(1.5)
                old_port = self.master.port
                killed_at.append(time.monotonic())
                self.master.kill()
                (host, port), failover_s = await asyncio.to_thread(
                    self.sentinels.wait_for_failover, old_port, 30)
                # Publishing works again when a publish made after the kill is acked.
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not any(
                        t > killed_at[0] for _, t in acked):
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.5)
                stop.set()
                for worker in workers:
                    await asyncio.to_thread(worker.join, 60)
                stl = self.write_fixture("cube.stl",
                                         harness.binary_stl(harness.cube_triangles()))
                upload_status, _, upload_body = self.curl(
                    "-F", "roomId=fo", "-F", "file=@%s" % stl, self.stack.url + "/cad")
                expected = len(acked) + len(pushed)
                results = []
                for client in (on_a, on_b):
                    try:
                        frames = await client.until(lambda f: f.get("event") == "job.done",
                                                    timeout=60)
                    except asyncio.TimeoutError:
                        self.fail("no job.done\n" + self.all_logs())
                    results.append(frames + await client.nothing_for(1.5))
                return epochs, failover_s, (upload_status, upload_body), expected, results

        epochs, failover_s, upload, expected, results = self.run_async(scenario(), timeout=200)
        recovered = [t for _, t in acked if t > killed_at[0]]
        self.assertTrue(recovered, "publishing never worked again\n" + self.all_logs())
        print("failover: sentinels promoted the replica %.2f s after the kill; publishing "
              "worked again %.2f s after it; %d acked, %d refused meanwhile"
              % (failover_s, min(recovered) - killed_at[0], len(acked), len(refused)))
        self.assertEqual(upload[0], 202, upload[1])
        acked_n = sorted(n for n, _ in acked)
        for client_frames, epoch in zip(results, epochs):
            messages = [f for f in client_frames if f["type"] == "message"]
            self.assertEqual([f for f in client_frames if f["type"] == "reset"], [])
            self.assertTrue(all(m["epoch"] == epoch for m in messages), "the epoch is kept")
            notes = [m["data"]["n"] for m in messages if m["event"] == "note"]
            apps = [m["data"]["p"] for m in messages if m["event"] == "app"]
            self.assertEqual(len(notes), len(set(notes)), "no publish delivered twice")
            self.assertTrue(set(acked_n) <= set(notes), "every acked publish arrived")
            self.assertEqual(sorted(apps), list(range(1, len(apps) + 1)))
            self.assertGreaterEqual(len(apps), 1)
            job_events = [m["event"] for m in messages if m["event"].startswith("job.")]
            self.assertEqual(job_events.count("job.done"), 1)
            seqs = [m["seq"] for m in messages]
            self.assertEqual(seqs, sorted(set(seqs)), "in order, once each")
        # Every app push arrived (the outbox retried through the failover with its keys).
        for client_frames in results:
            apps = [f["data"]["p"] for f in client_frames
                    if f["type"] == "message" and f["event"] == "app"]
            self.assertEqual(sorted(apps), list(range(1, max(apps) + 1)))
        with self.control(A) as control:
            shards = control.request({"op": "stats"})["broker_shards"]
        self.assertGreaterEqual(shards[0]["failovers"], 1, shards)


class Shards(TopologyTestCase):
    """Two sidecars, rooms spread over two redis-servers."""

    @classmethod
    def topology(cls, base, exit_stack):
        cls.shards = [exit_stack.enter_context(redis_topology.RedisServer(base))
                      for _ in range(2)]
        return " ".join(shard.url for shard in cls.shards)

    def room_on(self, shard, prefix):
        return next("%s%d" % (prefix, i) for i in range(1000)
                    if shard_of("%s%d" % (prefix, i), 2) == shard)

    def test_a_stopped_shard_affects_only_its_rooms_and_all_recover(self):
        up_room, down_room = self.room_on(0, "s"), self.room_on(1, "s")

        async def scenario():
            async with self.on(A, up_room) as up_member, self.on(B, down_room) as down_member:
                for client in (up_member, down_member):
                    await client.next()
                self.shards[1].stop()
                self.wait_for(lambda: self.stats(A)["broker_shards"][1]["up"] == 0,
                              what="shard 1 seen down")
                working = self.node_pushctl(A, "publish", up_room, "--data", '{"k":1}')
                refused = self.node_pushctl(A, "--json", "publish", down_room, "--data", '{"k":1}')
                status, _, body = self.curl("-X", "POST", "--data-binary", '{"k":2}',
                                            self.stack.url + "/push/%s?event=note&id=held-1"
                                            % down_room)
                got_up = await self.messages(up_member, 1)
                nothing_yet = await down_member.nothing_for(0.5)
                metrics = self.curl(self.stack.url + "/metrics")[2]
                health = json.loads(self.curl(self.stack.url + "/healthz")[2])
                self.shards[1].start()
                got_down = await self.messages(down_member, 1, timeout=40)
                again = self.node_pushctl(B, "publish", down_room, "--data", '{"k":3}')
                got_again = await self.messages(down_member, 1)
                return (working, refused, (status, body), got_up, nothing_yet, metrics, health,
                        got_down, again, got_again)

        (working, refused, pushed, got_up, nothing_yet, metrics, health, got_down, again,
         got_again) = self.run_async(scenario(), timeout=120)
        self.assertEqual(working.returncode, 0, working.stderr)
        self.assertEqual(got_up[0]["data"], {"k": 1})
        self.assertNotEqual(refused.returncode, 0)
        self.assertEqual(json.loads(refused.stderr)["error"]["code"], "unavailable")
        self.assertEqual(pushed[0], 202, pushed[1])
        self.assertEqual(nothing_yet, [])
        self.assertGreaterEqual(health["outbox"]["pending"], 1, health)
        up = prometheus_samples(metrics, "roompush_broker_shard_up")
        self.assertEqual(sorted(up.values()), [0, 1], metrics)
        self.assertEqual(got_down[0]["data"], {"k": 2}, "the outbox delivered the held push")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(got_again[0]["data"], {"k": 3})
        self.wait_for(lambda: all(s["up"] for s in self.stats(A)["broker_shards"]),
                      what="both shards up")


class AclUser(TopologyTestCase):
    """Redis with an ACL user for the sidecars and a default user they cannot use."""

    @classmethod
    def topology(cls, base, exit_stack):
        server = exit_stack.enter_context(redis_topology.RedisServer(base))
        server.command("ACL", "SETUSER", "roompush", "on", ">s3cret-pass", "~rp:*", "&rp:*",
                       "+@all")
        server.command("CONFIG", "SET", "requirepass", "not-for-the-sidecars")
        password_file = os.path.join(base, "redis.pass")
        with open(password_file, "w") as out:
            out.write("s3cret-pass\n")
        os.chmod(password_file, 0o644)
        cls.extra_sidecar_args = ["--broker-user", "roompush", "--broker-password-file",
                                  password_file]
        return server.url

    @classmethod
    def prepare_stack(cls, stack):
        super().prepare_stack(stack)
        stack.sidecar_args += cls.extra_sidecar_args

    def test_the_sidecars_authenticate_as_their_acl_user(self):
        async def scenario():
            async with self.on(B, "acl") as member:
                await member.next()
                published = self.node_pushctl(A, "publish", "acl", "--data", '{"ok":1}')
                return published, await self.messages(member, 1)

        published, got = self.run_async(scenario())
        self.assertEqual(published.returncode, 0, published.stderr)
        self.assertEqual(got[0]["data"], {"ok": 1})


class LostReply(TopologyTestCase):
    """One Redis behind a proxy the test controls; the proxy drops one publish's reply and the
    connection after Redis ran it."""

    @classmethod
    def topology(cls, base, exit_stack):
        cls.server = exit_stack.enter_context(redis_topology.RedisServer(base))
        cls.proxy = exit_stack.enter_context(redis_topology.CuttingProxy(cls.server.port))
        return cls.proxy.url

    def test_a_publish_without_id_whose_reply_is_lost_is_delivered_once(self):
        async def scenario():
            async with self.on(A, "lost") as on_a, self.on(B, "lost") as on_b:
                for client in (on_a, on_b):
                    await client.next()
                self.proxy.cut_after_next_request_matching(b"cut-this-reply")
                result = await asyncio.to_thread(
                    self.node_pushctl, A, "publish", "lost", "--data", '{"m":"cut-this-reply"}')
                cut = self.proxy.wait_for_cut(5)
                got = [await self.messages(c, 1) + await c.nothing_for(1.5)
                       for c in (on_a, on_b)]
                return result, cut, got

        result, cut, got = self.run_async(scenario(), timeout=60)
        self.assertTrue(cut, "the proxy cut the connection")
        self.assertEqual(result.returncode, 0, result.stderr + self.all_logs())
        for frames in got:
            self.assertEqual([f["data"] for f in frames if f["type"] == "message"],
                             [{"m": "cut-this-reply"}], "exactly once")
        self.assertGreaterEqual(self.stats(A)["broker_reconnects"], 1)


if __name__ == "__main__":
    harness.main()
