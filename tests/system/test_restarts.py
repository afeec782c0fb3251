"""What systemd does to the daemons on a booted Debian 12, and what must hold after each:
`systemctl restart` and `stop` of the socket-activated app with jobs queued and running, a
sidecar restart with browsers connected and pushes made while it was away, a sidecar whose
event loop is stuck (the watchdog), and daemons killed outright (Restart=on-failure)."""

import asyncio
import re
import time

import system_harness
from system_harness import RoomWatcher, SystemTestCase, terminal_events


class Restarts(SystemTestCase):

    MACHINE = "rp-restarts"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.install_and_start()
        cls.use_slow_program(seconds=2, workers=1, stop_grace_ms=500)
        cls.sh("systemctl restart roompush-fcgi.service")

    def one_end_per_job(self, watcher, job_ids):
        return lambda _: all(len(terminal_events(watcher.messages, job)) >= 1 for job in job_ids)

    def test_app_restarts_keep_uploads_working_and_end_every_job_once(self):
        async def scenario():
            watcher = RoomWatcher(self, "jobs")
            task = asyncio.create_task(watcher.watch())
            await watcher.joined()
            jobs = [self.upload("jobs", item=str(n))["jobId"] for n in range(3)]
            await watcher.until(lambda m: any(e["data"]["jobId"] == jobs[0]
                                              for e in watcher.events("job.started")))
            # The first runs, the others wait in the queue: restart twice, back to back.
            for _ in range(2):
                self.sh("systemctl restart roompush-fcgi.service")
            self.assertEqual(self.unit_property("roompush-fcgi.service", "ActiveState"), "active")
            jobs.append(self.upload("jobs", item="after")["jobId"])
            await watcher.until(self.one_end_per_job(watcher, jobs), timeout=60)
            await asyncio.sleep(1)  # anything pushed twice would arrive now
            await watcher.stop()
            task.cancel()
            return jobs, watcher.messages

        jobs, messages = self.run_async(scenario())
        ends = {job: terminal_events(messages, job) for job in jobs}
        for job, events in ends.items():
            self.assertEqual(len(events), 1, "job %s ended %s" % (job, events))
        # Queued jobs run after the restarts; the one running was interrupted (or finished).
        self.assertEqual(ends[jobs[2]], ["job.done"])
        self.assertEqual(ends[jobs[3]], ["job.done"])
        self.assertIn(ends[jobs[0]][0], ("job.done", "job.failed"))

    def test_a_request_starts_a_stopped_app_again(self):
        self.sh("systemctl stop roompush-fcgi.service")
        self.assertEqual(self.unit_property("roompush-fcgi.service", "ActiveState"), "inactive")
        status, health = self.curl_json("http://127.0.0.1/healthz")
        self.assertEqual(status, 200, health)
        self.assertEqual(self.unit_property("roompush-fcgi.service", "ActiveState"), "active")

    def test_a_sidecar_restart_loses_nothing_the_app_pushed_meanwhile(self):
        async def scenario():
            watcher = RoomWatcher(self, "news")
            task = asyncio.create_task(watcher.watch())
            await watcher.joined()
            self.sh("pushctl publish news --event note --data '{\"n\":1}'")
            await watcher.until(lambda _: len(watcher.events("note")) == 1)
            self.sh("systemctl stop roompush-sidecar.service")
            status, queued = self.curl_json("http://127.0.0.1/push/news?event=note&id=while-away",
                                            "-X", "POST", "-d", '{"n":2}')
            self.assertEqual((status, queued.get("queued")), (202, True), queued)
            self.sh("systemctl start roompush-sidecar.service")
            await watcher.until(lambda _: len(watcher.events("note")) >= 2, timeout=30)
            self.sh("systemctl restart roompush-sidecar.service")
            self.sh("pushctl publish news --event note --data '{\"n\":3}'")
            await watcher.until(lambda _: len(watcher.events("note")) >= 3, timeout=30)
            await asyncio.sleep(1)
            await watcher.stop()
            task.cancel()
            return watcher

        watcher = self.run_async(scenario())
        self.assertEqual([m["data"]["n"] for m in watcher.events("note")], [1, 2, 3])
        self.assertIn(1001, watcher.closes)  # going away, on both stops
        self.assertGreaterEqual(watcher.connects, 3)
        resets = [m for m in watcher.messages if m.get("type") == "reset"]
        self.assertGreaterEqual(len(resets), 2, "the memory broker's new epoch is signalled")

    def test_the_watchdog_restarts_a_sidecar_whose_loop_is_stuck(self):
        unit = "roompush-sidecar.service"
        watchdog_s = int(re.match(r"(\d+)s$", self.unit_property(unit, "WatchdogUSec")).group(1))
        stuck = self.main_pid(unit)
        restarts = int(self.unit_property(unit, "NRestarts"))
        self.sh("kill -STOP %d" % stuck)
        started = time.monotonic()
        # SIGABRT at the watchdog's deadline waits for the stopped process, which systemd then
        # kills once TimeoutAbortSec (= TimeoutStopSec, 10 s) has passed.
        limit = watchdog_s + 10 + 10
        while time.monotonic() - started < limit:
            pid = int(self.unit_property(unit, "MainPID"))
            if pid not in (0, stuck) and self.unit_property(unit, "ActiveState") == "active":
                break
            time.sleep(0.5)
        else:
            self.fail("the sidecar stopped with SIGSTOP was not restarted within %d s" % limit)
        self.assertEqual(int(self.unit_property(unit, "NRestarts")), restarts + 1)
        self.assertIn("Watchdog timeout", self.sh("journalctl -u %s --no-pager" % unit).stdout)
        self.wait_for("curl -fsS http://127.0.0.1/healthz")

    def test_killed_daemons_come_back(self):
        for unit in ("roompush-sidecar.service", "roompush-fcgi.service"):
            with self.subTest(unit=unit):
                self.curl_json("http://127.0.0.1/healthz")  # the app runs (socket activation)
                killed = self.main_pid(unit)
                self.assertNotEqual(killed, 0)
                self.sh("kill -KILL %d" % killed)
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    pid = int(self.unit_property(unit, "MainPID"))
                    if pid not in (0, killed) and self.unit_property(unit, "ActiveState") == "active":
                        break
                    time.sleep(0.2)
                else:
                    self.fail("%s was not started again after SIGKILL" % unit)
                self.wait_for("curl -fsS http://127.0.0.1/healthz")


if __name__ == "__main__":
    system_harness.main()
