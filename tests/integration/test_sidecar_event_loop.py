"""The sidecar's two event loops: libev's epoll backend (the default, through libwebsockets'
libev plugin) and libwebsockets' own poll(); and what happens when the plugin is missing."""

import asyncio
import glob
import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
import test_sidecar_limits
import test_sidecar_rooms
from harness import ControlConnection, RoomClient, devstack

PLUGINS = glob.glob("/usr/lib/*/libwebsockets-evlib_ev.so")


class Epoll(harness.StackTestCase):
    SIDECAR_ARGS = ("--event-loop", "epoll")

    def test_it_runs_on_epoll_and_a_room_of_fifty_gets_every_publish_in_order(self):
        self.assertIn("event=ws_listening", self.stack.log_tail("sidecar", 200))
        self.assertIn("event_loop=epoll", self.stack.log_tail("sidecar", 200))

        async def scenario():
            clients = [RoomClient(self.stack.ws_url + "/ws/rooms/epoll") for _ in range(50)]
            for client in clients:
                await client.__aenter__()
                self.assertEqual((await client.next())["type"], "subscribed")
            try:
                with ControlConnection(self.stack.control_socket) as control:
                    acks = [control.publish("epoll", {"n": n}) for n in range(20)]
                return acks, [[(await c.next())["data"]["n"] for _ in range(20)] for c in clients]
            finally:
                for client in clients:
                    await client.__aexit__(None, None, None)

        acks, received = self.run_async(scenario())
        self.assertEqual([ack["delivered"] for ack in acks], [50] * 20)
        self.assertEqual(received, [list(range(20))] * 50)


# libwebsockets' own loop stays a supported choice (--event-loop poll): the suites that exercise
# timers, closes, slow consumers and replays run on it too.
class PollLimits(test_sidecar_limits.Limits):
    SIDECAR_ARGS = test_sidecar_limits.Limits.SIDECAR_ARGS + ("--event-loop", "poll")

    def test_it_says_it_runs_on_poll(self):
        self.assertIn("event_loop=poll", self.stack.log_tail("sidecar", 200))


class PollRooms(test_sidecar_rooms.Rooms):
    SIDECAR_ARGS = ("--event-loop", "poll")


def sidecar_binary():
    return os.path.join(harness.BUILD_DIR, "ws-sidecar/roompush-sidecar")


class ListenFailure(unittest.TestCase):

    def test_a_socket_that_cannot_be_made_is_listen_failed_not_the_event_loop(self):
        directory = devstack.daemon_dir(tempfile.mkdtemp(prefix="rp-evloop-", dir="/tmp"))
        self.addCleanup(shutil.rmtree, directory, True)
        result = subprocess.run(devstack.daemon_command(
            [sidecar_binary(), "--event-loop", "epoll",
             "--ws-socket", os.path.join(directory, "missing/ws.sock"),
             "--control-socket", os.path.join(directory, "control.sock")]),
            capture_output=True, text=True, timeout=15)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("code=listen_failed", result.stderr)
        self.assertNotIn("event_loop_unavailable", result.stderr)


def namespace_command():
    """How to get a private mount namespace here: as root, or as a user in a user namespace."""
    for command in (["unshare", "-m"], ["unshare", "-rm"]):
        try:
            if subprocess.run(command + ["true"], capture_output=True, timeout=10).returncode == 0:
                return command
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


def stop_if_running(process):
    if process.poll() is None:
        process.kill()
        process.wait(10)


@unittest.skipUnless(namespace_command(), "needs a mount namespace to hide the plugin")
class MissingPlugin(unittest.TestCase):
    """The sidecar started in a mount namespace where lws' libev plugin is an empty file, as on a
    machine without the package libwebsockets-evlib-ev."""

    def setUp(self):
        self.dir = devstack.daemon_dir(tempfile.mkdtemp(prefix="rp-evloop-", dir="/tmp"))
        self.ws_socket = os.path.join(self.dir, "ws.sock")
        self.control_socket = os.path.join(self.dir, "control.sock")
        self.log = open(os.path.join(self.dir, "sidecar.log"), "w+")

    def tearDown(self):
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, event_loop):
        # libwebsockets 4.1 leaks the directory entry of a plugin it failed to load (scandir in
        # lws_plugins_init); the sanitizer build would fail the exit code on it. Ours to ignore
        # only here, where the failure is the point.
        suppressions = os.path.join(self.dir, "lsan.supp")
        with open(suppressions, "w") as out:
            out.write("leak:scandir\n")
        environment = dict(os.environ)
        environment["LSAN_OPTIONS"] = "suppressions=%s:print_suppressions=0" % suppressions
        hide = "".join("mount --bind /dev/null %s && " % path for path in PLUGINS)
        # The mounts need root; the sidecar then runs as it would under its unit.
        command = "%sexec %s" % (hide, shlex.join(devstack.daemon_command(
            [sidecar_binary(), "--ws-socket", self.ws_socket, "--control-socket",
             self.control_socket, "--event-loop", event_loop])))
        process = subprocess.Popen(namespace_command() + ["sh", "-c", command], stdout=self.log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   env=environment)
        self.addCleanup(stop_if_running, process)
        return process

    def logged(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def wait_for_sockets(self, process):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            if os.path.exists(self.ws_socket) and os.path.exists(self.control_socket):
                return
            time.sleep(0.05)
        self.fail("the sidecar did not listen:\n" + self.logged())

    def test_auto_falls_back_to_poll_says_so_and_serves(self):
        process = self.start("auto")
        try:
            self.wait_for_sockets(process)

            async def scenario():
                async with harness.websockets.unix_connect(
                        self.ws_socket, "ws://localhost/ws/rooms/fallback") as socket:
                    subscribed = await asyncio.wait_for(socket.recv(), 10)
                    with ControlConnection(self.control_socket) as control:
                        ack = control.publish("fallback", {"n": 1})
                    return subscribed, ack, await asyncio.wait_for(socket.recv(), 10)

            subscribed, ack, message = asyncio.run(scenario())
            self.assertEqual(json.loads(subscribed)["type"], "subscribed")
            self.assertEqual(ack["delivered"], 1)
            self.assertEqual(json.loads(message)["data"], {"n": 1})
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(15)
        text = self.logged()
        self.assertEqual(code, 0, text)
        if PLUGINS:
            self.assertIn("event=event_loop_fallback", text)
            self.assertIn("libwebsockets-evlib-ev", text)
        self.assertIn("event_loop=poll", text)

    def test_epoll_without_the_plugin_is_a_clear_error(self):
        if not PLUGINS:
            self.skipTest("the plugin is not installed here, so there is nothing to hide")
        process = self.start("epoll")
        code = process.wait(15)
        text = self.logged()
        self.assertEqual(code, 1, text)
        self.assertIn("code=event_loop_unavailable", text)
        self.assertIn("libwebsockets-evlib-ev", text)


if __name__ == "__main__":
    harness.main()
