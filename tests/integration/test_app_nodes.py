"""Several app nodes behind nginx's FastCGI upstream, sharing their jobs through Redis
(--job-store, docs/app.md "Several app nodes"): any node answers for any job, a node that dies
has its running jobs ended by another within a few leases, once, and a node that cannot reach
Redis when its job ends sends nothing until Redis has said whose end came first.

The program is tests/fixtures/job_behaviour.sh; "gate PATH" jobs run until the test creates
PATH.
"""

import asyncio
import json
import os
import signal
import subprocess
import time

import harness
import redis_topology
from test_redis_topologies import shard_of
from harness import RoomClient

BEHAVIOUR = os.path.join(harness.FIXTURES, "job_behaviour.sh")
LEASE_MS = 1500


def event_of(job_id, *events):
    return lambda m: m.get("data", {}).get("jobId") == job_id and m.get("event") in events


async def until_each(client, jobs, events, timeout=20):
    """The room's messages until each of `jobs` has had one of `events`, in any order."""
    seen, waiting = [], set(jobs)

    def the_last(message):
        if message.get("event") in events:
            waiting.discard(message["data"].get("jobId"))
        return not waiting

    if waiting:
        seen = await client.until(the_last, timeout=timeout)
    return seen


async def until_all_end(client, jobs, timeout):
    return await until_each(client, jobs, ("job.done", "job.failed", "job.cancelled"), timeout)


class TwoAppNodes(harness.StackTestCase):
    APPS = 2
    EXEC = BEHAVIOUR + " {input} {workdir}"
    APP_ARGS = ("--workers", "2", "--lease", str(LEASE_MS))

    def holder(self, job_id):
        """The app nodes whose spool holds the job."""
        return [app for app in range(self.stack.apps)
                if os.path.isdir(os.path.join(self.stack.app_spool_dir(app), "jobs", job_id))]

    def test_uploads_spread_and_every_node_answers_for_every_job(self):
        jobs = [self.upload_mode("ok", "spread") for _ in range(12)]
        holders = [self.holder(job_id) for job_id in jobs]
        self.assertTrue(all(len(found) == 1 for found in holders), holders)
        self.assertEqual({found[0] for found in holders}, {0, 1}, "both nodes took uploads")
        for job_id in jobs:
            self.eventually(lambda: self.job(job_id)["status"] == "done", "job %s done" % job_id)
        # nginx takes turns between the nodes: four reads of each job reach both of them.
        for job_id in jobs:
            for _ in range(4):
                seen = self.job(job_id)
                self.assertEqual((seen["jobId"], seen["status"]), (job_id, "done"))
        status, _, body = self.curl(self.stack.url + "/jobs/" + "0" * 32)
        self.assertEqual(status, 404, body)
        # The operator's list, from either node, holds both nodes' jobs.
        for _ in range(2):
            status, _, body = self.curl(self.stack.url + "/jobs?room=spread&status=done")
            self.assertEqual(status, 200, body)
            listed = json.loads(body)
            self.assertEqual(sorted(job["jobId"] for job in listed["jobs"]), sorted(jobs))
            self.assertFalse(listed["truncated"])
        status, _, body = self.curl(self.stack.url + "/jobs?room=spread&limit=5")
        self.assertEqual((status, len(json.loads(body)["jobs"]), json.loads(body)["truncated"]),
                         (200, 5, True))

    def test_a_killed_node_has_its_running_job_ended_once_by_the_other(self):
        room = "node-dies"
        gates = []

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                on_node_1 = None
                for _ in range(8):
                    gate = os.path.join(self.run_dir, "gate-%d" % time.monotonic_ns())
                    gates.append(gate)
                    job_id = self.upload_mode("gate " + gate, room)
                    if self.holder(job_id) == [1]:
                        on_node_1 = job_id
                        break
                self.assertIsNotNone(on_node_1, "no upload reached node 1")
                await client.until(event_of(on_node_1, "job.started"))
                self.stack.kill_process("app-1")
                killed_at = time.monotonic()
                seen = await client.until(event_of(on_node_1, "job.failed", "job.done"),
                                          timeout=6 * LEASE_MS / 1000)
                ended_after = time.monotonic() - killed_at
                self.stack.start_app(app=1)
                for gate in gates:
                    with open(gate, "w"):
                        pass
                seen += await client.nothing_for(3.0)
                return on_node_1, seen, ended_after

        job_id, seen, ended_after = self.run_async(scenario())
        print("a killed node's running job ended by the other node %.1f s after the kill "
              "(lease %d ms)" % (ended_after, LEASE_MS))
        finals = [m for m in seen if m.get("event") in ("job.done", "job.failed")
                  and m["data"]["jobId"] == job_id]
        self.assertEqual([m["event"] for m in finals], ["job.failed"], self.logs())
        self.assertEqual(finals[0]["data"]["error"]["reason"], "interrupted")
        # The lease runs out, then two scans (every half lease, on the renewal ticks) see it so.
        self.assertLess(ended_after, 4 * LEASE_MS / 1000)
        # After the node came back: the same record on both nodes, and no second end.
        for _ in range(4):
            self.assertEqual(self.job(job_id)["status"], "failed")
        others = [m["data"]["jobId"] for m in seen if m.get("event") == "job.done"]
        self.assertEqual(len(others), len(set(others)), "no job ends twice")

    def test_a_job_that_ends_while_redis_is_frozen_ends_once_when_it_is_back(self):
        """The node cannot tell whether another took the job over: it sends nothing until Redis
        has said whose end came first, then exactly one terminal event goes out."""
        room = "redis-frozen"
        gate = os.path.join(self.run_dir, "gate-frozen-%d" % time.monotonic_ns())
        redis = self.stack.processes["redis"]

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                job_id = self.upload_mode("gate " + gate, room)
                await client.until(event_of(job_id, "job.started"))
                redis.send_signal(signal.SIGSTOP)
                try:
                    with open(gate, "w"):
                        pass
                    held = await client.nothing_for(2 * LEASE_MS / 1000)
                finally:
                    redis.send_signal(signal.SIGCONT)
                seen = await client.until(event_of(job_id, "job.done", "job.failed"))
                return job_id, held, seen + await client.nothing_for(2.0)

        job_id, held, seen = self.run_async(scenario())
        self.assertEqual([m for m in held if m["data"].get("jobId") == job_id
                          and m["event"] in ("job.done", "job.failed")], [],
                         "no end while Redis could not say whose it is")
        finals = [m["event"] for m in seen if m.get("event") in ("job.done", "job.failed")
                  and m["data"]["jobId"] == job_id]
        print("a job that ended while Redis was frozen: %s" % finals)
        self.assertEqual(len(finals), 1, self.logs())

    def test_cancel_and_retry_reach_the_node_that_holds_the_job(self):
        room = "elsewhere"
        gate = os.path.join(self.run_dir, "gate-elsewhere-%d" % time.monotonic_ns())

        def call_other(method, uri, holder):
            other = self.stack.app_fcgi_socket(1 - holder)
            status, body = harness.fastcgi_request(other, method, uri)
            return status, json.loads(body)

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                job_id = self.upload_mode("gate " + gate, room)
                await client.until(event_of(job_id, "job.started"))
                holder = self.holder(job_id)[0]
                work = os.path.join(self.stack.app_spool_dir(holder), "jobs", job_id, "work")
                # job.started goes out as the program is started, not after.
                pid_path = os.path.join(work, "main.pid")
                await asyncio.to_thread(self.eventually,
                                        lambda: os.path.exists(pid_path) and os.path.getsize(pid_path),
                                        "the program's pid")
                with open(pid_path) as pid_file:
                    program = int(pid_file.read())
                status, body = await asyncio.to_thread(
                    call_other, "DELETE", "/jobs/" + job_id, holder)
                self.assertEqual((status, body.get("status")), (200, "cancelled"),
                                 str(body) + self.logs())
                seen = await client.until(event_of(job_id, "job.cancelled"))
                self.assertTrue(harness.process_gone(program), "the program was stopped")
                again, body = await asyncio.to_thread(
                    call_other, "DELETE", "/jobs/" + job_id, holder)
                self.assertEqual((again, body["error"]["code"]), (409, "job_finished"))
                with open(gate, "w"):
                    pass
                status, body = await asyncio.to_thread(
                    call_other, "POST", "/jobs/%s/retry" % job_id, holder)
                self.assertEqual((status, body.get("attempt")), (202, 2), str(body))
                seen += await client.until(event_of(job_id, "job.done", "job.failed"))
                return job_id, holder, seen + await client.nothing_for(1.0)

        job_id, holder, seen = self.run_async(scenario())
        ends = [m["event"] for m in seen if m["data"].get("jobId") == job_id
                and m["event"] in ("job.done", "job.failed", "job.cancelled")]
        self.assertEqual(ends, ["job.cancelled", "job.done"])
        self.assertEqual(self.job(job_id)["attempt"], 2)
        unknown, body = harness.fastcgi_request(self.stack.app_fcgi_socket(1 - holder),
                                                "DELETE", "/jobs/" + "0" * 32)
        self.assertEqual(unknown, 404, body)


class TwoAppNodesSharingASpool(harness.StackTestCase):
    """--shared-spool: the nodes share one spool, and a Redis stream hands queued jobs to
    whichever node has a free worker; a dead node's jobs run again on another."""
    APPS = 2
    SHARED_SPOOL = True
    EXEC = BEHAVIOUR + " {input} {workdir}"
    APP_ARGS = ("--workers", "2", "--lease", str(LEASE_MS))

    def upload_to(self, app, mode, room, query=""):
        """An upload straight to one app node's FastCGI socket; returns (status, body)."""
        content_type, body = harness.multipart_upload(room, mode.encode() + b"\n")
        status, text = harness.fastcgi_request(self.stack.app_fcgi_socket(app), "POST",
                                               "/cad" + query, body, content_type=content_type)
        return status, json.loads(text)

    def starts(self, app):
        """The job ids whose program the node started, in order (its log's job_started)."""
        path = os.path.join(self.stack.log_dir, self.stack.app_name(app) + ".log")
        with open(path, errors="replace") as log:
            return [field[4:] for line in log if "event=job_started" in line
                    for field in line.split() if field.startswith("job=")]

    def test_a_burst_on_one_node_is_run_by_both_nodes_workers(self):
        room = "burst"

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                jobs = []
                for _ in range(20):
                    status, body = await asyncio.to_thread(self.upload_to, 0, "slow 0.4", room)
                    self.assertEqual(status, 202, body)
                    jobs.append(body["jobId"])
                seen = await until_all_end(client, jobs, timeout=60)
                return jobs, seen + await client.nothing_for(1.0)

        jobs, seen = self.run_async(scenario(), timeout=90)
        ends = [m["data"]["jobId"] for m in seen if m.get("event") in ("job.done", "job.failed")]
        self.assertEqual(sorted(ends), sorted(jobs), "one end per job")
        self.assertTrue(all(m["event"] == "job.done" for m in seen
                            if m.get("event") in ("job.done", "job.failed")))
        on_0 = [j for j in self.starts(0) if j in jobs]
        on_1 = [j for j in self.starts(1) if j in jobs]
        print("20 uploads to node 0: node 0 ran %d, node 1 ran %d" % (len(on_0), len(on_1)))
        self.assertEqual(sorted(on_0 + on_1), sorted(jobs), "each job ran once")
        self.assertGreaterEqual(len(on_1), 4, "node 1's workers took part of node 0's burst")
        # Any node answers for any job, and ?wait ends on the node the upload came to.
        for _ in range(4):
            self.assertEqual(self.job(jobs[0])["status"], "done")
        for app in (0, 1):
            status, body = self.upload_to(app, "ok", room, "?wait=20")
            self.assertEqual((status, body.get("status")), (201, "done"), body)

    def requeued(self):
        path = os.path.join(self.stack.log_dir, "app.log")
        with open(path, errors="replace") as log:
            return "event=jobs_requeued_from_dead_node node=app1" in log.read()

    def test_a_killed_nodes_jobs_run_again_on_the_other_and_end_once(self):
        """Node 1 dies while node 0's workers are busy: its running jobs wait in the stream (one
        is cancelled there), then run again on node 0 to job.done, one terminal event each."""
        room = "shared-node-dies"
        gate = os.path.join(self.run_dir, "gate-shared-%d" % time.monotonic_ns())

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                jobs = []
                for _ in range(4):  # the four workers of the two nodes
                    status, body = await asyncio.to_thread(
                        self.upload_to, 1, "gate " + gate, room)
                    self.assertEqual(status, 202, body)
                    jobs.append(body["jobId"])
                await until_each(client, jobs, ("job.started",))
                # One more waits in the stream, and is cancelled there.
                status, body = await asyncio.to_thread(self.upload_to, 0, "ok", room)
                waiting = body["jobId"]
                status, text = await asyncio.to_thread(
                    harness.fastcgi_request, self.stack.app_fcgi_socket(0), "DELETE",
                    "/jobs/" + waiting)
                self.assertEqual((status, json.loads(text)["status"]), (200, "cancelled"), text)
                on_1 = [j for j in self.starts(1) if j in jobs]
                self.assertEqual(len(on_1), 2, "each node runs two")
                self.stack.kill_process("app-1")
                killed_at = time.monotonic()
                await asyncio.to_thread(self.eventually, self.requeued,
                                        "node 1's jobs back in the stream", 8 * LEASE_MS / 1000)
                requeued_after = time.monotonic() - killed_at
                # Still `running` as node 1 left them, and no program of theirs runs anywhere:
                # a cancel ends one where it lands.
                status, text = await asyncio.to_thread(
                    harness.fastcgi_request, self.stack.app_fcgi_socket(0), "DELETE",
                    "/jobs/" + on_1[0])
                self.assertEqual((status, json.loads(text).get("status")), (200, "cancelled"),
                                 text + self.logs())
                with open(gate, "w"):
                    pass
                seen = await until_all_end(client, jobs, timeout=20)
                self.stack.start_app(app=1)
                seen += await client.nothing_for(3.0)
                return jobs, on_1, waiting, seen, requeued_after

        jobs, on_1, waiting, seen, requeued_after = self.run_async(scenario(), timeout=90)
        print("a killed node's running jobs went back to the stream %.1f s after the kill "
              "(lease %d ms)" % (requeued_after, LEASE_MS))
        for job_id in jobs:
            ends = [m["event"] for m in seen if m["data"].get("jobId") == job_id
                    and m["event"] in ("job.done", "job.failed", "job.cancelled")]
            expected = ["job.cancelled"] if job_id == on_1[0] else ["job.done"]
            self.assertEqual(ends, expected, job_id + "\n" + self.logs())
        self.assertEqual(self.job(on_1[1])["attempt"], 2, "run again as the next attempt")
        self.assertIn(on_1[1], self.starts(0), "node 0 ran it again")
        self.assertNotIn(on_1[0], self.starts(0), "the cancelled one did not run again")
        self.assertEqual(self.job(waiting)["status"], "cancelled")
        self.assertNotIn(waiting, self.starts(0) + self.starts(1), "a cancelled job never ran")
        # Gone for a lease, seen by two scans, and gone for the margin past a reconnect.
        self.assertLess(requeued_after, 6 * LEASE_MS / 1000)

class OwnJobStore(harness.OwnRedis):
    """The app nodes' --job-store is a Redis topology of the test's own."""

    @classmethod
    def attach(cls, stack, url):
        stack.job_store = url


class AppNodesOnASentinelGroup(OwnJobStore, harness.StackTestCase):
    """The job store on a Sentinel group (a master, two replicas, three sentinels): the master
    is killed while both nodes run jobs; the nodes follow the new master, and every job ends
    once."""
    APPS = 2
    SHARED_SPOOL = True
    EXEC = BEHAVIOUR + " {input} {workdir}"
    # Longer than the failover (about 2 s here), as docs/app.md asks of --lease.
    APP_ARGS = ("--workers", "2", "--lease", "4000")

    @classmethod
    def topology(cls, base, exit_stack):
        cls.master, cls.replicas, cls.sentinels = exit_stack.enter_context(
            redis_topology.sentinel_topology(base, replicas=2))
        return cls.sentinels.broker_url()

    def test_a_failover_of_the_job_store_loses_and_doubles_no_job(self):
        room = "job-store-failover"
        gate = os.path.join(self.run_dir, "gate-failover-%d" % time.monotonic_ns())

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                running = [self.upload_mode("gate " + gate, room) for _ in range(4)]
                await until_each(client, running, ("job.started",))
                old_port = self.master.port
                self.master.kill()
                _, failover_s = await asyncio.to_thread(
                    self.sentinels.wait_for_failover, old_port, 30)
                with open(gate, "w"):
                    pass
                after = [self.upload_mode("ok", room) for _ in range(4)]
                seen = await until_all_end(client, running + after, timeout=40)
                return running + after, failover_s, seen + await client.nothing_for(2.0)

        jobs, failover_s, seen = self.run_async(scenario(), timeout=120)
        print("job store failover: the sentinels promoted a replica %.1f s after the kill"
              % failover_s)
        for job_id in jobs:
            ends = [m["event"] for m in seen if m["data"].get("jobId") == job_id
                    and m["event"] in ("job.done", "job.failed", "job.cancelled")]
            self.assertEqual(ends, ["job.done"], job_id + "\n" + self.logs())
            self.assertEqual(self.job(job_id).get("attempt", 1), 1, "no job ran twice")


class AppNodesOnShards(OwnJobStore, TwoAppNodesSharingASpool):
    """The job store on two Redis shards (--job-store "redis://A redis://B"): each job lives
    on the shard its id hashes to, with that shard's sets and stream; the listing merges them,
    and a dead node's entries come back from every shard. (The shared-spool tests run again
    here, on the shards.)"""

    @classmethod
    def topology(cls, base, exit_stack):
        cls.shards = [exit_stack.enter_context(redis_topology.RedisServer(base))
                      for _ in range(2)]
        return " ".join(shard.url for shard in cls.shards)

    def jobs_on(self, shard):
        listed = subprocess.run(["redis-cli", "-p", str(shard.port), "--scan", "--pattern",
                                 "rp:job:{*}"], capture_output=True, text=True, timeout=10)
        return {key[len("rp:job:{"):-1] for key in listed.stdout.split() if key.endswith("}")}

    def test_jobs_are_spread_over_the_shards_and_listed_from_both(self):
        jobs = [self.upload_mode("ok", "sharded") for _ in range(12)]
        while len({shard_of(j, 2) for j in jobs}) < 2 and len(jobs) < 24:  # 1 in 2,048 runs
            jobs.append(self.upload_mode("ok", "sharded"))
        for job_id in jobs:
            self.eventually(lambda: self.job(job_id)["status"] == "done", "job %s done" % job_id)
        on_shards = [self.jobs_on(shard) & set(jobs) for shard in self.shards]
        print("12 jobs on two shards: %d and %d" % tuple(len(found) for found in on_shards))
        self.assertEqual(on_shards[0] | on_shards[1], set(jobs))
        self.assertFalse(on_shards[0] & on_shards[1], "each job on one shard")
        self.assertTrue(on_shards[0] and on_shards[1], "both shards hold jobs")
        status, _, body = self.curl(self.stack.url + "/jobs?room=sharded&status=done")
        self.assertEqual(status, 200, body)
        listed = [job["jobId"] for job in json.loads(body)["jobs"]]
        self.assertEqual(sorted(listed), sorted(jobs))
        # Newest first across the shards, and a page of it as one Redis would give.
        self.assertEqual(listed, list(reversed(jobs)))
        status, _, body = self.curl(self.stack.url + "/jobs?room=sharded&limit=5")
        self.assertEqual([job["jobId"] for job in json.loads(body)["jobs"]],
                         list(reversed(jobs))[:5])

    def test_a_listing_past_many_expired_ids_finds_every_job_and_prunes_them(self):
        """900 ids in the index whose records have expired, newer than 3 real jobs: the listing
        reads past them (pages of 200) to the real ones, and the expired ids leave the index."""
        jobs = [self.upload_mode("ok", "pruned") for _ in range(3)]
        for job_id in jobs:
            self.eventually(lambda: self.job(job_id)["status"] == "done", "job %s done" % job_id)
        newer = int(time.time() * 1000) + 60000
        gone = ["%032x" % (0xdead0000 + n) for n in range(900)]
        for shard_index, shard in enumerate(self.shards):
            mine = [job_id for job_id in gone if shard_of(job_id, 2) == shard_index]
            args = ["redis-cli", "-p", str(shard.port), "ZADD", "rp:jobs:index"]
            for n, job_id in enumerate(mine):
                args += [str(newer + n), job_id]
            subprocess.run(args, check=True, capture_output=True, timeout=10)
        status, _, body = self.curl(self.stack.url + "/jobs?room=pruned")
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(job["jobId"] for job in json.loads(body)["jobs"]), sorted(jobs))
        left = sum(int(subprocess.run(["redis-cli", "-p", str(shard.port), "ZCARD",
                                       "rp:jobs:index"], capture_output=True, text=True,
                                      timeout=10).stdout) for shard in self.shards)
        status, _, body = self.curl(self.stack.url + "/jobs?limit=1000")
        listed = len(json.loads(body)["jobs"])
        self.assertEqual(left, listed, "only the ids of jobs that exist are left")

    def test_a_frozen_shard_holds_up_only_its_own_jobs(self):
        """Shard 1 stops answering: the jobs of shard 0 go on; shard 1's run where they were
        received and send their end once the shard answers again, once each."""
        room = "shard-frozen"
        frozen = self.shards[1].process

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                frozen.send_signal(signal.SIGSTOP)
                try:
                    # Ids are random: 8 uploads fall on one shard alone once in 128 runs, so
                    # more come (at most 24) until each shard has one.
                    jobs = []
                    while len(jobs) < 8 or (len({shard_of(j, 2) for j in jobs}) < 2
                                            and len(jobs) < 24):
                        jobs.append(await asyncio.to_thread(self.upload_mode, "ok", room))
                    held = [j for j in jobs if shard_of(j, 2) == 1]
                    free = [j for j in jobs if shard_of(j, 2) == 0]
                    seen = await until_all_end(client, free, timeout=30)
                    seen += await client.nothing_for(1.0)
                finally:
                    frozen.send_signal(signal.SIGCONT)
                seen_after = await until_all_end(client, held, timeout=30)
                return jobs, held, free, seen, seen_after + await client.nothing_for(2.0)

        jobs, held, free, seen, seen_after = self.run_async(scenario(), timeout=120)
        print("a frozen shard: %d jobs of the other ended meanwhile, %d waited for it"
              % (len(free), len(held)))
        self.assertTrue(held and free, "the jobs fall on both shards: %s" % jobs)
        ends = lambda messages, job_id: [m["event"] for m in messages
                                         if m["data"].get("jobId") == job_id
                                         and m["event"] in ("job.done", "job.failed")]
        for job_id in free:
            self.assertEqual(ends(seen + seen_after, job_id), ["job.done"], self.logs())
        for job_id in held:
            self.assertEqual(ends(seen, job_id), [], "no end while its shard was away")
            self.assertEqual(ends(seen_after, job_id), ["job.done"], self.logs())


if __name__ == "__main__":
    harness.main()
