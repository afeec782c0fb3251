"""What ships for production, checked here: the nginx site renders and passes nginx -t, the
systemd units verify and score 2.0 or better, the sidecar speaks sd_notify, and the app serves
/cad from a socket handed over the way systemd's socket activation does."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import devstack

UNITS = ["roompush-sidecar.service", "roompush-fcgi.socket", "roompush-fcgi.service"]


class Units(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rp-units-", dir="/tmp")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def installed_units(self):
        """The units with /usr/bin pointing at this build, as `verify` checks that binaries exist."""
        programs = {"/usr/bin/roompush-sidecar": "ws-sidecar/roompush-sidecar",
                    "/usr/bin/roompush-fcgi": "fcgi-app/roompush-fcgi",
                    "/usr/bin/pushctl": "cli/pushctl"}
        for unit in UNITS:
            with open(os.path.join(harness.REPO, "systemd", unit)) as text:
                content = text.read()
            for installed, built in programs.items():
                content = content.replace(installed, os.path.join(harness.BUILD_DIR, built))
            with open(os.path.join(self.dir, unit), "w") as out:
                out.write(content)
        return [os.path.join(self.dir, unit) for unit in UNITS]

    def test_units_verify(self):
        result = subprocess.run(["systemd-analyze", "verify", "--man=no"] + self.installed_units(),
                                capture_output=True, text=True)
        problems = [line for line in result.stderr.splitlines() if "roompush" in line]
        self.assertEqual(problems, [])
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_sysusers_and_tmpfiles_make_the_user_and_runtime_directory(self):
        # Into a scratch root, as the package's postinst runs them on a real one.
        os.makedirs(os.path.join(self.dir, "etc"))
        for kind in ("sysusers", "tmpfiles"):
            os.makedirs(os.path.join(self.dir, "usr/lib", kind + ".d"))
            shutil.copy(os.path.join(harness.REPO, "systemd", "roompush.%s.conf" % kind),
                        os.path.join(self.dir, "usr/lib", kind + ".d", "roompush.conf"))
        for command in (["systemd-sysusers"], ["systemd-tmpfiles", "--create"]):
            made = subprocess.run(command + ["--root=" + self.dir, "roompush.conf"],
                                  capture_output=True, text=True)
            self.assertEqual(made.returncode, 0, made.stderr)
        with open(os.path.join(self.dir, "etc/passwd")) as passwd:
            users = {line.split(":")[0]: line.split(":") for line in passwd}
        with open(os.path.join(self.dir, "etc/group")) as group:
            groups = {line.split(":")[0]: line.strip().split(":") for line in group}
        self.assertEqual(users["roompush"][6].strip(), "/usr/sbin/nologin")
        # nginx reaches the daemons through the sockets given to its group, never as a member of
        # theirs (the group can read the token secret and use the control socket).
        self.assertNotIn("www-data", groups["roompush"][3].split(","))
        runtime = os.stat(os.path.join(self.dir, "run/roompush"))
        # nginx passes through to ws.sock (group www-data) but cannot list the directory.
        self.assertEqual(runtime.st_mode & 0o777, 0o751)
        self.assertEqual(runtime.st_uid, int(users["roompush"][2]))

    def test_app_unit_waits_longer_than_the_app_takes_to_stop(self):
        printed = subprocess.run([os.path.join(harness.BUILD_DIR, "fcgi-app/roompush-fcgi"),
                                  "--print-config"], capture_output=True, text=True)
        self.assertEqual(printed.returncode, 0, printed.stderr)
        defaults = dict(re.findall(r"^#?([a-z-]+)=(\d+)$", printed.stdout, re.MULTILINE))
        with open(os.path.join(harness.REPO, "systemd", "roompush-fcgi.service")) as unit:
            timeout_s = int(re.search(r"^TimeoutStopSec=(\d+)$", unit.read(), re.MULTILINE)[1])
        flush_ms = 2000  # the outbox's last chance on SIGTERM (docs/app.md)
        needed_ms = int(defaults["stop-grace"]) + int(defaults["kill-grace"]) + flush_ms
        self.assertGreater(timeout_s * 1000, needed_ms)

    def test_services_are_hardened_to_exposure_2_or_lower(self):
        for unit in ("roompush-sidecar.service", "roompush-fcgi.service"):
            with self.subTest(unit=unit):
                result = subprocess.run(["systemd-analyze", "security", "--offline=true",
                                         os.path.join(harness.REPO, "systemd", unit)],
                                        capture_output=True, text=True)
                match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
                self.assertIsNotNone(match, result.stdout + result.stderr)
                self.assertLessEqual(float(match.group(1)), 2.0)

    def test_no_sidecar_unit_hides_proc_sys_from_jemalloc(self):
        # ProcSubset=pid hides /proc/sys/vm/overcommit_memory; jemalloc would then return memory
        # as a PROT_NONE mapping per purge (docs/deploy.md). The booted test checks one unit.
        for unit in ("roompush-sidecar.service", "roompush-sidecar@.service"):
            with open(os.path.join(harness.REPO, "systemd", unit)) as text:
                self.assertNotRegex(text.read(), r"(?m)^ProcSubset=", unit)

    def test_sidecar_notifies_ready_and_feeds_the_watchdog(self):
        devstack.daemon_dir(self.dir)
        notify_path = os.path.join(self.dir, "notify.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        os.chmod(notify_path, 0o777)  # as systemd's own /run/systemd/notify: any service sends
        notify.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="2000000")
        process = subprocess.Popen(devstack.daemon_command(
            [os.path.join(harness.BUILD_DIR, "ws-sidecar/roompush-sidecar"),
             "--ws-socket", os.path.join(self.dir, "ws.sock"),
             "--control-socket", os.path.join(self.dir, "c.sock")]), env=env,
            stderr=subprocess.DEVNULL)
        try:
            messages = []
            deadline = time.monotonic() + 10
            while "WATCHDOG=1" not in messages and time.monotonic() < deadline:
                messages += notify.recv(4096).decode().split("\n")
            self.assertIn("READY=1", messages)
            self.assertIn("WATCHDOG=1", messages)
            self.assertLess(messages.index("READY=1"), messages.index("WATCHDOG=1"))
            self.assertTrue(os.path.exists(os.path.join(self.dir, "c.sock")), "ready means listening")
        finally:
            process.terminate()
            process.wait(10)
            notify.close()
        self.assertEqual(process.returncode, 0)


class SocketActivation(harness.StackTestCase):

    def test_app_serves_cad_from_a_socket_systemd_hands_it(self):
        self.assertEqual(self.stack.stop_process("app"), 0)
        app = self.stack.binary("fcgi-app/roompush-fcgi")
        log = open(os.path.join(self.stack.log_dir, "app-activated.log"), "ab")
        # As roompush-fcgi.socket would: the socket is bound by someone else and passed as fd 3
        # to the app, which runs as the unit's user (roompush, when root runs the test).
        activated = subprocess.Popen(
            ["systemd-socket-activate", "-l", self.stack.fcgi_socket] + devstack.daemon_command(
                [app, "--listen", os.path.join(self.run_dir, "unused.sock"),
                 "--spool", self.stack.spool_dir, "--control-socket", self.stack.control_socket,
                 "--exec", self.stack.exec_template]
                + (["--max-address-space", "0"] if self.stack.sanitized_build() else [])),
            stdout=log, stderr=log, start_new_session=True)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(self.stack.fcgi_socket) and time.monotonic() < deadline:
                time.sleep(0.05)
            identity = devstack.daemon_identity()
            if identity:  # SocketUser=roompush, SocketGroup=www-data, SocketMode=0660
                os.chown(self.stack.fcgi_socket, identity.uid, identity.nginx_gid)
                os.chmod(self.stack.fcgi_socket, 0o660)
            else:
                os.chmod(self.stack.fcgi_socket, 0o666)
            stl = self.write_fixture("cube.stl", harness.binary_stl(harness.cube_triangles()))

            async def scenario():
                async with harness.RoomClient(self.stack.ws_url + "/ws/rooms/act") as room:
                    await room.next()
                    status, _, body = self.upload(stl, room="act")
                    self.assertEqual(status, 202, body)
                    return await room.until(lambda m: m.get("event") in ("job.done", "job.failed"))

            seen = self.run_async(scenario())
            self.assertEqual(seen[-1]["event"], "job.done")
            self.assertEqual(seen[-1]["data"]["result"]["triangles"], 12)
            self.assertFalse(os.path.exists(os.path.join(self.run_dir, "unused.sock")),
                             "with a socket from systemd the app binds nothing itself")
        finally:
            activated.terminate()
            activated.wait(15)
            log.close()
        self.stack.start_app()


if __name__ == "__main__":
    harness.main()
