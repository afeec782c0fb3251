"""What the system tests share: the packages under test, a booted machine per test class, the
operator commands of docs/deploy.md run as written, and WebSocket clients in the machine.

Run one file directly: /usr/bin/python3 tests/system/test_x.py --build-dir build
"""

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import websockets  # Debian's python3-websockets

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEPLOY_DOC = os.path.join(REPO, "docs", "deploy.md")
BUILD_DIR = os.environ.get("ROOMPUSH_BUILD_DIR", os.path.join(REPO, "build"))
SKIP = 77  # CTest's SKIP_RETURN_CODE for these tests

sys.path.insert(0, HERE)
import debian_root  # noqa: E402
from machine import CommandFailed, Machine  # noqa: E402

PREVIOUS_VERSION = "0.1.99"  # the "earlier release" an upgrade starts from: the same tree
PACKAGES_INSIDE = "/srv/roompush"  # where the machine sees the .deb files (read-only)


def main():
    """unittest.main() that takes --build-dir (ctest passes it) and skips (77) where a booted
    machine cannot be had: not root, or no systemd-nspawn / mmdebstrap."""
    global BUILD_DIR
    args = sys.argv[1:]
    if "--build-dir" in args:
        index = args.index("--build-dir")
        BUILD_DIR = os.path.abspath(args[index + 1])
        del args[index:index + 2]
    missing = [tool for tool in ("systemd-nspawn", "mmdebstrap", "cpack") if not shutil.which(tool)]
    if os.geteuid() != 0 or missing:
        print("skipped: the system tests boot a Debian machine, which needs root and %s"
              % (", ".join(missing) or "systemd-nspawn"))
        sys.exit(SKIP)
    unittest.main(argv=[sys.argv[0]] + args, verbosity=2)


# -- the packages -------------------------------------------------------------------------------
def build_package(out_dir, version=None):
    """cpack's .deb of the build tree, written into `out_dir`; `version` overrides its version
    (the same programs as another release)."""
    argv = ["cpack", "-G", "DEB", "-B", out_dir]
    if version:
        argv += ["-D", "CPACK_PACKAGE_VERSION=" + version]
    built = subprocess.run(argv, cwd=BUILD_DIR, capture_output=True, text=True, timeout=300)
    if built.returncode != 0:
        raise AssertionError("cpack failed:\n" + built.stdout + built.stderr)
    shutil.rmtree(os.path.join(out_dir, "_CPack_Packages"), ignore_errors=True)
    debs = [name for name in os.listdir(out_dir) if name.endswith(".deb")]
    if len(debs) != 1:
        raise AssertionError("cpack made %s in %s" % (debs, out_dir))
    return os.path.join(out_dir, debs[0])


def package_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", deb, field], capture_output=True, text=True,
                          check=True).stdout.strip()


def dependencies(deb):
    """The packages apt would install for `deb`: one per Depends entry (an alternative the base
    root already has, else the first)."""
    chosen = []
    for entry in package_field(deb, "Depends").split(","):
        names = [alternative.strip().split()[0] for alternative in entry.split("|")]
        if not any(name in debian_root.BASE_PACKAGES for name in names):
            chosen.append(names[0])
    return chosen


class Packages:
    """This tree's .deb, and the same built as PREVIOUS_VERSION, in one directory."""

    def __init__(self, directory):
        self.directory = directory
        self.current = build_package(os.path.join(directory, "current"))
        self.previous = build_package(os.path.join(directory, "previous"), PREVIOUS_VERSION)
        for deb in (self.current, self.previous):
            shutil.move(deb, directory)
        self.current = os.path.join(directory, os.path.basename(self.current))
        self.previous = os.path.join(directory, os.path.basename(self.previous))
        self.version = package_field(self.current, "Version")

    def inside(self, deb):
        return PACKAGES_INSIDE + "/" + os.path.basename(deb)


# -- docs/deploy.md, run as written -------------------------------------------------------------
def doc_blocks(path=DEPLOY_DOC):
    """Every shell block of the page by the name in its `<!-- system-test: NAME -->` line, and
    the blocks that have no name (which the doc test refuses)."""
    with open(path) as doc:
        text = doc.read()
    named, unnamed = {}, []
    pattern = r"(^[ \t]*<!-- system-test: ([\w-]+) -->\n)?^[ \t]*```sh\n(.*?)^[ \t]*```"
    for match in re.finditer(pattern, text, re.S | re.M):
        block = textwrap.dedent(match.group(3))  # a block inside a list item is indented
        if match.group(2):
            named[match.group(2)] = block
        else:
            unnamed.append(block)
    return named, unnamed


# -- one booted machine per test class ----------------------------------------------------------
class SystemTestCase(unittest.TestCase):
    """Boots a machine for the class with the packages mounted at /srv/roompush."""

    MACHINE = "roompush"  # its name, which is also its hostname

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="rp-system-", dir="/var/tmp")
        cls.artifacts = os.path.join(BUILD_DIR, "test-artifacts", "system", cls.MACHINE)
        shutil.rmtree(cls.artifacts, ignore_errors=True)
        os.makedirs(cls.artifacts)
        cls.packages = Packages(os.path.join(cls.work, "debs"))
        root = debian_root.ensure_root(dependencies(cls.packages.current))
        cls.machine = Machine(root, cls.MACHINE, binds=[(cls.packages.directory, PACKAGES_INSIDE)],
                              log_path=os.path.join(cls.artifacts, "console.log"))
        try:
            cls.machine.boot()
        except BaseException:
            cls.machine.poweroff()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            journal = cls.machine.run(["journalctl", "--no-pager", "-o", "short-precise"],
                                      check=False)
            with open(os.path.join(cls.artifacts, "journal.log"), "w") as out:
                out.write(journal.stdout)
        finally:
            cls.machine.poweroff()
            shutil.rmtree(cls.work, ignore_errors=True)

    # -- commands (class methods too, for a class's own setUpClass) ---------------------------
    @classmethod
    def sh(cls, script, **kwargs):
        return cls.machine.sh(script, **kwargs)

    @classmethod
    def doc_block(cls, name):
        """Runs the block of docs/deploy.md named `name` as written, in the directory that
        holds the packages; its output."""
        named, _ = doc_blocks()
        if name not in named:
            raise AssertionError("docs/deploy.md has no block <!-- system-test: %s -->" % name)
        return cls.sh("cd %s\n%s" % (PACKAGES_INSIDE, named[name])).stdout

    @classmethod
    def install_and_start(cls, deb=None):
        """What docs/deploy.md has an operator do on a new machine, up to a running site."""
        if deb is None:
            cls.doc_block("install")
        else:
            cls.sh("apt-get install -y %s" % cls.packages.inside(deb))
        cls.doc_block("enable-site")
        cls.doc_block("enable")
        cls.wait_for("curl -fsS http://127.0.0.1/healthz")

    @classmethod
    def wait_for(cls, script, timeout=20):
        """Runs `script` until it succeeds; its output."""
        deadline = time.monotonic() + timeout
        while True:
            result = cls.sh(script, check=False)
            if result.returncode == 0:
                return result.stdout
            if time.monotonic() > deadline:
                raise CommandFailed("still failing after %ss: %s\n%s%s" % (
                    timeout, script, result.stdout, result.stderr))
            time.sleep(0.2)

    def curl_json(self, url, *args):
        """GET (or what `args` say) through the machine's nginx; (status, parsed body)."""
        result = self.sh("curl -sS -o /tmp/body -w '%%{http_code}' %s; echo; cat /tmp/body"
                         % " ".join(shlex.quote(arg) for arg in args + (url,)))
        status, _, body = result.stdout.partition("\n")
        try:
            return int(status), json.loads(body) if body.strip() else None
        except json.JSONDecodeError:
            return int(status), body

    def upload(self, room, path="/usr/share/roompush/web/samples/cube.stl", item="1"):
        status, body = self.curl_json("http://127.0.0.1/cad", "-F", "roomId=" + room,
                                      "-F", "itemId=" + item, "-F", "file=@" + path)
        self.assertEqual(status, 202, body)
        return body

    @classmethod
    def use_slow_program(cls, seconds=2, workers=1, stop_grace_ms=500):
        """cad-inspect behind a pause, one at a time, with a short stop grace: jobs that are
        still queued or running when an operator restarts something."""
        cls.machine.write_file("/usr/local/bin/slow-cad-inspect",
                                "#!/bin/sh\nsleep %s\nexec /usr/lib/roompush/cad-inspect \"$@\"\n"
                                % seconds, mode=0o755)
        conf = "/etc/roompush/roompush-fcgi.conf"
        cls.sh("sed -i -e 's|^#exec=.*|exec=\"/usr/local/bin/slow-cad-inspect --input {input} "
                "--out {workdir}\"|' -e 's|^#workers=.*|workers=%d|' "
                "-e 's|^#stop-grace=.*|stop-grace=%d|' %s" % (workers, stop_grace_ms, conf))

    def unit_property(self, unit, name):
        return self.sh("systemctl show -p %s --value %s" % (name, unit)).stdout.strip()

    def main_pid(self, unit):
        pid = int(self.unit_property(unit, "MainPID"))
        if pid == 0:
            raise AssertionError("%s has no main process (%s)" % (
                unit, self.unit_property(unit, "ActiveState")))
        return pid

    def journal_errors(self, unit):
        return self.sh("journalctl -u %s -p err --no-pager -o cat" % unit).stdout

    def run_async(self, coroutine, timeout=120):
        return asyncio.run(asyncio.wait_for(coroutine, timeout))

    def room(self, room, since=None, epoch=None, origin="https://cad.example.com", token=None,
             path=None):
        """A WebSocket client of ROOM through the machine's nginx (or, with `path`, straight to
        a sidecar's Unix socket inside it), sending an Origin as a browser does."""
        return MachineRoom(self.machine, room, since, epoch, origin, token, path)


class MachineRoom:
    """A WebSocket client (python3-websockets) of one room in the machine."""

    def __init__(self, machine, room, since, epoch, origin, token, path):
        self.machine = machine
        self.query = "&".join("%s=%s" % (k, v) for k, v in
                              (("since", since), ("epoch", epoch), ("token", token)) if v is not None)
        self.uri = "ws://127.0.0.1/ws/rooms/%s%s" % (room, "?" + self.query if self.query else "")
        self.origin = origin
        self.unix_path = path
        self.socket = None

    async def __aenter__(self):
        if self.unix_path:
            self.socket = await websockets.unix_connect(self.machine.path(self.unix_path), self.uri,
                                                        origin=self.origin)
        else:
            transport = self.machine.connect_tcp(80)
            transport.setblocking(False)
            self.socket = await websockets.connect(self.uri, sock=transport, origin=self.origin)
        return self

    async def __aexit__(self, *exc):
        await self.socket.close()

    async def next(self, timeout=15):
        return json.loads(await asyncio.wait_for(self.socket.recv(), timeout))

    async def until(self, predicate, timeout=30):
        """Messages up to and including the first that matches."""
        seen = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.next(max(0.01, deadline - loop.time()))
            seen.append(message)
            if predicate(message):
                return seen

    async def closed(self, timeout=15):
        """The close code once the server closes the connection (messages before it are read
        and returned too)."""
        seen = []
        try:
            while True:
                seen.append(json.loads(await asyncio.wait_for(self.socket.recv(), timeout)))
        except websockets.ConnectionClosed as closed:
            return closed.code, seen


class RoomWatcher:
    """A browser that stays in a room whatever happens, as roompush.js does: it reconnects
    after every close and resumes with since/epoch. Run `watch()` as a task; `messages` holds
    every frame it got, `closes` the close codes it saw."""

    def __init__(self, case, room, **room_args):
        self.case = case
        self.room = room
        self.room_args = room_args
        self.messages = []
        self.closes = []
        self.connects = 0
        self.since = None
        self.epoch = None
        self.stopping = False
        self.client = None

    def track(self, message):
        self.messages.append(message)
        if message.get("type") == "subscribed":
            self.epoch = message["epoch"]
            if self.since is None:
                self.since = message["seq"]  # a first join gets live messages only
        elif message.get("type") == "reset":
            self.epoch, self.since = message["epoch"], 0  # every retained message follows
        elif message.get("type") == "message":
            self.epoch, self.since = message["epoch"], message["seq"]

    async def watch(self):
        while not self.stopping:
            try:
                async with self.case.room(self.room, since=self.since, epoch=self.epoch,
                                          **self.room_args) as client:
                    self.client = client
                    self.connects += 1
                    while True:
                        self.track(json.loads(await client.socket.recv()))
            except websockets.ConnectionClosed as closed:
                self.closes.append(closed.code)
            except (OSError, websockets.InvalidHandshake, asyncio.TimeoutError):
                pass  # the server is away: try again, as a browser would
            self.client = None
            await asyncio.sleep(0.2)

    async def until(self, predicate, timeout=60):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self.messages):
            if loop.time() > deadline:
                raise AssertionError("room %s: still waiting after %ss; got %s" % (
                    self.room, timeout, json.dumps(self.messages)[-3000:]))
            await asyncio.sleep(0.1)

    async def joined(self, connects=1):
        await self.until(lambda _: self.connects >= connects and self.client is not None)

    async def stop(self):
        self.stopping = True
        if self.client is not None:
            await self.client.socket.close()

    def events(self, name):
        return [m for m in self.messages if m.get("type") == "message" and m.get("event") == name]


def terminal_events(messages, job_id):
    return [m["event"] for m in messages if m.get("type") == "message"
            and m.get("event") in ("job.done", "job.failed") and m["data"].get("jobId") == job_id]
