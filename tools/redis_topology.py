"""Real Redis topologies on loopback for the integration tests: servers and replicas, a Sentinel
group that fails over, and a proxy that cuts a connection at a chosen request's reply.

Standard library only (tools/devstack.py for free ports and, as root, the daemon user). Every
program runs in a session of its own with its files under the directory the caller gives; every
wait is bounded; the context managers stop what they started, and whatever a test forgot is
killed when the interpreter exits. As root, the programs run as roompush like the stack's own
redis-server (devstack.daemon_command), and the caller's directory becomes roompush's, 0751
(devstack.daemon_dir).

    with tempfile.TemporaryDirectory(dir="/tmp") as scratch, \\
            sentinel_topology(scratch, replicas=1) as topology:
        url = topology.sentinels.broker_url()  # sentinel://127.0.0.1:P1,…/rpmaster
        old = topology.master.port
        topology.master.kill()  # SIGKILL
        (host, port), seconds = topology.sentinels.wait_for_failover(old, timeout=15)

    with RedisServer(scratch) as server, CuttingProxy(server.port) as proxy:
        with RespConnection(proxy.port) as client:
            client.call("SET", "k", "1")
            proxy.cut_after_next_command("EVAL")
            client.call("EVAL", "return redis.call('INCR', KEYS[1])", "1", "k")
            # raises ConnectionError: Redis ran the script (k is now 2), the client never knew

`python3 tests/integration/redis_topology.py` runs a self-check of all of it (about 15 s).
"""

import atexit
import collections
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOOLS = os.path.dirname(os.path.abspath(__file__))
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

import devstack  # noqa: E402

HOST = "127.0.0.1"


class TopologyError(devstack.StackError):
    """A program of the topology did not start, answer or fail over in time."""


class RedisError(Exception):
    """An error reply (`-ERR …`) from Redis."""


class ProtocolError(ValueError):
    """Bytes that are not RESP."""


class ConnectionClosed(ConnectionError):
    """The peer closed the connection (EOF where a reply was due)."""


# -- RESP ----------------------------------------------------------------------------------------

def encode_command(*args):
    """One request as a RESP array of bulk strings; str and int arguments are sent as text."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class _Incomplete(Exception):
    """More bytes are needed."""


class Push(list):
    """A RESP3 push message (`>`): not the reply to a request."""


class Attribute(dict):
    """A RESP3 attribute (`|`): comes before a reply, is not one."""


def _line(buffer, pos):
    end = buffer.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete()
    return buffer[pos:end], end + 2


def _length(text):
    try:
        return int(text)
    except ValueError:
        raise ProtocolError("bad length %r" % text[:20]) from None


def _blob(buffer, pos, size):
    if len(buffer) < pos + size + 2:
        raise _Incomplete()
    if buffer[pos + size:pos + size + 2] != b"\r\n":
        raise ProtocolError("a bulk string does not end in CRLF")
    return buffer[pos:pos + size], pos + size + 2


def parse_reply(buffer, pos=0):
    """(value, end) of the reply that starts at `pos`; raises _Incomplete when it is not all
    there. RESP2 and RESP3: simple strings are str, bulk strings bytes, errors RedisError
    instances (returned, not raised, so that one inside an array stays in place), null None."""
    if pos >= len(buffer):
        raise _Incomplete()
    kind = buffer[pos:pos + 1]
    line, pos = _line(buffer, pos + 1)
    if kind == b"+":
        return line.decode("utf-8", "replace"), pos
    if kind == b"-":
        return RedisError(line.decode("utf-8", "replace")), pos
    if kind in (b":", b"("):
        return _length(line), pos
    if kind == b"_":
        return None, pos
    if kind == b",":
        return float(line), pos
    if kind == b"#":
        return line == b"t", pos
    if kind in (b"$", b"!", b"="):
        size = _length(line)
        if size < 0:
            return None, pos
        data, pos = _blob(buffer, pos, size)
        if kind == b"!":
            return RedisError(data.decode("utf-8", "replace")), pos
        return (data[4:] if kind == b"=" else data), pos
    if kind in (b"*", b"~", b">", b"%", b"|"):
        count = _length(line)
        if count < 0:
            return None, pos
        items = []
        for _ in range(count * 2 if kind in (b"%", b"|") else count):
            item, pos = parse_reply(buffer, pos)
            items.append(item)
        if kind == b">":
            return Push(items), pos
        if kind in (b"%", b"|"):
            pairs = zip(items[0::2], items[1::2])
            return (Attribute(pairs) if kind == b"|" else dict(pairs)), pos
        return items, pos
    raise ProtocolError("unknown reply type %r" % kind)


def split_request(buffer, pos=0):
    """(end, args) of the client request that starts at `pos`, as Redis reads it: an array of
    bulk strings, or an inline command (one line). Raises _Incomplete when it is not all there.
    `args` is empty for what Redis answers nothing to (an empty line, `*0`)."""
    if pos >= len(buffer):
        raise _Incomplete()
    if buffer[pos:pos + 1] != b"*":
        end = buffer.find(b"\n", pos)
        if end < 0:
            raise _Incomplete()
        return end + 1, buffer[pos:end].split()
    line, pos = _line(buffer, pos + 1)
    args = []
    for _ in range(_length(line)):
        if pos >= len(buffer):
            raise _Incomplete()
        if buffer[pos:pos + 1] != b"$":
            raise ProtocolError("a request's element is not a bulk string")
        line, pos = _line(buffer, pos + 1)
        arg, pos = _blob(buffer, pos, _length(line))
        args.append(arg)
    return pos, args


def decoded(value):
    """A reply with its bytes as text, recursively."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return type(value)(decoded(item) for item in value)
    if isinstance(value, dict):
        return {decoded(key): decoded(item) for key, item in value.items()}
    return value


class RespConnection:
    """A minimal blocking Redis client: one TCP connection, pipelining by hand. It speaks RESP2
    (after a HELLO 3, RESP3 replies are read too: maps as dicts, push messages as Push).

    call() sends one command and returns its reply (raising RedisError for an error reply);
    send() and read_reply() pipeline. A closed connection raises ConnectionClosed (EOF) or
    another ConnectionError (a reset), a silent one socket.timeout after `timeout` seconds."""

    def __init__(self, port, host=HOST, password=None, timeout=5):
        self.socket = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""
        if password is not None:
            try:
                self.call("AUTH", password)
            except BaseException:
                self.close()
                raise

    def close(self):
        self.socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, *args):
        self.socket.sendall(encode_command(*args))

    def send_raw(self, data):
        self.socket.sendall(data)

    def read_reply(self, raise_errors=True):
        while True:
            try:
                value, end = parse_reply(self.buffer)
            except _Incomplete:
                chunk = self.socket.recv(65536)
                if not chunk:
                    raise ConnectionClosed("Redis closed the connection") from None
                self.buffer += chunk
                continue
            self.buffer = self.buffer[end:]
            if raise_errors and isinstance(value, RedisError):
                raise value
            return value

    def call(self, *args):
        self.send(*args)
        return self.read_reply()


def info_fields(text):
    """INFO's text as a dict (every value a str)."""
    if isinstance(text, bytes):
        text = text.decode()
    fields = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value
    return fields


# -- processes -----------------------------------------------------------------------------------

_running = set()  # every Popen of this module not yet stopped: killed at exit if a test forgot


@atexit.register
def _kill_leftovers():
    for process in list(_running):
        if process.poll() is None:
            process.kill()
            process.wait()
    _running.clear()


def _prepare_dir(parent, name):
    """`parent`/`name`, made; as root, both in reach of roompush and the subdirectory its."""
    parent = os.path.abspath(parent)
    os.makedirs(parent, exist_ok=True)
    path = os.path.join(parent, name)
    os.makedirs(path, exist_ok=True)
    if devstack.daemon_identity():
        devstack.daemon_dir(parent)
        devstack.check_searchable(path)  # and every directory above `parent`
        devstack.daemon_identity().own(path, 0o750, recursive=True)
    return path


def _write_config(path, lines):
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")
    if devstack.daemon_identity():
        devstack.daemon_identity().own(path, 0o640)  # Sentinel rewrites its file: roompush's


def _quote(value):
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


class _Program:
    """One redis-server process (a server or a sentinel): its own session, its output in LOG."""

    def __init__(self, directory, port):
        self.dir = directory
        self.port = port
        self.process = None
        self.paused = False
        self.exit_code = None  # of the last run once it ended (-9: SIGKILL, as Popen says)

    @property
    def log_path(self):
        return os.path.join(self.dir, "log")

    @property
    def pid(self):
        return self.process.pid if self.process else None

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def _spawn(self, argv):
        if self.running:
            raise TopologyError("port %d is already running" % self.port)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                devstack.daemon_command(argv, nginx_group=False), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.paused = False
        _running.add(self.process)

    def _wait_ping(self, password, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._forget()
                raise TopologyError("redis-server on port %d exited with %s while starting:\n%s"
                                    % (self.port, self.process.returncode, self.log_tail()))
            try:
                with RespConnection(self.port, password=password, timeout=1) as connection:
                    # Its own answer, not that of whoever else holds the port (this one then
                    # exits with "Address already in use", reported above).
                    if (connection.call("PING") == "PONG" and info_fields(
                            connection.call("INFO", "server")).get("process_id")
                            == str(self.process.pid)):
                        return
            except (OSError, RedisError) as error:  # not listening yet, LOADING
                last = error
            time.sleep(0.02)
        self.stop()
        raise TopologyError("redis-server on port %d did not answer PING within %ss (last: %s)\n%s"
                            % (self.port, timeout, last, self.log_tail()))

    def _forget(self):
        _running.discard(self.process)

    def stop(self, timeout=10):
        """SIGTERM (a paused process is continued first), SIGKILL to its session after
        `timeout`; returns the exit code (0: a clean stop; None: never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            if self.paused:
                os.kill(self.process.pid, signal.SIGCONT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.exit_code = self.process.returncode
        self._forget()
        self.paused = False
        return self.exit_code

    def kill(self):
        """SIGKILL: no goodbye, nothing flushed that was not already written."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.exit_code = self.process.returncode
        self._forget()
        self.paused = False

    def pause(self):
        """SIGSTOP: the port still accepts connections, nothing answers."""
        os.kill(self.process.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()


def _address(value):
    """(host, port) of a RedisServer, a port or a (host, port)."""
    if isinstance(value, RedisServer):
        return HOST, value.port
    if isinstance(value, int):
        return HOST, value
    host, port = value
    return host, int(port)


class RedisServer(_Program):
    """A redis-server on 127.0.0.1:`port` (a free one by default), its files in
    `dir`/redis-PORT: append-only file with `appendfsync always` (what docs/scaling.md asks of
    production), no snapshots. `replica_of`: a RedisServer, port or (host, port) to replicate
    (an attribute: change it before a restart). `password`: requirepass, and masterauth too, so
    that any server of a group can become another's replica.

    The config file is written anew at every start; the data (appendonlydir/) stays, so a
    restarted server comes back with what it had written."""

    def __init__(self, dir, port=None, replica_of=None, password=None):
        port = port or devstack.free_port()
        super().__init__(_prepare_dir(dir, "redis-%d" % port), port)
        self.replica_of = replica_of
        self.password = password

    @property
    def url(self):
        return "redis://%s:%d" % (HOST, self.port)

    @property
    def address(self):
        return HOST, self.port

    @property
    def config_path(self):
        return os.path.join(self.dir, "redis.conf")

    def config_lines(self):
        lines = ["bind " + HOST, "port %d" % self.port, "dir " + _quote(self.dir),
                 "daemonize no", 'logfile ""', 'save ""',
                 "appendonly yes", "appendfsync always",
                 # A replica's first sync at once, not after Redis 7's default 5 s wait.
                 "repl-diskless-sync yes", "repl-diskless-sync-delay 0",
                 "enable-debug-command local"]  # DEBUG SLEEP: a slow Redis on demand
        if self.password is not None:
            lines += ["requirepass " + _quote(self.password),
                      "masterauth " + _quote(self.password)]
        if self.replica_of is not None:
            lines.append("replicaof %s %d" % _address(self.replica_of))
        return lines

    def start(self, timeout=10):
        """Starts it and waits (at most `timeout` s) until it answers PING."""
        _write_config(self.config_path, self.config_lines())
        self._spawn(["redis-server", self.config_path])
        self._wait_ping(self.password, timeout)
        return self

    def connect(self, timeout=5):
        """A RespConnection to it, authenticated."""
        return RespConnection(self.port, password=self.password, timeout=timeout)

    def command(self, *args, timeout=5, decode=False):
        """One command on a connection of its own; its reply (`decode`: bytes as str)."""
        with self.connect(timeout) as connection:
            reply = connection.call(*args)
        return decoded(reply) if decode else reply

    def info(self, section="replication"):
        return info_fields(self.command("INFO", section))

    def role(self):
        """'master' or 'slave' (ROLE's first element)."""
        return decoded(self.command("ROLE")[0])

    def wait_synced(self, timeout=15):
        """A replica: waits until its link to the master is up (the first sync done)."""
        deadline = time.monotonic() + timeout
        fields = {}
        while time.monotonic() < deadline:
            try:
                fields = self.info()
                if fields.get("master_link_status") == "up":
                    return
            except (OSError, RedisError):
                pass
            time.sleep(0.05)
        raise TopologyError("replica on port %d did not sync within %ss (%s)\n%s"
                            % (self.port, timeout, fields.get("master_link_status"),
                               self.log_tail()))

    def wait_role(self, role, timeout=20):
        """Waits until ROLE says `role` ('master' or 'slave'), e.g. until Sentinel has made a
        restarted old master a replica: about 10 s after it is back (Sentinel waits 8 s before
        it corrects a role), 30 s more if a sentinel is in TILT mode (its timer stalled, as on
        a machine overloaded for a moment)."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            try:
                seen = self.role()
                if seen == role:
                    return
            except (OSError, RedisError):
                pass
            time.sleep(0.05)
        raise TopologyError("port %d is still %s after %ss, not %s"
                            % (self.port, seen, timeout, role))


class _Sentinel(_Program):
    pass


class SentinelGroup:
    """`count` sentinels (redis-server --sentinel; on free ports, or on `ports`) monitoring
    `master` (a RedisServer) under `name` with `quorum` (a majority by default), files in
    `dir`/sentinel-PORT. Fast timings: the master is subjectively down after `down_after_ms`;
    `failover_timeout_ms` also bounds an election that failed (the next try comes after twice
    that). With the defaults every sentinel names the promoted replica about 2.3 s after a
    SIGKILL of the master (3.3 s after a SIGSTOP), on the 2-core development machine.

    start() returns once every sentinel knows the others and the replicas the master reports.
    Each sentinel's config file is written once; Sentinel rewrites it (epochs, the current
    master), so a restarted sentinel remembers a failover as a real one does. Pausing a sentinel
    for more than 2 s sends it into TILT mode for 30 s, in which it does not fail over."""

    def __init__(self, dir, master, name="rpmaster", count=3, quorum=None, down_after_ms=1000,
                 failover_timeout_ms=3000, ports=None):
        ports = list(ports or [devstack.free_port() for _ in range(count)])
        self.master = master
        self.name = name
        self.quorum = quorum or len(ports) // 2 + 1
        self.password = master.password
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.sentinels = [_Sentinel(_prepare_dir(dir, "sentinel-%d" % port), port)
                          for port in ports]

    @property
    def ports(self):
        return [sentinel.port for sentinel in self.sentinels]

    def broker_url(self):
        return "sentinel://%s/%s" % (",".join("%s:%d" % (HOST, port) for port in self.ports),
                                     self.name)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def config_lines(self, sentinel):
        lines = ["bind " + HOST, "port %d" % sentinel.port, "dir " + _quote(sentinel.dir),
                 "daemonize no", 'logfile ""',
                 "sentinel monitor %s %s %d %d" % ((self.name,) + self.master.address
                                                   + (self.quorum,)),
                 "sentinel down-after-milliseconds %s %d" % (self.name, self.down_after_ms),
                 "sentinel failover-timeout %s %d" % (self.name, self.failover_timeout_ms),
                 "sentinel parallel-syncs %s 1" % self.name]
        if self.password is not None:
            lines.append("sentinel auth-pass %s %s" % (self.name, _quote(self.password)))
        return lines

    def start(self, timeout=20):
        for index in range(len(self.sentinels)):
            self.start_sentinel(index, wait=False)
        self.wait_ready(timeout)
        return self

    def start_sentinel(self, index, wait=True, timeout=10):
        """Starts (or restarts) sentinel `index`; waits for PING."""
        sentinel = self.sentinels[index]
        config = os.path.join(sentinel.dir, "sentinel.conf")
        if not os.path.exists(config):
            _write_config(config, self.config_lines(sentinel))
        sentinel._spawn(["redis-server", config, "--sentinel"])
        if wait:
            sentinel._wait_ping(None, timeout)
        return sentinel

    def stop(self):
        """Stops every sentinel; returns their exit codes."""
        return [sentinel.stop() for sentinel in self.sentinels]

    def stop_sentinel(self, index):
        return self.sentinels[index].stop()

    def kill_sentinel(self, index):
        self.sentinels[index].kill()

    def sentinel_command(self, index, *args, timeout=2):
        with RespConnection(self.sentinels[index].port, timeout=timeout) as connection:
            return connection.call(*args)

    def master_state(self, index):
        """SENTINEL MASTER NAME of sentinel `index`, as a dict of str."""
        reply = decoded(self.sentinel_command(index, "SENTINEL", "MASTER", self.name))
        return dict(zip(reply[0::2], reply[1::2]))

    def wait_ready(self, timeout=20):
        """Waits until every sentinel answers, knows the other sentinels (they find each other
        by hello messages every 2 s) and at least the replicas the master has online now."""
        for sentinel in self.sentinels:
            sentinel._wait_ping(None, timeout)
        replicas = sum(1 for key, value in self.master.info().items()
                       if key.startswith("slave") and key[5:].isdigit()
                       and "state=online" in value)
        deadline = time.monotonic() + timeout
        states = []
        while True:
            states = []
            for index in range(len(self.sentinels)):
                try:
                    states.append(self.master_state(index))
                except (OSError, RedisError) as error:
                    states.append({"error": str(error)})
            if all(int(state.get("num-other-sentinels", -1)) >= len(self.sentinels) - 1
                   and int(state.get("num-slaves", -1)) >= replicas
                   and state.get("flags") == "master" for state in states):
                return
            if time.monotonic() > deadline:
                raise TopologyError(
                    "sentinels not ready within %ss (want %d others, %d replicas): %s\n%s"
                    % (timeout, len(self.sentinels) - 1, replicas,
                       [{key: state.get(key) for key in
                         ("flags", "num-other-sentinels", "num-slaves", "error")}
                        for state in states], self.log_tails()))
            time.sleep(0.1)

    def addresses(self):
        """{sentinel port: (host, port) it names as the master} for every sentinel that
        answers."""
        seen = {}
        for index, sentinel in enumerate(self.sentinels):
            if not sentinel.running or sentinel.paused:
                continue
            try:
                reply = self.sentinel_command(index, "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                              self.name, timeout=1)
            except (OSError, RedisError):
                continue
            if reply:
                seen[sentinel.port] = (decoded(reply[0]), int(reply[1]))
        return seen

    def master_address(self):
        """(host, port) of the master as the first sentinel that answers names it, as a
        client would ask."""
        for address in self.addresses().values():
            return address
        raise TopologyError("no sentinel answers")

    def _is_master(self, address):
        try:
            with RespConnection(address[1], host=address[0], password=self.password,
                                timeout=1) as connection:
                return decoded(connection.call("ROLE")[0]) == "master"
        except (OSError, RedisError, IndexError):
            return False

    def wait_for_failover(self, old_port, timeout=20, since=None, every_sentinel=True):
        """Waits until the sentinels name a master other than `old_port` and that server says
        it is a master. `every_sentinel`: every sentinel that answers names the same new master
        (it reaches the others by their hello messages, up to 2 s after the leader); else one
        is enough. Returns ((host, port), seconds since `since`): a time.monotonic() value,
        by default that of the call."""
        start = time.monotonic() if since is None else since
        deadline = time.monotonic() + timeout
        seen = {}
        while True:
            seen = self.addresses()
            new = {address for address in seen.values() if address[1] != old_port}
            agreed = len(set(seen.values())) == 1 if every_sentinel else len(new) == 1
            if new and agreed and self._is_master(next(iter(new))):
                return next(iter(new)), time.monotonic() - start
            if time.monotonic() > deadline:
                raise TopologyError("no failover away from port %d within %ss; sentinels say %s\n%s"
                                    % (old_port, timeout, seen, self.log_tails()))
            time.sleep(0.05)

    def log_tails(self, lines=15):
        return "\n".join("--- sentinel %d ---\n%s" % (sentinel.port, sentinel.log_tail(lines))
                         for sentinel in self.sentinels)


Topology = collections.namedtuple("Topology", "master replicas sentinels")


@contextlib.contextmanager
def sentinel_topology(dir, replicas=1, password=None, **sentinel_options):
    """A master, `replicas` synced replicas and a SentinelGroup (`sentinel_options` go to it),
    all stopped on exit (the sentinels first, so that stopping does not cause a failover)."""
    with contextlib.ExitStack() as stack:
        master = stack.enter_context(RedisServer(dir, password=password))
        copies = [stack.enter_context(RedisServer(dir, replica_of=master, password=password))
                  for _ in range(replicas)]
        for copy in copies:
            copy.wait_synced()
        sentinels = stack.enter_context(SentinelGroup(dir, master, **sentinel_options))
        yield Topology(master, copies, sentinels)


# -- a proxy that loses one reply ----------------------------------------------------------------

class _Link:
    """One proxied connection: client→server and server→client in a thread each.

    Both directions are split into RESP messages, counting the requests forwarded and the
    replies returned (RESP3 push messages and attributes do not count), so that the reply to
    the marked request is known by its position. In subscribe mode replies are not one per
    request: do not arm a cut for a command of a subscribed connection."""

    def __init__(self, proxy, client, server):
        self.proxy = proxy
        self.client = client
        self.server = server
        self.lock = threading.Lock()
        self.requests = 0  # forwarded requests that get a reply
        self.replies = 0  # replies returned to the client
        self.cut_at = None  # position of the reply to drop: that of the marked request
        self.framing = True  # False after bytes that are not RESP: pass them through, no cut
        self.pumps = 2
        self.shut = False
        self.threads = [threading.Thread(target=self.pump, args=(direction,), daemon=True)
                        for direction in (self.client_to_server, self.server_to_client)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def pump(self, direction):
        try:
            direction()
        except OSError:
            pass
        finally:
            self.shutdown()
            with self.lock:
                self.pumps -= 1
                last = self.pumps == 0
            if last:
                self.client.close()
                self.server.close()
                self.proxy._forget(self)

    def shutdown(self):
        """Both connections closed at once (the pumps see EOF and end); idempotent."""
        with self.lock:
            if self.shut:
                return
            self.shut = True
        for sock in (self.client, self.server):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def client_to_server(self):
        buffer = b""
        while True:
            chunk = self.client.recv(65536)
            if not chunk:  # the client is done sending: so is the proxy (Redis then closes)
                self.server.shutdown(socket.SHUT_WR)
                return
            buffer += chunk
            if not self.framing:
                self.server.sendall(buffer)
                buffer = b""
                continue
            forward = []
            pos = 0
            while True:
                try:
                    end, args = split_request(buffer, pos)
                except _Incomplete:
                    break
                except ProtocolError:
                    with self.lock:
                        self.framing = False
                    forward.append(buffer[pos:])
                    pos = len(buffer)
                    break
                request, pos = buffer[pos:end], end
                with self.lock:
                    if self.cut_at is not None:
                        continue  # after the marked request: never reaches the server
                    if args and self.proxy._claim(request, args):
                        self.cut_at = self.requests  # before it is sent: its reply comes later
                    if args:
                        self.requests += 1
                forward.append(request)
            buffer = buffer[pos:]
            if forward:
                self.server.sendall(b"".join(forward))

    def server_to_client(self):
        buffer = b""
        while True:
            chunk = self.server.recv(65536)
            if not chunk:
                return
            buffer += chunk
            pos = 0
            cut = False
            while pos < len(buffer):
                with self.lock:
                    if not self.framing:
                        pos = len(buffer)
                        break
                    if self.cut_at is not None and self.replies == self.cut_at:
                        cut = True  # the first byte of the marked request's reply
                        break
                try:
                    _, end = parse_reply(buffer, pos)
                except _Incomplete:
                    break
                except ProtocolError:
                    with self.lock:
                        self.framing = False
                    pos = len(buffer)
                    break
                if buffer[pos:pos + 1] not in (b">", b"|"):
                    with self.lock:
                        self.replies += 1
                pos = end
            if pos:
                self.client.sendall(buffer[:pos])
                buffer = buffer[pos:]
            if cut:
                self.shutdown()
                self.proxy._cut_done()
                return


class CuttingProxy:
    """A TCP proxy on a free loopback port (`.port`) to a Redis server at `target_port` (an
    attribute: new connections go where it says then).

    cut_after_next_command("EVALSHA") (or cut_after_next_request_matching(b"marker"), bytes
    anywhere in the raw request) arms it once: the next request on any connection that matches
    is forwarded as usual; what the client sends after it on that connection is held back and
    never reaches the server; the replies to earlier requests are returned; when the first byte
    of the marked request's reply arrives — so Redis has run it — that reply is dropped and both
    sides of the connection are closed (the client sees EOF, or a reset if it had sent more).
    Later requests and connections are proxied normally. wait_for_cut() tells when it happened.

    Thread-based: an accept thread and two per connection, all daemon threads, ended by stop()."""

    def __init__(self, target_port, target_host=HOST):
        self.target_host = target_host
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Condition()
        self.links = set()
        self.accepted = 0  # connections made through it
        self.cuts = 0  # connections cut so far
        self.arms = 0  # cuts armed so far (the one armed now included)
        self.armed = None  # the predicate of the next cut, until a request matches it
        self.stopping = False
        self.thread = None

    @property
    def url(self):
        return "redis://%s:%d" % (HOST, self.port)

    def start(self):
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stop(self, timeout=5):
        """Closes the listener and every connection; waits (bounded) for the threads."""
        self.stopping = True
        if self.thread is not None:
            self.thread.join(timeout)
        self.listener.close()
        self.drop_connections()
        deadline = time.monotonic() + timeout
        with self.lock:
            threads = [thread for link in self.links for thread in link.threads]
        for thread in threads:
            thread.join(max(0, deadline - time.monotonic()))

    def drop_connections(self):
        """Closes every proxied connection now (a network blip); new ones are accepted."""
        with self.lock:
            links = list(self.links)
        for link in links:
            link.shutdown()

    def cut_after_next_request_matching(self, marker):
        self._arm(lambda request, args: marker in request)

    def cut_after_next_command(self, name):
        """Matches the command's name (its first word), case-insensitively: "EVAL" does not
        match EVALSHA."""
        wanted = name.encode().upper() if isinstance(name, str) else name.upper()
        self._arm(lambda request, args: args[0].upper() == wanted)

    def disarm(self):
        """Forgets a cut that no request has matched yet."""
        with self.lock:
            if self.armed is not None:
                self.armed = None
                self.arms -= 1

    def _arm(self, predicate):
        with self.lock:
            if self.armed is None:
                self.arms += 1
            self.armed = predicate  # one at a time: a second arm replaces the first

    def wait_for_cut(self, timeout=10):
        """True once every cut armed so far has happened, False after `timeout` s (nothing
        matched yet, or the marked request's connection closed before its reply came)."""
        with self.lock:
            return self.lock.wait_for(lambda: self.cuts >= self.arms, timeout)

    def _claim(self, request, args):
        """Whether this request is the armed one (called for every request; disarms on yes)."""
        with self.lock:
            if self.armed is None or not self.armed(request, args):
                return False
            self.armed = None
            return True

    def _cut_done(self):
        with self.lock:
            self.cuts += 1
            self.lock.notify_all()

    def _forget(self, link):
        with self.lock:
            self.links.discard(link)

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                server = socket.create_connection((self.target_host, self.target_port), timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()  # as if the server refused: the client sees EOF
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self, client, server)
            with self.lock:
                self.accepted += 1
                self.links.add(link)
            link.start()


# -- self-check ----------------------------------------------------------------------------------

def _self_check(scratch):
    print("failover: master + 1 replica + 3 sentinels")
    started = time.monotonic()
    with sentinel_topology(scratch, replicas=1, password="s3cret") as topology:
        master, (replica,), sentinels = topology
        print("  up in %.2fs: master %d, replica %d, sentinels %s"
              % (time.monotonic() - started, master.port, replica.port, sentinels.ports))
        print("  broker url: " + sentinels.broker_url())
        assert sentinels.master_address() == master.address
        master.command("SET", "before", "1")
        deadline = time.monotonic() + 5
        while replica.command("GET", "before") != b"1" and time.monotonic() < deadline:
            time.sleep(0.02)
        killed = time.monotonic()
        master.kill()
        first, first_seconds = sentinels.wait_for_failover(master.port, since=killed,
                                                           every_sentinel=False)
        address, seconds = sentinels.wait_for_failover(master.port, since=killed)
        assert address == first == replica.address, (address, first, replica.address)
        print("  SIGKILL of the master -> replica %d promoted: one sentinel says so after "
              "%.2fs, all three after %.2fs" % (address[1], first_seconds, seconds))
        assert replica.command("GET", "before") == b"1"
        replica.command("SET", "after", "2")
        master.replica_of = None  # comes back believing it is the master, as after a crash
        restarted = time.monotonic()
        master.start()
        try:
            master.wait_role("slave", timeout=45)
        except TopologyError as error:
            raise TopologyError("%s\n%s" % (error, sentinels.log_tails())) from None
        master.wait_synced()
        print("  old master restarted: a replica of the new one after %.2fs"
              % (time.monotonic() - restarted))
        assert master.command("GET", "after") == b"2"
        assert sentinels.master_address() == replica.address
    print("  stopped; exit codes: sentinels %s" % [s.exit_code for s in sentinels.sentinels])

    print("cutting proxy")
    with RedisServer(scratch) as server, CuttingProxy(server.port) as proxy:
        script = "redis.call('SET', KEYS[1], ARGV[1]) return 1"
        # A hand-written RESP client on a raw socket.
        with socket.create_connection((HOST, proxy.port), timeout=5) as raw:
            raw.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n")
            assert raw.recv(100) == b"+OK\r\n"
            proxy.cut_after_next_command("EVAL")
            raw.sendall(b"*5\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
                        % (len(script), script.encode()))
            try:
                got = raw.recv(100)
            except ConnectionResetError:
                got = "reset"
            assert got == b"", got
        assert proxy.wait_for_cut(5)
        assert server.command("GET", "a") == b"1" and server.command("GET", "b") == b"2"
        print("  SET then EVAL with the cut armed: the client read EOF; Redis has b=2")

        # Pipelined: the replies before the marked request arrive, what follows never runs.
        with RespConnection(proxy.port) as client:
            proxy.cut_after_next_request_matching(b"EVALSHA")
            sha = decoded(client.call("SCRIPT", "LOAD", script))
            client.send_raw(encode_command("SET", "p1", "x") + encode_command("INCR", "n")
                            + encode_command("EVALSHA", sha, 1, "p2", "y")
                            + encode_command("SET", "p3", "z"))
            replies = [client.read_reply(), client.read_reply()]
            try:
                client.read_reply()
                raise AssertionError("the marked reply came through")
            except ConnectionError as error:
                closed = type(error).__name__
        assert replies == ["OK", 1], replies
        assert proxy.wait_for_cut(5) and proxy.cuts == 2
        values = [server.command("GET", key) for key in ("p1", "p2", "p3")]
        assert values == [b"x", b"y", None], values
        print("  pipelined SET, INCR, EVALSHA, SET: got OK and 1, then %s; Redis has p1 and "
              "p2, not p3" % closed)

        with RespConnection(proxy.port) as client:
            assert client.call("PING") == "PONG" and client.call("GET", "b") == b"2"
            big = os.urandom(300000)
            client.send(*(["RPUSH", "big"] + [big[i:i + 1000] for i in range(0, len(big), 1000)]))
            assert client.read_reply() == 300
            assert b"".join(client.call("LRANGE", "big", 0, -1)) == big
        print("  later connections proxy normally (%d accepted, %d cut), a 300 KB reply too"
              % (proxy.accepted, proxy.cuts))
    print("  server exit code %s" % server.exit_code)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="rp-topology-", dir="/tmp") as scratch:
        began = time.monotonic()
        _self_check(scratch)
        print("self-check passed in %.1fs" % (time.monotonic() - began))
