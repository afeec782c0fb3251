"""Job control through the shipped nginx site: DELETE /jobs/ID (docs/http.md) and retries of a
temporary failure (docs/program.md).

Cancel: a queued job never runs, a running one loses its whole process group (SIGTERM, SIGKILL
after --kill-grace), the room gets job.cancelled exactly once, an ended job is 409
job_finished, and only the machine itself may cancel (the site's /push rule). Retries: a
program that exits 75 runs again after a backoff, with each attempt's events under keys of
their own, until --retries is spent.

The program is tests/fixtures/job_behaviour.sh: "gate PATH" waits for PATH, "hang" ignores
SIGTERM and leaves a helper in its process group, "tempfail PATH" fails once, temporarily.
"""

import json
import os
import subprocess
import threading
import time

import harness
from harness import RoomClient
from test_app_recovery import RecoveryCase, event_of


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as stat:  # a zombie is gone for our purpose
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


class Cancel(RecoveryCase):
    APP_ARGS = ("--workers", "1", "--kill-grace", "300")

    def delete(self, job_id, *curl_args):
        status, _, body = self.curl("-X", "DELETE", *curl_args,
                                    self.stack.url + "/jobs/" + job_id)
        return status, json.loads(body) if body.startswith("{") else body

    def work_file(self, job_id, name):
        return os.path.join(self.stack.spool_dir, "jobs", job_id, "work", name)

    def test_a_running_job_loses_its_process_group_and_a_queued_one_never_runs(self):
        room = "cancel"

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                running = self.upload_mode("hang", room)
                queued = self.upload_mode("ok", room)
                await client.until(event_of(running, "job.started"))
                self.eventually(lambda: os.path.exists(self.work_file(running, "helper.pid")),
                                "the program's helper")
                pids = []
                for name in ("main.pid", "helper.pid"):
                    with open(self.work_file(running, name)) as recorded:
                        pids.append(int(recorded.read()))

                status, body = self.delete(queued)
                self.assertEqual((status, body["status"]), (200, "cancelled"), body)
                began = time.monotonic()
                status, body = self.delete(running)
                took = time.monotonic() - began
                self.assertEqual((status, body["status"]), (200, "cancelled"), body)
                gone = [pid for pid in pids if not alive(pid)]
                seen = await client.until(event_of(running, "job.cancelled"))
                seen += await client.nothing_for(1.0)
                return running, queued, pids, gone, took, seen

        running, queued, pids, gone, took, seen = self.run_async(scenario())
        self.assertEqual(gone, pids, "the program and its helper are gone when DELETE answers")
        self.assertLess(took, 5, "answered within the kill grace and a little")
        mine = [(m["event"], m["data"]["jobId"]) for m in seen if m.get("type") == "message"]
        self.assertEqual(mine.count(("job.cancelled", queued)), 1, mine)
        self.assertEqual(mine.count(("job.cancelled", running)), 1, mine)
        self.assertNotIn(("job.started", queued), mine, "the queued job never ran")
        self.assertEqual([e for e, j in mine if j == running and e != "job.progress"],
                         ["job.cancelled"], "after job.started: job.cancelled, nothing else")
        for job_id in (running, queued):
            self.assertEqual(self.job(job_id)["status"], "cancelled")
        self.assertFalse(os.path.exists(self.work_file(queued, "main.pid")))

        status, body = self.delete(running)
        self.assertEqual((status, body["error"]["code"]), (409, "job_finished"), body)
        _, _, metrics = self.curl(self.stack.url + "/metrics/app")
        self.assertIn("\nroompush_app_jobs_cancelled_total 2\n", metrics)
        self.assertIn("\nroompush_app_job_run_seconds_count 1\n", metrics,
                      "the running job's program ran; the queued one's never did")

    def test_an_upload_waiting_for_its_job_hears_the_cancel(self):
        gate = self.gate("waited")
        path = self.write_fixture("waited-%d.txt" % time.monotonic_ns(), b"gate " + gate.encode())
        answers = []
        upload = threading.Thread(target=lambda: answers.append(self.curl(
            "-F", "roomId=waited", "-F", "file=@" + path, self.stack.url + "/cad?wait=20")))
        upload.start()
        self.eventually(lambda: self.listed_running("waited"), "the job to run")
        job_id = self.listed_running("waited")[0]
        began = time.monotonic()
        status, body = self.delete(job_id)
        self.assertEqual((status, body["status"]), (200, "cancelled"), body)
        upload.join(timeout=20)
        status, _, body = answers[0]
        self.assertEqual((status, json.loads(body)["status"]), (201, "cancelled"), body)
        self.assertLess(time.monotonic() - began, 8, "the ?wait answered at the cancel")

    def listed_running(self, room):
        _, _, body = self.curl(self.stack.url + "/jobs?status=running&room=" + room)
        return [job["jobId"] for job in json.loads(body)["jobs"]]

    def test_refusals(self):
        done = self.upload_mode("ok", "refusals")
        self.eventually(lambda: self.job(done)["status"] == "done", "the job to finish")
        status, body = self.delete(done)
        self.assertEqual((status, body["error"]["code"]), (409, "job_finished"), body)
        self.assertEqual(self.job(done)["status"], "done")
        for job_id in ("0" * 32, "nope", "../../etc/passwd", "A" * 5000):
            status, body = self.delete(job_id)
            self.assertIn(status, (404, 414), job_id)
        # Another client than the machine itself: nginx refuses, the job keeps running.
        gate = self.gate("remote")
        running = self.upload_mode("gate " + gate, "refusals")
        status, _ = self.delete(running, "--interface", "127.0.0.2")
        self.assertEqual(status, 403)
        self.open_gate(gate)
        self.eventually(lambda: self.job(running)["status"] == "done", "the job to finish")
        # From the machine itself, a method the route does not know is the app's 405.
        status, headers, _ = self.curl("-X", "PUT", self.stack.url + "/jobs/" + running)
        self.assertEqual((status, headers.get("allow")), (405, "GET, DELETE"))


class Retries(RecoveryCase):
    APP_ARGS = ("--workers", "1", "--retries", "2", "--retry-backoff", "200")

    def test_a_temporary_failure_runs_again_and_succeeds_with_its_events_in_order(self):
        room = "retry-once"
        flag = os.path.join(self.run_dir, "tempfail-%d" % time.monotonic_ns())

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                job_id = self.upload_mode("tempfail " + flag, room)
                seen = await client.until(event_of(job_id, "job.done", "job.failed"), timeout=20)
                return job_id, seen + await client.nothing_for(0.5)

        job_id, seen = self.run_async(scenario())
        events = [m["event"] for m in seen if m.get("type") == "message"
                  and m["data"].get("jobId") == job_id and m["event"] != "job.progress"]
        self.assertEqual(events, ["job.queued", "job.started", "job.retrying", "job.started",
                                  "job.done"])
        retrying = next(m for m in seen if m.get("event") == "job.retrying")
        self.assertEqual(retrying["data"]["attempt"], 1)
        self.assertEqual(retrying["data"]["error"]["exitCode"], 75)
        self.assertIn("licence server", retrying["data"]["error"]["message"])
        self.assertTrue(100 <= retrying["data"]["retryInMs"] <= 300, retrying)
        job = self.job(job_id)
        self.assertEqual((job["status"], job["attempt"], job["result"]),
                         ("done", 2, {"ok": True, "retried": True}))
        self.assertNotIn("retryAt", job)

    def test_after_the_last_retry_the_job_fails_and_a_waiting_retry_can_be_cancelled(self):
        room = "retry-spent"

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                job_id = self.upload_mode("tempfail-always", room)
                seen = await client.until(event_of(job_id, "job.done", "job.failed"), timeout=30)
                return job_id, seen

        job_id, seen = self.run_async(scenario())
        mine = [m for m in seen if m.get("type") == "message"
                and m["data"].get("jobId") == job_id]
        self.assertEqual([m["data"]["attempt"] for m in mine if m["event"] == "job.retrying"],
                         [1, 2])
        self.assertEqual(sum(m["event"] == "job.started" for m in mine), 3)
        job = self.job(job_id)
        self.assertEqual((job["status"], job["attempt"], job["error"]["exitCode"]),
                         ("failed", 3, 75))
        _, _, metrics = self.curl(self.stack.url + "/metrics/app")
        self.assertIn("\nroompush_app_jobs_failed_total 1\n", metrics)


    delete = Cancel.delete


class RetryWaiting(RecoveryCase):
    APP_ARGS = ("--workers", "1", "--retries", "2", "--retry-backoff", "20000")

    def queued_count(self):
        _, _, body = self.curl(self.stack.url + "/healthz")
        return json.loads(body)["jobs"]["queued"]

    def test_a_job_waiting_for_its_retry_is_queued_and_can_be_cancelled(self):
        waiting = self.upload_mode("tempfail-always", "retry-waiting")
        self.eventually(lambda: self.job(waiting).get("attempt") == 2, "the first attempt")
        job = self.job(waiting)
        self.assertEqual(job["status"], "queued")
        self.assertGreater(job["retryAt"], time.time() * 1000 + 5000, "10-30 s from now")
        self.assertEqual(self.queued_count(), 1)
        status, body = Cancel.delete(self, waiting)
        self.assertEqual((status, body["status"]), (200, "cancelled"), body)
        self.assertEqual(self.queued_count(), 0, "its retry will not run")
        status, body = Cancel.delete(self, waiting)
        self.assertEqual(status, 409)


class FairLimits(RecoveryCase):
    APP_ARGS = ("--workers", "2", "--room-jobs", "3", "--room-running", "1")

    def upload(self, mode, room, query=""):
        path = self.write_fixture("input-%d.txt" % time.monotonic_ns(), mode.encode() + b"\n")
        status, headers, body = self.curl("-F", "roomId=" + room, "-F", "file=@" + path,
                                          self.stack.url + "/cad" + query)
        return status, headers, json.loads(body)

    def test_a_busy_room_is_capped_and_leaves_a_worker_to_another_room(self):
        gates = [self.gate("busy%d" % n) for n in range(3)]
        busy = []
        for gate in gates:
            status, _, body = self.upload("gate " + gate, "busy")
            self.assertEqual(status, 202, body)
            busy.append(body["jobId"])
        status, headers, body = self.upload("ok", "busy")
        self.assertEqual((status, body["error"]["code"]), (429, "room_busy"), body)
        self.assertEqual(headers.get("retry-after"), "5")
        # The room runs one job at a time: its other two wait, and the second worker is free.
        self.eventually(lambda: self.job(busy[0])["status"] == "running", "the first to run")
        status, _, body = self.upload("ok", "calm")
        self.assertEqual(status, 202, body)
        self.eventually(lambda: self.job(body["jobId"])["status"] == "done",
                        "the other room's job to run beside the busy room's")
        self.assertEqual([self.job(j)["status"] for j in busy], ["running", "queued", "queued"])
        for gate in gates:
            self.open_gate(gate)
        self.eventually(lambda: all(self.job(j)["status"] == "done" for j in busy), "all done")
        status, _, body = self.upload("ok", "busy")
        self.assertEqual(status, 202, body)

    def test_priority_is_a_digit(self):
        for value in ("10", "-1", "x", "%00", "9" * 5000):
            status, _, body = self.upload("ok", "prio", "?priority=" + value)
            self.assertEqual((status, body["error"]["code"]), (400, "invalid_priority"), value)
        status, _, body = self.upload("ok", "prio", "?priority=7")
        self.assertEqual(status, 202, body)
        self.eventually(lambda: self.job(body["jobId"])["status"] == "done", "the job")
        self.assertEqual(self.job(body["jobId"])["priority"], 7)


class OperatorView(RecoveryCase):
    APP_ARGS = ("--workers", "1", "--retries", "0")

    def pushctl_jobs(self, *args, app_url=None):
        return subprocess.run([os.path.join(harness.BUILD_DIR, "cli/pushctl"), "--config", "",
                               "--app-url", app_url or self.stack.url, "jobs"] + list(args),
                              capture_output=True, text=True, timeout=30)

    def listed(self, query, *curl_args):
        status, _, body = self.curl(*curl_args, self.stack.url + "/jobs?" + query)
        if status != 200:
            return status, body
        return status, [job["jobId"] for job in json.loads(body)["jobs"]]

    def test_an_operator_lists_failed_jobs_and_runs_one_again(self):
        room = "ops"
        flag = os.path.join(self.run_dir, "ops-%d" % time.monotonic_ns())

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                job_id = self.upload_mode("tempfail " + flag, room)
                first = await client.until(event_of(job_id, "job.failed", "job.done"))
                self.assertEqual(self.listed("room=ops&status=failed"), (200, [job_id]))
                status, _, body = self.curl("-X", "POST",
                                            self.stack.url + "/jobs/" + job_id + "/retry")
                self.assertEqual(status, 202, body)
                self.assertEqual((json.loads(body)["status"], json.loads(body)["attempt"]),
                                 ("queued", 2))
                second = await client.until(event_of(job_id, "job.failed", "job.done"))
                return job_id, first, second + await client.nothing_for(0.5)

        job_id, first, second = self.run_async(scenario())
        self.assertEqual(first[-1]["event"], "job.failed", "no automatic retry: --retries 0")
        self.assertEqual([m["event"] for m in second if m.get("type") == "message"
                          and m["event"] != "job.progress"],
                         ["job.queued", "job.started", "job.done"])
        self.assertEqual(self.listed("room=ops&status=failed"), (200, []))
        self.assertEqual(self.listed("room=ops&status=done"), (200, [job_id]))
        status, _, body = self.curl("-X", "POST", self.stack.url + "/jobs/" + job_id + "/retry")
        self.assertEqual((status, json.loads(body)["error"]["code"]), (409, "job_not_failed"))
        for bad in ("status=gone", "limit=0", "room=%00", "limit=" + "9" * 3000):
            status, body = self.listed(bad)
            self.assertIn(status, (400, 414), bad)
        # pushctl jobs: the same through the site, with its exit codes.
        listed = self.pushctl_jobs("--json", "list", "--room", "ops")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertEqual([j["jobId"] for j in json.loads(listed.stdout)["jobs"]], [job_id])
        table = self.pushctl_jobs("list", "--status", "done")
        self.assertIn(job_id, table.stdout)
        self.assertIn("ROOM", table.stdout)
        shown = self.pushctl_jobs("show", job_id)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("status: done", shown.stdout)
        self.assertIn("attempt: 2", shown.stdout)
        refused = self.pushctl_jobs("--json", "retry", job_id)
        self.assertEqual(refused.returncode, 1)
        self.assertEqual(json.loads(refused.stderr)["error"]["code"], "job_not_failed")
        gate = self.gate("pushctl-cancel")
        running = self.upload_mode("gate " + gate, room)
        self.eventually(lambda: self.job(running)["status"] == "running", "the job to run")
        cancelled = self.pushctl_jobs("cancel", running)
        self.assertEqual((cancelled.returncode, cancelled.stdout.strip()),
                         (0, running + " cancelled"), cancelled.stderr)
        retried = self.pushctl_jobs("retry", running)
        self.assertEqual((retried.returncode, retried.stdout.strip()),
                         (0, running + " queued as attempt 2"), retried.stderr)
        self.open_gate(gate)
        self.eventually(lambda: self.job(running)["status"] == "done", "the retried job")
        for args, url, code in ((("show", "0" * 32), None, 1), (("show", "NOPE"), None, 2),
                                (("list", "--status", "lost"), None, 2),
                                (("list", "--limit", "0"), None, 2),
                                (("list", "--room", "a b"), None, 2), (("list",), "ftp://x", 2),
                                (("list",), "http://127.0.0.1:1", 3)):
            result = self.pushctl_jobs(*args, app_url=url)
            self.assertEqual(result.returncode, code, (args, result.stderr))
            self.assertIn(len(result.stderr.strip().splitlines()), (1, 2), result.stderr)

        # The machine itself only: from another address nginx refuses both.
        self.assertEqual(self.listed("room=ops", "--interface", "127.0.0.2")[0], 403)
        status, _, _ = self.curl("--interface", "127.0.0.2", "-X", "POST",
                                 self.stack.url + "/jobs/" + job_id + "/retry")
        self.assertEqual(status, 403)


if __name__ == "__main__":
    harness.main()
