"""./dev up as a developer uses it: starts everything, refuses a second copy, stops cleanly."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import harness
from harness import devstack

DEV = os.path.join(harness.REPO, "dev")


def processes_mentioning(text):
    """PIDs of live processes whose command line contains `text`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as cmdline:
                if text.encode() in cmdline.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


class DevUp(unittest.TestCase):

    def setUp(self):
        self.run_dir = tempfile.mkdtemp(prefix="rp-dev-", dir="/tmp")
        self.port = devstack.free_port()
        self.env = dict(os.environ, ROOMPUSH_PORT=str(self.port), ROOMPUSH_RUN_DIR=self.run_dir,
                        ROOMPUSH_BUILD_DIR=harness.BUILD_DIR)

    def tearDown(self):
        for pid in processes_mentioning(self.run_dir):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def start(self, *extra):
        process = subprocess.Popen([DEV, "up", "--no-build"] + list(extra), env=self.env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if "roompush is up: http://127.0.0.1:%d" % self.port in line:
                return process
            if not line and process.poll() is not None:
                self.fail("./dev up exited: " + process.stderr.read())
        self.fail("./dev up did not say it was up")

    def stop_cleanly(self, process):
        """SIGTERM: ./dev up exits 0 and leaves no process of the stack behind."""
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        self.assertEqual(process.returncode, 0)
        time.sleep(0.2)
        self.assertEqual(processes_mentioning(self.run_dir), [], "a process was left behind")
        process.stdout.close()
        process.stderr.close()

    def check_stops_on(self, sig):
        process = self.start()
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.port, timeout=5) as r:
            self.assertEqual(r.status, 200)

        second = subprocess.run([DEV, "up", "--no-build"], env=self.env, capture_output=True,
                                text=True, timeout=30)
        self.assertNotEqual(second.returncode, 0)
        self.assertIn("already running", second.stderr)

        rooms = subprocess.run([DEV, "pushctl", "rooms"], env=self.env, capture_output=True,
                               text=True, timeout=30)
        self.assertEqual(rooms.returncode, 0, rooms.stderr)
        self.assertIn("ROOM", rooms.stdout)

        process.send_signal(sig)
        process.wait(timeout=20)
        self.assertEqual(process.returncode, 0)
        time.sleep(0.2)
        self.assertEqual(processes_mentioning(self.run_dir), [], "a process was left behind")
        self.assertFalse(devstack.port_in_use(self.port))
        process.stdout.close()
        process.stderr.close()

    def test_ctrl_c_stops_everything(self):
        self.check_stops_on(signal.SIGINT)

    def test_sigterm_stops_everything(self):
        self.check_stops_on(signal.SIGTERM)

    def test_two_nodes_share_rooms_through_a_private_redis(self):
        process = self.start("--nodes", "2")
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.port, timeout=5) as r:
            self.assertEqual(r.status, 200)
        said = [process.stdout.readline() for _ in range(3)]
        broker = [line for line in said if "broker: redis://127.0.0.1:" in line]
        self.assertTrue(broker, said)
        redis_port = int(broker[0].split("redis://127.0.0.1:")[1].split()[0])
        self.assertTrue(devstack.port_in_use(redis_port))
        self.assertTrue(os.path.isdir(os.path.join(self.run_dir, "redis", "appendonlydir")))
        self.assertTrue(os.path.exists(os.path.join(self.run_dir, "control-1.sock")))
        # Each node reports its members every 2 s; a request for them works from the start.
        rooms = subprocess.run([DEV, "pushctl", "rooms", "--cluster"], env=self.env,
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(rooms.returncode, 0, rooms.stderr)
        self.stop_cleanly(process)
        self.assertFalse(devstack.port_in_use(redis_port), "redis-server was left behind")

    def test_two_app_nodes_share_their_jobs_through_a_private_redis(self):
        process = self.start("--apps", "2")
        said = [process.stdout.readline() for _ in range(2)]
        store = [line for line in said if "job store: redis://127.0.0.1:" in line]
        self.assertTrue(store, said)
        self.assertIn(os.path.join(self.run_dir, "fcgi-1.sock"), store[0])
        self.assertTrue(os.path.isdir(os.path.join(self.run_dir, "spool-1", "jobs")))
        for _ in range(4):  # nginx takes turns: both nodes answer, and know no such job
            with self.assertRaises(urllib.error.HTTPError) as unknown:
                urllib.request.urlopen("http://127.0.0.1:%d/jobs/%s" % (self.port, "0" * 32),
                                       timeout=5)
            self.assertEqual(unknown.exception.code, 404)
            unknown.exception.close()
        self.stop_cleanly(process)

    def test_two_app_nodes_with_one_spool(self):
        process = self.start("--apps", "2", "--shared-spool")
        said = [process.stdout.readline() for _ in range(2)]
        spool = os.path.join(self.run_dir, "spool")
        self.assertTrue([line for line in said if "with one spool: " + spool in line], said)
        for node in ("app0", "app1"):  # each node's own files apart, the jobs shared
            self.assertTrue(os.path.isdir(os.path.join(spool, "nodes", node, "outbox")), node)
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "spool-1")))
        self.stop_cleanly(process)

    def test_shared_spool_needs_two_app_nodes(self):
        refused = subprocess.run([DEV, "up", "--no-build", "--shared-spool"], env=self.env,
                                 capture_output=True, text=True, timeout=120)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("--shared-spool needs --apps 2", refused.stderr)


if __name__ == "__main__":
    harness.main()
