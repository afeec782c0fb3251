"""Nothing lost when a daemon dies: the outbox holds a result while the sidecar is away, and a
restarted app runs the jobs that were queued and reports the one that was running.

The program is tests/fixtures/job_behaviour.sh; "gate PATH" jobs wait until the test creates
PATH, so every step below waits on an event, never on a guess about timing.
"""

import asyncio
import collections
import json
import os
import random
import signal
import subprocess
import threading
import time

import harness
import websockets
from harness import RoomClient

BEHAVIOUR = os.path.join(harness.FIXTURES, "job_behaviour.sh")


def event_of(job_id, *events):
    return lambda m: m.get("data", {}).get("jobId") == job_id and m.get("event") in events


class RecoveryCase(harness.StackTestCase):
    EXEC = BEHAVIOUR + " {input} {workdir}"

    def gate(self, name):
        return os.path.join(self.run_dir, "gate-%s-%d" % (name, time.monotonic_ns()))

    def open_gate(self, path):
        with open(path, "w"):
            pass

    def outbox(self):
        """The pushes the app's journal still holds (docs/app.md): "P N LINE" after the last
        "A N"."""
        path = os.path.join(self.stack.spool_dir, "outbox", "journal")
        if not os.path.exists(path):
            return []
        pushes, acked = {}, 0
        with open(path) as journal:
            for record in journal.read().split("\n")[:-1]:
                kind, number, *line = record.split(" ", 2)
                if kind == "P":
                    pushes[int(number)] = line[0]
                elif kind == "A":
                    acked = max(acked, int(number))
        return [pushes[n] for n in sorted(pushes) if n > acked]


class SidecarOutage(RecoveryCase):

    def test_a_result_made_while_the_sidecar_is_down_arrives_once_after_it_returns(self):
        gate = self.gate("outage")
        room = "outage"

        async def before_the_outage():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                job_id = self.upload_mode("gate " + gate, room)
                await client.until(event_of(job_id, "job.started"))
                return job_id

        job_id = self.run_async(before_the_outage())
        self.stack.kill_process("sidecar")
        self.open_gate(gate)
        self.eventually(lambda: self.job(job_id)["status"] == "done", "the job to finish")
        self.eventually(lambda: len(self.outbox()) >= 1, "job.done in the outbox")
        status, _, body = self.curl(self.stack.url + "/healthz")
        self.assertEqual(status, 503, body)
        self.assertGreaterEqual(json.loads(body)["outbox"]["pending"], 1)

        # The new sidecar binds its control socket under another name; the browser reconnects
        # first, then the socket is renamed into place, so the app's retry reaches a sidecar
        # that already has the browser in the room (whatever the history settings).
        aside = os.path.join(self.run_dir, "control-aside.sock")
        self.stack.start_sidecar(control_socket=aside)

        async def after_the_outage():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                self.assertEqual((await client.next())["type"], "subscribed")
                os.rename(aside, self.stack.control_socket)
                seen = await client.until(event_of(job_id, "job.done"), timeout=30)
                later = await client.nothing_for(1.0)
                return seen, later

        seen, later = self.run_async(after_the_outage())
        done = [m for m in seen + later if event_of(job_id, "job.done")(m)]
        self.assertEqual(len(done), 1, "job.done exactly once: %s" % (seen + later))
        self.assertEqual(done[0]["data"]["result"], {"ok": True, "gated": True})
        self.eventually(lambda: self.outbox() == [], "the outbox to empty")


class AppCrash(RecoveryCase):
    APP_ARGS = ("--workers", "1", "--queue", "10")

    def crash_with_one_running_and_two_queued(self, room):
        """Returns (running id, [queued ids], gate of the running job) with the app SIGKILLed."""
        gate = self.gate(room)

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                running = self.upload_mode("gate " + gate, room)
                await client.until(event_of(running, "job.started"))
                queued = [self.upload_mode("ok", room), self.upload_mode("ok", room)]
                await client.until(event_of(queued[1], "job.queued"))
                return running, queued

        running, queued = self.run_async(scenario())
        for job_id in queued:
            self.assertEqual(self.job(job_id)["status"], "queued")
        self.assertEqual(self.job(running)["status"], "running")
        # job.started goes out as the program is started, not after it wrote its pid.
        pid_path = os.path.join(self.stack.spool_dir, "jobs", running, "work", "main.pid")
        self.eventually(lambda: os.path.exists(pid_path) and os.path.getsize(pid_path) > 0,
                        "the program's pid")
        with open(pid_path) as f:
            program = int(f.read())
        self.stack.kill_process("app")
        # The program dies with the app (PR_SET_PDEATHSIG): two runs of a job never overlap.
        self.eventually(lambda: harness.process_gone(program), "the orphaned program to die")
        return running, queued, gate

    def restart_until_the_last_ends(self, room, running, queued):
        """Starts the app again; asserts the ends the room then gets (the running job
        interrupted, the queued ones done, in that order); returns what the room got."""
        async def after_restart():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                self.stack.start_app()
                return await client.until(event_of(queued[1], "job.done", "job.failed"))

        seen = self.run_async(after_restart())
        finals = [(m["data"]["jobId"], m["event"]) for m in seen
                  if m["event"] in ("job.done", "job.failed")]
        self.assertEqual(finals, [(running, "job.failed"), (queued[0], "job.done"),
                                  (queued[1], "job.done")], self.logs())
        return seen

    def test_after_sigkill_queued_jobs_run_and_the_running_one_is_interrupted(self):
        room = "crash"
        running, queued, _ = self.crash_with_one_running_and_two_queued(room)
        seen = self.restart_until_the_last_ends(room, running, queued)
        failed = next(m for m in seen if m["event"] == "job.failed")
        self.assertEqual(failed["data"]["error"]["reason"], "interrupted")
        self.assertEqual(self.job(running)["error"]["reason"], "interrupted")

    def test_job_copies_cut_by_a_crash_are_made_again_from_the_journal(self):
        """job.json is written without a sync (docs/app.md, "What is on disk when"): after a
        power loss it may be empty. Emptied here after the kill, every job is still found, in
        the state its journal record gives, and ends once."""
        room = "cut-copies"
        running, queued, _ = self.crash_with_one_running_and_two_queued(room)
        for job_id in [running] + queued:
            with open(os.path.join(self.stack.spool_dir, "jobs", job_id, "job.json"), "w"):
                pass
        self.restart_until_the_last_ends(room, running, queued)
        self.assertEqual(self.job(running)["error"]["reason"], "interrupted")
        self.assertEqual(self.job(queued[0])["status"], "done")

    def test_with_rerun_interrupted_the_running_job_runs_again(self):
        room = "rerun"
        running, queued, gate = self.crash_with_one_running_and_two_queued(room)

        async def after_restart():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                self.stack.start_app(["--rerun-interrupted"])
                seen = await client.until(event_of(running, "job.started"))
                self.open_gate(gate)
                return seen + await client.until(event_of(queued[1], "job.done", "job.failed"))

        seen = self.run_async(after_restart())
        finals = [(m["data"]["jobId"], m["event"]) for m in seen
                  if m["event"] in ("job.done", "job.failed")]
        self.assertEqual(finals, [(running, "job.done"), (queued[0], "job.done"),
                                  (queued[1], "job.done")], self.logs())
        self.assertEqual(self.job(running)["attempt"], 2)


class GracefulStop(RecoveryCase):
    APP_ARGS = ("--workers", "1", "--stop-grace", "300")

    def test_sigterm_interrupts_a_running_job_after_the_grace_and_exits_0(self):
        room = "term"
        gate = self.gate(room)

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                job_id = self.upload_mode("gate " + gate, room)
                await client.until(event_of(job_id, "job.started"))
                self.assertEqual(self.stack.stop_process("app", signal.SIGTERM), 0)
                return job_id, await client.until(event_of(job_id, "job.failed"))

        job_id, seen = self.run_async(scenario())
        self.assertEqual(seen[-1]["data"]["error"]["reason"], "interrupted")
        self.stack.start_app()
        self.assertEqual(self.job(job_id)["status"], "failed")


class AppKilledAtRandom(RecoveryCase):
    """SIGKILL of the app at random moments of a burst of uploads, several times: every upload
    it accepted ends in exactly one terminal event, whatever the journal held at that instant."""
    APP_ARGS = ("--workers", "2", "--queue", "200")
    ROUNDS, UPLOADS, SENDERS = 3, 200, 4

    def send_uploads(self, room, count, accepted, lock):
        path = self.write_fixture("input-%d.txt" % time.monotonic_ns(), b"ok\n")
        for _ in range(count):
            result = subprocess.run(
                ["curl", "-sS", "--max-time", "10", "-F", "roomId=" + room, "-F", "file=@" + path,
                 "-o", "-", "-w", "\n%{http_code}", self.stack.url + "/cad"],
                capture_output=True, text=True)
            body, _, status = result.stdout.rpartition("\n")
            if status == "202":
                with lock:
                    accepted.append(json.loads(body)["jobId"])

    def test_every_accepted_upload_ends_once_across_random_kills(self):
        room = "random-kills"
        accepted, lock = [], threading.Lock()
        rng = random.Random(int(os.environ.get("ROOMPUSH_TEST_SEED", "0")) or None)

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                frames = []

                async def collect(seconds):
                    deadline = time.monotonic() + seconds
                    while time.monotonic() < deadline:
                        try:
                            frames.append(await client.next(0.2))
                        except asyncio.TimeoutError:
                            pass

                for _ in range(self.ROUNDS):
                    senders = [threading.Thread(target=self.send_uploads, args=(
                        room, self.UPLOADS // self.SENDERS, accepted, lock))
                        for _ in range(self.SENDERS)]
                    for sender in senders:
                        sender.start()
                    await collect(rng.uniform(0.2, 1.5))
                    self.stack.kill_process("app")
                    self.stack.start_app()
                    while any(sender.is_alive() for sender in senders):
                        await collect(0.2)
                finals = lambda: {f["data"]["jobId"] for f in frames
                                  if f.get("event") in ("job.done", "job.failed")}
                deadline = time.monotonic() + 90
                while not set(accepted) <= finals() and time.monotonic() < deadline:
                    await collect(0.5)
                await collect(1.5)
                return frames

        frames = self.run_async(scenario(), timeout=300)
        terminal = collections.Counter(f["data"]["jobId"] for f in frames
                                       if f.get("event") in ("job.done", "job.failed"))
        print("random kills: %d uploads accepted over %d kills, %d terminal events, %d failed "
              "(interrupted)" % (len(accepted), self.ROUNDS, sum(terminal.values()),
                                 sum(1 for f in frames if f.get("event") == "job.failed")))
        self.assertGreater(len(accepted), 0)
        missing = [job for job in accepted if terminal[job] == 0]
        self.assertEqual(missing, [], "every accepted upload ends\n" + self.logs())
        doubled = [job for job, count in terminal.items() if count > 1]
        self.assertEqual(doubled, [], "no job ends twice")


class SidecarKilledWithPublishesInFlight(RecoveryCase):
    """A publisher with hundreds of publishes in flight (as the app's outbox keeps 64) whose
    memory-broker sidecar is SIGKILLed sends again every one it got no answer for: no browser
    gets any twice, because the sidecar answers a publish before it can write its frames
    (docs/protocol.md, "Answers before frames"), though the new sidecar knows none of the
    old idempotency keys."""
    ROUNDS, IN_FLIGHT, KILL_AFTER = 8, 1500, 150

    def publish_lines(self, ids):
        return "".join(json.dumps({"op": "publish", "room": self.room, "event": "n",
                                   "data": {"id": i}, "id": i}) + "\n" for i in ids).encode()

    def publish_until_killed(self, ids, acked):
        """Sends every publish at once, reads answers; SIGKILLs the sidecar after KILL_AFTER."""
        with harness.ControlConnection(self.stack.control_socket) as control:
            control.socket.sendall(self.publish_lines(ids))
            for publish_id in ids:
                try:
                    line = control.line_text()
                except (OSError, EOFError, ConnectionError):
                    return
                if not line:
                    return
                if json.loads(line).get("ok"):
                    acked.append(publish_id)
                if len(acked) == self.KILL_AFTER:
                    self.stack.kill_process("sidecar")

    def publish_all(self, ids):
        with harness.ControlConnection(self.stack.control_socket) as control:
            control.socket.sendall(self.publish_lines(ids))
            for _ in ids:
                self.assertTrue(control.line()["ok"])

    def test_what_a_killed_sidecar_did_not_answer_is_sent_again_and_arrives_once(self):
        self.room = "in-flight"
        received = collections.Counter()

        async def receive(client, until_ids=(), quiet=0.5):
            try:
                while True:
                    message = await client.next(quiet if set(until_ids) <= received.keys()
                                                else 20)
                    if message.get("type") == "message":
                        received[message["data"]["id"]] += 1
            except asyncio.TimeoutError:
                return
            except websockets.ConnectionClosed:
                return

        resent_total = 0
        for round_number in range(self.ROUNDS):
            ids = ["r%d-%d" % (round_number, n) for n in range(self.IN_FLIGHT)]
            acked = []

            async def until_killed():
                async with RoomClient(self.stack.ws_url + "/ws/rooms/" + self.room) as client:
                    self.assertEqual((await client.next())["type"], "subscribed")
                    publisher = threading.Thread(target=self.publish_until_killed,
                                                 args=(ids, acked))
                    publisher.start()
                    await receive(client, quiet=5)
                    publisher.join()

            self.run_async(until_killed())
            self.assertGreaterEqual(len(acked), self.KILL_AFTER)
            unanswered = [i for i in ids if i not in set(acked)]
            resent_total += len(unanswered)
            self.stack.start_sidecar()

            async def after_restart():
                async with RoomClient(self.stack.ws_url + "/ws/rooms/" + self.room) as client:
                    self.assertEqual((await client.next())["type"], "subscribed")
                    if unanswered:
                        await asyncio.get_running_loop().run_in_executor(
                            None, self.publish_all, unanswered)
                    await receive(client, until_ids=unanswered)

            self.run_async(after_restart())
            missing = [i for i in unanswered if received[i] == 0]
            self.assertEqual(missing, [], "what was sent again arrives")
        doubled = sorted(i for i, count in received.items() if count > 1)
        print("publishes in flight at a kill: %d rounds, %d sent again, %d received, %d twice"
              % (self.ROUNDS, resent_total, len(received), len(doubled)))
        self.assertGreater(resent_total, 0, "some publishes were in flight at each kill")
        self.assertEqual(doubled, [], "a publish the room got before the kill was answered")


if __name__ == "__main__":
    harness.main()
