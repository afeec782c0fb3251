"""One booted Debian 12 with systemd as PID 1: systemd-nspawn -b on a throwaway copy of a root.

The machine has a network of its own (--private-network: just its loopback), so its nginx on
port 80 and its Redis on 6379 never meet the host's or another test's. The test drives it from
outside: commands inside every namespace of the machine (nsenter -a), and TCP connections
opened in the machine's network namespace (setns on this thread only, then back), which a
WebSocket client then uses as its transport.
"""

import ctypes
import os
import shlex
import signal
import socket
import subprocess
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class CommandFailed(AssertionError):
    pass


class Machine:

    def __init__(self, root, name, binds=(), log_path=None):
        """`binds`: (host path, path inside) pairs, read-only."""
        self.root = root
        self.name = name
        self.binds = list(binds)
        self.log_path = log_path
        self.nspawn = None
        self.pid1 = None

    # -- boot and power off ----------------------------------------------------------------
    def boot(self, timeout=60):
        argv = ["systemd-nspawn", "--directory", self.root, "--ephemeral", "--boot",
                "--machine", self.name, "--register=no", "--keep-unit", "--private-network",
                "--quiet"]
        argv += ["--bind-ro=%s:%s" % pair for pair in self.binds]
        log = open(self.log_path or os.devnull, "ab")
        self.nspawn = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while self.pid1 is None and time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise RuntimeError("systemd-nspawn exited with %s" % self.nspawn.returncode)
            self.pid1 = self._child_of(self.nspawn.pid)
            time.sleep(0.05)
        if self.pid1 is None:
            raise RuntimeError("the machine's PID 1 did not appear")
        # `is-system-running --wait` returns once boot is over (running, or degraded).
        while time.monotonic() < deadline:
            state = self.run(["systemctl", "is-system-running", "--wait"], check=False,
                             timeout=max(1, deadline - time.monotonic()))
            if not state.stdout.strip() and "No such file" in state.stderr:
                self.pid1 = self._child_of(self.nspawn.pid) or self.pid1
            if state.stdout.strip() in ("running", "degraded"):
                return self
            time.sleep(0.2)
        raise RuntimeError("the machine did not finish booting: " + state.stdout)

    @staticmethod
    def _child_of(pid):
        """The machine's PID 1: the child of systemd-nspawn that runs systemd (before that, an
        intermediate child of nspawn's comes and goes)."""
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as children:
                found = children.read().split()
            for child in found:
                with open("/proc/%s/comm" % child) as comm:
                    if comm.read().strip() == "systemd":
                        return int(child)
        except (FileNotFoundError, ProcessLookupError):
            pass
        return None

    def poweroff(self, timeout=30):
        if self.nspawn is None or self.nspawn.poll() is not None:
            return
        self.nspawn.send_signal(signal.SIGTERM)  # systemd-nspawn powers the machine off
        try:
            self.nspawn.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.nspawn.pid, signal.SIGKILL)
            self.nspawn.wait()

    # -- commands inside -------------------------------------------------------------------
    def run(self, argv, check=True, timeout=120, input=None):
        """A command inside the machine; CommandFailed (with its output) when it fails."""
        result = subprocess.run(["nsenter", "-t", str(self.pid1), "-a", "--"] + list(argv),
                                capture_output=True, text=True, timeout=timeout, input=input,
                                start_new_session=True,  # nothing inside can signal the test
                                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                                     "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root",
                                     "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"})
        if check and result.returncode != 0:
            journal = ""
            if "systemctl" in " ".join(argv):  # what the unit said is the cause, not its exit
                journal = subprocess.run(
                    ["nsenter", "-t", str(self.pid1), "-a", "--", "journalctl", "--no-pager",
                     "-n", "60", "-o", "short-precise"],
                    capture_output=True, text=True, timeout=30).stdout
            raise CommandFailed("inside %s: %s\nexit %d\n--- stdout\n%s--- stderr\n%s%s" % (
                self.name, " ".join(shlex.quote(a) for a in argv), result.returncode,
                result.stdout[-6000:], result.stderr[-6000:],
                "--- journal\n" + journal[-8000:] if journal else ""))
        return result

    def sh(self, script, check=True, timeout=120, input=None):
        """A shell script inside the machine (dash, `set -e`)."""
        return self.run(["/bin/sh", "-ec", script], check=check, timeout=timeout, input=input)

    def path(self, inside):
        """The host's view of a path inside the machine (read and write)."""
        return "/proc/%d/root%s" % (self.pid1, inside)

    def write_file(self, inside, data, mode=0o644):
        with open(self.path(inside), "wb") as out:
            out.write(data if isinstance(data, bytes) else data.encode())
        os.chmod(self.path(inside), mode)

    def read_file(self, inside):
        with open(self.path(inside), errors="replace") as text:
            return text.read()

    # -- its network -----------------------------------------------------------------------
    def connect_tcp(self, port, host="127.0.0.1", timeout=10):
        """A TCP connection to HOST:PORT inside the machine's network, made from this process."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open("/proc/%d/ns/net" % self.pid1, os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the machine's network")
            try:
                return socket.create_connection((host, port), timeout=timeout)
            finally:
                if _libc.setns(own, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back to the host's network")
        finally:
            os.close(own)
            os.close(target)
