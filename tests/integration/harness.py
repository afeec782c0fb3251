"""Helpers for the integration tests: a stack per test class, real clients, fixtures made here.

Run a test file directly: /usr/bin/python3 tests/integration/test_x.py --build-dir build
"""

import asyncio
import base64
import contextlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))

import devstack  # noqa: E402
import websockets  # noqa: E402  (Debian's python3-websockets)

BUILD_DIR = os.environ.get("ROOMPUSH_BUILD_DIR", os.path.join(REPO, "build"))
FIXTURES = os.path.join(REPO, "tests", "fixtures")


def main():
    """unittest.main() that also takes --build-dir (ctest passes it)."""
    global BUILD_DIR
    args = sys.argv[1:]
    if "--build-dir" in args:
        index = args.index("--build-dir")
        BUILD_DIR = os.path.abspath(args[index + 1])
        del args[index:index + 2]
    unittest.main(argv=[sys.argv[0]] + args, verbosity=2)


def binary_stl(triangles, header=b"roompush test"):
    """A binary STL of the given triangles (each three (x, y, z) tuples)."""
    out = header.ljust(80, b"\0")[:80] + struct.pack("<I", len(triangles))
    for triangle in triangles:
        out += struct.pack("<3f", 0, 0, 0)
        for vertex in triangle:
            out += struct.pack("<3f", *vertex)
        out += b"\0\0"
    return out


def cube_triangles(size=1.0):
    s = size
    quads = [
        [(0, 0, 0), (0, s, 0), (s, s, 0), (s, 0, 0)],
        [(0, 0, s), (s, 0, s), (s, s, s), (0, s, s)],
        [(0, 0, 0), (s, 0, 0), (s, 0, s), (0, 0, s)],
        [(0, s, 0), (0, s, s), (s, s, s), (s, s, 0)],
        [(0, 0, 0), (0, 0, s), (0, s, s), (0, s, 0)],
        [(s, 0, 0), (s, s, 0), (s, s, s), (s, 0, s)],
    ]
    triangles = []
    for a, b, c, d in quads:
        triangles += [(a, b, c), (a, c, d)]
    return triangles


def process_gone(pid):
    """True when `pid` has exited (a zombie that nobody reaped yet counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class StackTestCase(unittest.TestCase):
    """Starts one stack for the class. Subclasses may set EXEC, SIDECAR_ARGS, APP_ARGS, NODES,
    APPS."""

    EXEC = None
    SIDECAR_ARGS = ()
    APP_ARGS = ()
    NODES = 1  # more than one: sidecars sharing rooms through the stack's own redis-server
    APPS = 1  # more than one: app nodes sharing their jobs through the stack's redis-server
    SHARED_SPOOL = False  # with APPS: one spool for every app node (--shared-spool)

    @classmethod
    def setUpClass(cls):
        cls.run_dir = tempfile.mkdtemp(prefix="rp-", dir="/tmp")
        cls.stack = devstack.Stack(BUILD_DIR, cls.run_dir, devstack.free_port(),
                                   exec_template=cls.EXEC, sidecar_args=cls.SIDECAR_ARGS,
                                   app_args=cls.APP_ARGS, nodes=cls.NODES, apps=cls.APPS,
                                   shared_spool=cls.SHARED_SPOOL,
                                   layout=devstack.Layout.from_environment(BUILD_DIR))
        cls.prepare_stack(cls.stack)
        cls.stack.start()

    @classmethod
    def prepare_stack(cls, stack):
        """Called before the stack starts: a test class can change it here."""

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        # A clean stop is part of every test: exit 0 (and, in the sanitizer build, no leak or
        # error report, which would make the exit code non-zero).
        unclean = {name: code for name, code in cls.stack.exit_codes.items() if code != 0}
        if unclean:
            raise AssertionError("programs did not stop cleanly: %s\n%s" % (
                unclean, "\n".join(cls.stack.log_tail(name) for name in unclean)))
        if os.environ.get("ROOMPUSH_KEEP_RUN_DIR"):
            print("run dir kept: " + cls.run_dir)
        else:
            shutil.rmtree(cls.run_dir, ignore_errors=True)

    def run_async(self, coroutine, timeout=60):
        return asyncio.run(asyncio.wait_for(coroutine, timeout))

    def logs(self):
        return "\n".join("--- %s ---\n%s" % (name, self.stack.log_tail(name))
                         for name in ("sidecar", "app", "nginx") + tuple(
                             self.stack.app_name(app) for app in range(1, self.stack.apps)))

    # -- HTTP with curl, an independent client ---------------------------------------------
    def curl(self, *args):
        """Runs curl; returns (status, headers dict, body text)."""
        result = subprocess.run(["curl", "-sS", "-D", "-", "--max-time", "30"] + list(args),
                                capture_output=True)
        self.assertEqual(result.returncode, 0, "curl failed: " + result.stderr.decode())
        # Bytes, not text mode: text mode would turn the CRLFs that separate headers into LFs.
        head, _, body = result.stdout.decode("utf-8", "replace").partition("\r\n\r\n")
        while head.startswith("HTTP/1.1 100"):
            head, _, body = body.partition("\r\n\r\n")
        lines = head.split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, body

    def upload(self, path, room="A", item="7", extra=()):
        args = ["-F", "roomId=" + room, "-F", "itemId=" + item, "-F", "file=@" + path]
        return self.curl(*(args + list(extra) + [self.stack.url + "/cad"]))

    def pushctl(self, *args, stdin=None):
        return subprocess.run([self.stack.layout.pushctl,
                               "--socket", self.stack.control_socket] + list(args),
                              capture_output=True, text=True, input=stdin, timeout=30)

    def write_fixture(self, name, data):
        path = os.path.join(self.run_dir, name)
        with open(path, "wb") as out:
            out.write(data)
        return path

    # -- jobs ------------------------------------------------------------------------------
    def upload_mode(self, mode, room):
        """Uploads a file whose first line is `mode` (tests/fixtures/job_behaviour.sh reads it as
        its behaviour); returns the job id of the 202."""
        path = self.write_fixture("input-%d.txt" % time.monotonic_ns(), mode.encode() + b"\n")
        status, _, body = self.curl("-F", "roomId=" + room, "-F", "file=@" + path,
                                    self.stack.url + "/cad")
        self.assertEqual(status, 202, body)
        return json.loads(body)["jobId"]

    def job(self, job_id):
        """The job as GET /jobs/ID (through nginx) serves it."""
        status, _, body = self.curl(self.stack.url + "/jobs/" + job_id)
        self.assertEqual(status, 200, body + "\n" + self.logs())
        return json.loads(body)

    def eventually(self, condition, what, timeout=20):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                self.fail("timed out waiting for " + what + "\n" + self.logs())
            time.sleep(0.05)



class OwnRedis:
    """Mixed into a StackTestCase before it: Redis that the test class starts itself before the
    stack and stops after it. topology(base, exit_stack) starts it and returns its URL, and
    attach(stack, url) says what the stack uses it for (--broker, --job-store)."""

    @classmethod
    def topology(cls, base, exit_stack):
        raise NotImplementedError

    @classmethod
    def attach(cls, stack, url):
        raise NotImplementedError

    @classmethod
    def prepare_stack(cls, stack):
        cls.redis = contextlib.ExitStack()
        base = tempfile.mkdtemp(prefix="rp-redis-", dir="/tmp")
        try:
            cls.attach(stack, cls.topology(base, cls.redis))
        except BaseException:
            cls.redis.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.redis.close()


def write_secret(directory, name):
    """A room-token secret as docs/deploy.md installs one: readable by group roompush only when
    root runs the test."""
    path = os.path.join(directory, name)
    with open(path, "w") as out:
        out.write(base64.b64encode(os.urandom(48)).decode() + "\n")
    return devstack.give_to_daemons(path)


class TokenStackTestCase(StackTestCase):
    """A stack whose rooms need tokens: `cls.secret` is the sidecar's secret file, and
    TOKEN_SIDECAR_ARGS what the class gives the sidecar besides."""

    TOKEN_SIDECAR_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.secrets_dir = tempfile.mkdtemp(prefix="rp-secrets-", dir="/tmp")
        devstack.give_to_daemons(cls.secrets_dir)
        cls.configure_secrets()
        super().setUpClass()

    @classmethod
    def configure_secrets(cls):
        """Writes the secrets into cls.secrets_dir and gives them to the daemons; a class that
        needs several (a key rotation) writes its own."""
        cls.secret = write_secret(cls.secrets_dir, "room.secret")
        cls.SIDECAR_ARGS = ("--auth-secret-file", cls.secret) + tuple(cls.TOKEN_SIDECAR_ARGS)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.secrets_dir, ignore_errors=True)

    def mint(self, room, *options):
        """`pushctl token ROOM OPTIONS…` with the class's secret."""
        result = self.pushctl("token", room, "--secret-file", self.secret, *options)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip()

class RoomClient:
    """A WebSocket client of one room through nginx (python3-websockets)."""

    def __init__(self, url, **connect_args):
        self.url = url
        self.connect_args = connect_args  # e.g. ssl=, local_addr=
        self.socket = None

    async def __aenter__(self):
        self.socket = await websockets.connect(self.url, **self.connect_args)
        return self

    async def __aexit__(self, *exc):
        await self.socket.close()

    async def next(self, timeout=10):
        return json.loads(await self.next_text(timeout))

    async def next_text(self, timeout=10):
        """The next frame as the sidecar wrote it, not parsed."""
        return await asyncio.wait_for(self.socket.recv(), timeout)

    async def until(self, predicate, timeout=20):
        """Messages up to and including the first that matches."""
        seen = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.next(max(0.01, deadline - loop.time()))
            seen.append(message)
            if predicate(message):
                return seen

    async def nothing_for(self, seconds):
        """The messages that arrive within `seconds` (expected: none)."""
        got = []
        try:
            while True:
                got.append(await self.next(seconds))
        except asyncio.TimeoutError:
            return got


def multipart_upload(room, data, filename="drawing.stl"):
    """A POST /cad body as a browser's form sends it: (content type, body bytes)."""
    boundary = "rp%d" % time.monotonic_ns()
    body = ("--%s\r\nContent-Disposition: form-data; name=\"roomId\"\r\n\r\n%s\r\n"
            "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
            % (boundary, room, boundary, filename)).encode() + data + (
                "\r\n--%s--\r\n" % boundary).encode()
    return "multipart/form-data; boundary=" + boundary, body


def fastcgi_request(socket_path, method, uri, body=b"", timeout=30, content_type=None):
    """One request straight to an app's FastCGI socket, past nginx (as nginx would send it), so
    that a test can choose the app node: returns (status, body text)."""
    import socket as sockets

    def record(kind, content=b""):
        return struct.pack(">BBHHBx", 1, kind, 1, len(content), 0) + content

    def pair(name, value):
        name, value = name.encode(), value.encode()
        size = lambda n: struct.pack("B", n) if n < 128 else struct.pack(">I", n | 0x80000000)
        return size(len(name)) + size(len(value)) + name + value

    path, _, query = uri.partition("?")
    params = b"".join(pair(k, v) for k, v in (
        ("REQUEST_METHOD", method), ("DOCUMENT_URI", path), ("REQUEST_URI", uri),
        ("QUERY_STRING", query), ("CONTENT_LENGTH", str(len(body))),
        ("REMOTE_ADDR", "127.0.0.1"), ("SERVER_PROTOCOL", "HTTP/1.1")) + (
            (("CONTENT_TYPE", content_type),) if content_type else ()))
    begin = struct.pack(">HB5x", 1, 0)  # responder, close the connection after it
    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(socket_path)
        conn.sendall(record(1, begin) + record(4, params) + record(4) +
                     b"".join(record(5, body[at:at + 65535])  # a record holds 64 KiB at most
                              for at in range(0, len(body), 65535)) + record(5))
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    out, at = b"", 0
    while at + 8 <= len(data):
        _, kind, _, length, padding = struct.unpack(">BBHHBx", data[at:at + 8])
        if kind == 6:  # FCGI_STDOUT
            out += data[at + 8:at + 8 + length]
        at += 8 + length + padding
    head, _, text = out.decode("utf-8", "replace").partition("\r\n\r\n")
    status = 200
    for line in head.split("\r\n"):
        if line.lower().startswith("status:"):
            status = int(line.split()[1])
    return status, text


class ControlConnection:
    """A raw client of the sidecar's control socket: NDJSON lines, as socat would send them."""

    def __init__(self, path, timeout=10):
        import socket
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.settimeout(timeout)
        self.socket.connect(path)
        self.buffer = b""

    def close(self):
        self.socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        self.socket.sendall(data)

    def line(self):
        return json.loads(self.line_text())

    def line_text(self):
        """The next line as the sidecar wrote it (without its newline), not parsed."""
        while b"\n" not in self.buffer:
            chunk = self.socket.recv(65536)
            if not chunk:
                raise EOFError("the control socket closed the connection")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def request(self, obj):
        return json.loads(self.request_text(obj))

    def request_text(self, obj):
        self.send_raw(json.dumps(obj).encode() + b"\n")
        return self.line_text()

    def publish(self, room, data, event="note", id=None):
        request = {"op": "publish", "room": room, "event": event, "data": data}
        if id is not None:
            request["id"] = id
        return self.request(request)


class RawWebSocket:
    """A minimal WebSocket client over a plain TCP socket, for what a polite library will not
    do: send a whole burst of frames in one write, or never answer a ping."""

    def __init__(self, port, path, timeout=10):
        import socket
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.socket.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" % path).encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.socket.recv(4096)
            if not chunk:
                raise EOFError("closed during the handshake")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError("no upgrade: %r" % head[:80])

    @staticmethod
    def frame(text, opcode=0x1):
        data = text.encode() if isinstance(text, str) else text
        mask = b"\x11\x22\x33\x44"
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        if len(data) < 126:
            head = bytes([0x80 | opcode, 0x80 | len(data)])
        else:
            head = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack(">H", len(data))
        return head + mask + masked

    def send_frames(self, frames):
        self.socket.sendall(b"".join(frames))

    def read_until_close(self):
        """(text frames as JSON, close code) once the server has closed."""
        while True:
            try:
                chunk = self.socket.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                break
            self.buffer += chunk
        messages, code, data = [], None, self.buffer
        while len(data) >= 2:
            opcode, length = data[0] & 0x0F, data[1] & 0x7F
            offset = 2
            if length == 126:
                length, offset = struct.unpack(">H", data[2:4])[0], 4
            elif length == 127:
                length, offset = struct.unpack(">Q", data[2:10])[0], 10
            payload, data = data[offset:offset + length], data[offset + length:]
            if opcode == 0x1:
                messages.append(json.loads(payload))
            elif opcode == 0x8 and len(payload) >= 2:
                code = struct.unpack(">H", payload[:2])[0]
        return messages, code

    def close(self):
        self.socket.close()
