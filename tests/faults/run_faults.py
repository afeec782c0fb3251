#!/usr/bin/python3
"""Fault scenarios against the real stack: every message counted, every fault on purpose.

Runs the stack of tools/devstack.py twice — one sidecar on the memory broker, then two sidecars
sharing rooms through a private redis-server — and injects faults while publishers keep
publishing and WebSocket clients (Debian's python3-websockets, through the real nginx on
loopback) keep reading, reconnecting and resuming with since/epoch as docs/websocket.md says.
Every message carries a unique payload id; the runner counts, per client, what was published
(acked to its publisher), delivered, lost and duplicated, the `reset`s, and the time the system
took to recover. docs/reliability.md says what each scenario does and how each figure is
defined.

    /usr/bin/python3 tests/faults/run_faults.py --build-dir build [--short] [--write-results]

Exit status 0 when every row passed, 1 when a row lost or doubled a message (or failed a check
of its own), 2 when the stack could not be started. Standard library plus python3-websockets.
"""

import argparse
import asyncio
import collections
import datetime
import http.client
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))

import devstack  # noqa: E402
import websockets  # noqa: E402  (Debian's python3-websockets)

RESULTS = os.path.join(REPO, "docs", "reliability.md")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
SLOW_PROGRAM = os.path.join(HERE, "slow_cad_inspect.sh")

# web/roompush.js's DEFAULT_BACKOFF: what a browser on the shipped client does after a drop.
BACKOFF_INITIAL, BACKOFF_MAX, BACKOFF_FACTOR, BACKOFF_JITTER, STABLE_AFTER = 0.5, 15.0, 2, 0.5, 5.0

STARTED = time.monotonic()


def log(*words):
    print("[faults %6.1fs]" % (time.monotonic() - STARTED), *words, file=sys.stderr, flush=True)


def now():
    return time.monotonic()


# ----------------------------------------------------------------------------------------------
# WebSocket clients
# ----------------------------------------------------------------------------------------------

def message_key(message):
    """The unique id of a message: the payload id the publishers put in `data.id`, or for the
    app's job events the job, the event, its progress and the attempt (the idempotency key the
    app gives it, docs/app.md)."""
    data = message.get("data")
    if isinstance(data, dict):
        if isinstance(data.get("id"), str):
            return data["id"]
        if "jobId" in data:
            event = message.get("event")
            progress = data.get("progress") if event == "job.progress" else ""
            return "job:%s:%s:%s:%s" % (data["jobId"], event, progress, data.get("attempt", 1))
    return "other:%s:%s" % (message.get("epoch"), message.get("seq"))


class Client:
    """One browser in one room, through nginx: connects, resumes after every drop with the last
    seq it saw and that message's epoch (after a `reset` with nothing replayed: the head the
    `subscribed` frame named), backs off like web/roompush.js, and records every frame."""

    def __init__(self, ws_url, room, name):
        self.ws_url = ws_url
        self.room = room
        self.name = name
        self.epoch = None
        self.seq = None
        self.head = None           # the last `subscribed` frame's seq
        self.count = collections.Counter()   # key -> receipts
        self.first_time = {}       # key -> monotonic time of the first receipt
        self.position = {}         # key -> (epoch, seq)
        self.events = {}           # key -> (event, data) of the first receipt
        self.resets = []           # dicts: t, prev_epoch, prev_seq, epoch, head, first_seq
        self.subscribed_at = []    # times of every `subscribed`
        self.closes = []           # (time, close code or None, what)
        self.failed_attempts = 0
        self.gaps = 0              # a seq jump in one epoch without a reset: a silent gap
        self.stale = 0             # a seq at or below the last one of the same epoch
        self.errors = []           # `error` frames
        self.ready = asyncio.Event()
        self.task = None

    def url(self):
        path = "%s/ws/rooms/%s" % (self.ws_url, self.room)
        since = self.seq if self.seq is not None else self.head
        if self.epoch is not None and since is not None:
            path += "?since=%d&epoch=%s" % (since, self.epoch)
        return path

    def on_frame(self, text):
        t = now()
        frame = json.loads(text)
        kind = frame.get("type")
        if kind == "message":
            epoch, seq = frame.get("epoch"), frame.get("seq")
            pending = self.resets[-1] if self.resets else None
            if pending is not None and pending["first_seq"] is None and epoch == pending["epoch"]:
                pending["first_seq"] = seq
            elif self.epoch == epoch and self.seq is not None:
                if seq <= self.seq:
                    self.stale += 1
                elif seq != self.seq + 1:
                    self.gaps += 1
            self.epoch, self.seq = epoch, seq
            key = message_key(frame)
            self.count[key] += 1
            if key not in self.first_time:
                self.first_time[key] = t
                self.position[key] = (epoch, seq)
                self.events[key] = (frame.get("event"), frame.get("data"))
        elif kind == "subscribed":
            self.subscribed_at.append(t)
            self.head = frame.get("seq")
            if self.epoch is None:
                self.epoch, self.seq = frame.get("epoch"), frame.get("seq")  # live from the head
            self.ready.set()
        elif kind == "reset":
            self.resets.append({"t": t, "prev_epoch": self.epoch, "prev_seq": self.seq,
                                "epoch": frame.get("epoch"), "head": self.head,
                                "first_seq": None})
            self.epoch, self.seq = frame.get("epoch"), None
        elif kind == "error":
            self.errors.append(frame)

    async def run(self):
        attempt = 0
        while True:
            opened = None
            code, what = None, ""
            try:
                async with websockets.connect(self.url(), open_timeout=20, close_timeout=1,
                                              ping_interval=None, compression=None,
                                              max_size=None) as socket_:
                    opened = now()
                    try:
                        async for text in socket_:
                            self.on_frame(text)
                    except websockets.exceptions.ConnectionClosed:
                        pass
                    code, what = socket_.close_code, "closed"
            except asyncio.CancelledError:
                raise
            except websockets.exceptions.InvalidStatusCode as error:
                code, what = None, "http %s" % error.status_code
            except (OSError, asyncio.TimeoutError,
                    websockets.exceptions.WebSocketException) as error:
                code, what = None, type(error).__name__
            if opened is None:
                self.failed_attempts += 1
            self.closes.append((now(), code, what))
            if opened is not None and now() - opened >= STABLE_AFTER:
                attempt = 0
            delay = min(BACKOFF_MAX, BACKOFF_INITIAL * BACKOFF_FACTOR ** attempt)
            attempt += 1
            await asyncio.sleep(delay * (1 - BACKOFF_JITTER * random.random()))

    def reconnected_after(self, t):
        return any(s > t for s in self.subscribed_at)


async def start_clients(ws_url, rooms, per_room, batch=100, timeout=60):
    clients = [Client(ws_url, room, "%s-%d" % (room, i))
               for room in rooms for i in range(per_room)]
    for start in range(0, len(clients), batch):  # a first connect in steps: nginx's backlog is 511
        group = clients[start:start + batch]
        for client in group:
            client.task = asyncio.create_task(client.run())
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in group)), timeout)
    return clients


async def stop_clients(clients):
    for client in clients:
        client.task.cancel()
    await asyncio.gather(*(c.task for c in clients), return_exceptions=True)


# ----------------------------------------------------------------------------------------------
# Publishers: each publishes one message at a time and retries it, with the same idempotency
# key, until it is acked (bounded by a deadline), as the app's outbox does.
# ----------------------------------------------------------------------------------------------

class Publisher(threading.Thread):
    kind = "?"

    def __init__(self, name, rooms, interval, max_count=5000, max_seconds=120, pad=0):
        super().__init__(daemon=True)
        self.label = name
        self.rooms = rooms
        self.interval = interval
        self.max_count = max_count
        self.pad = "x" * pad
        self.halt = threading.Event()
        self.deadline = now() + max_seconds     # no new message after this
        self.give_up_at = self.deadline + 20    # nor any retry
        self.acks = []        # dicts: key, room, t_sent, t_ack, seq, duplicate, attempts, via
        self.unacked = []     # keys given up on at the deadline
        self.refused = []     # (key, answer): refused for good
        self.retries = collections.Counter()

    def stop(self, grace):
        """No new message; the one in hand is retried for `grace` seconds at most."""
        self.give_up_at = now() + grace
        self.halt.set()

    def run(self):
        n = 0
        next_at = now()
        while not self.halt.is_set() and n < self.max_count and now() < self.deadline:
            key = "%s-%d" % (self.label, n)
            self.publish_one(self.rooms[n % len(self.rooms)], key)
            n += 1
            next_at = max(next_at + self.interval, now() - self.interval)
            self.halt.wait(max(0.0, next_at - now()))
        self.close()

    def publish_one(self, room, key):
        sent, backoff, attempts = now(), 0.05, 0
        while True:
            attempts += 1
            outcome, detail = self.attempt(room, key)
            if outcome == "ok":
                detail.update(key=key, room=room, t_sent=sent, t_ack=now(), attempts=attempts,
                              publisher=self.label)
                self.acks.append(detail)
                return
            if outcome == "refused":
                self.refused.append((key, detail))
                return
            self.retries[detail] += 1
            if now() > self.give_up_at:
                self.unacked.append(key)
                return
            time.sleep(backoff)
            backoff = min(backoff * 2, 0.5)

    def close(self):
        pass


class ControlPublisher(Publisher):
    """NDJSON `publish` lines on the sidecar's control socket (docs/protocol.md)."""
    kind = "control"

    def __init__(self, name, socket_path, rooms, interval, pad=0):
        super().__init__(name, rooms, interval, pad=pad)
        self.path = socket_path
        self.sock = None
        self.buffer = b""
        self.opened = None

    def attempt(self, room, key):
        if self.sock is None:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(15)
                sock.connect(self.path)
            except OSError as error:
                sock.close()
                return "retry", "connect " + type(error).__name__
            self.sock, self.buffer, self.opened = sock, b"", now()
        data = {"id": key}
        if self.pad:
            data["pad"] = self.pad
        line = json.dumps({"op": "publish", "room": room, "event": "fault", "data": data,
                           "id": key}).encode() + b"\n"
        try:
            self.sock.sendall(line)
            while b"\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError()
                self.buffer += chunk
        except (OSError, EOFError) as error:
            self.close()
            return "retry", "io " + type(error).__name__
        text, _, self.buffer = self.buffer.partition(b"\n")
        answer = json.loads(text)
        if answer.get("ok"):
            return "ok", {"seq": answer.get("seq"), "duplicate": bool(answer.get("duplicate")),
                          "via": "control", "conn_opened": self.opened}
        code = answer.get("error", {}).get("code")
        if code == "unavailable":
            return "retry", "unavailable"
        return "refused", answer

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class HttpPublisher(Publisher):
    """POST /push/ROOM?event=fault&id=KEY through nginx and the app's outbox (docs/http.md):
    200 (the sidecar took it) and 202 (journaled, the outbox delivers it) are acks."""
    kind = "http"

    def __init__(self, name, port, rooms, interval):
        super().__init__(name, rooms, interval)
        self.port = port
        self.conn = None

    def attempt(self, room, key):
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            self.conn.request("POST", "/push/%s?event=fault&id=%s" % (room, key),
                              body=json.dumps({"id": key}),
                              headers={"Content-Type": "application/json"})
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return "retry", "http " + type(error).__name__
        if response.status in (200, 202):
            answer = json.loads(body)
            return "ok", {"seq": answer.get("seq"), "duplicate": False,
                          "via": "http %d" % response.status, "conn_opened": None}
        if response.status in (502, 503, 504):
            return "retry", "http %d" % response.status
        return "refused", "%d %s" % (response.status, body[:200])

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def control_request(path, request, timeout=10):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps(request).encode() + b"\n")
        buffer = b""
        while b"\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("control socket closed")
            buffer += chunk
        return json.loads(buffer.partition(b"\n")[0])


# ----------------------------------------------------------------------------------------------
# Counting
# ----------------------------------------------------------------------------------------------

class Row:
    def __init__(self, stack, scenario):
        self.stack = stack
        self.scenario = scenario
        self.published = 0
        self.delivered = 0
        self.lost = 0
        self.duplicated = 0
        self.resets = 0
        self.excused = 0
        self.recovery = None   # seconds, or None: not applicable / never
        self.notes = []
        self.problems = []
        self.examples = []     # lost or doubled keys, for the report

    @property
    def ok(self):
        return not self.problems and self.lost == 0 and self.duplicated == 0

    def problem(self, text):
        self.problems.append(text)


class Tally:
    """Expected deliveries against what the clients got. `memory`: a missing message is excused
    when a `reset` announced it (docs/reliability.md: the definition of lost for memory)."""

    def __init__(self, clients, acks, memory, restarts=()):
        self.clients = clients
        self.acks = acks
        self.memory = memory
        self.restarts = sorted(restarts)  # times the (memory) sidecar was started again
        self.by_room = collections.defaultdict(list)
        for ack in acks:
            self.by_room[ack["room"]].append(ack)
        self.acked_keys = {ack["key"] for ack in acks}
        self.t0 = None  # the fault's start, for the report
        self.known = {}
        self.epochs = {}

    def refresh(self):
        """Where every received message stands, (epoch, seq), and each room's epochs in the
        order its clients first saw them (memory: one per life of the sidecar)."""
        self.known, first_seen = {}, collections.defaultdict(dict)
        for client in self.clients:
            self.known.update(client.position)
            seen = first_seen[client.room]
            for key, t in client.first_time.items():
                epoch = client.position[key][0]
                seen[epoch] = min(t, seen.get(epoch, t))
            for reset in client.resets:
                seen[reset["epoch"]] = min(reset["t"], seen.get(reset["epoch"], reset["t"]))
        self.epochs = {room: sorted(seen, key=seen.get) for room, seen in first_seen.items()}

    def position(self, ack):
        if ack["key"] in self.known:
            return self.known[ack["key"]]
        if ack.get("seq") is None:
            return None  # a 202 nobody received: its place is unknown, so nothing excuses it
        generation = sum(1 for t in self.restarts if t < ack["t_ack"])
        epochs = self.epochs.get(ack["room"], [])
        return (epochs[generation], ack["seq"]) if generation < len(epochs) else None

    def excused(self, client, ack):
        if not self.memory or not client.resets:
            return False
        position = self.position(ack)
        if position is None:
            return False
        epoch, seq = position
        for reset in client.resets:
            # The old epoch after the last seq seen, and what the new one no longer retains.
            if epoch == reset["prev_epoch"] and (reset["prev_seq"] is None
                                                 or seq > reset["prev_seq"]):
                return True
            first = reset["first_seq"]
            if first is None:
                first = (reset["head"] or 0) + 1
            if epoch == reset["epoch"] and seq < first:
                return True
        return False

    def missing(self):
        """(client, ack) pairs not delivered and not excused."""
        self.refresh()
        out = []
        for client in self.clients:
            for ack in self.by_room[client.room]:
                if client.count[ack["key"]] == 0 and not self.excused(client, ack):
                    out.append((client, ack))
        return out

    def fill(self, row):
        self.refresh()
        row.published = len(self.acks)
        for client in self.clients:
            for ack in self.by_room[client.room]:
                got = client.count[ack["key"]]
                if got:
                    row.delivered += 1
                    row.duplicated += got - 1
                    if got > 1:
                        row.examples.append("%s got %s %d times" % (client.name, ack["key"], got))
                elif self.excused(client, ack):
                    row.excused += 1
                else:
                    row.lost += 1
                    near = sorted(p for p in client.position.values()
                                  if ack.get("seq") and abs(p[1] - ack["seq"]) <= 2)
                    row.examples.append(
                        "%s never got %s (acked by %s, seq %s, %+.3f s from the fault's start, "
                        "%d attempts; it got seqs %s around it)" % (
                            client.name, ack["key"], ack["via"], ack.get("seq"),
                            ack["t_ack"] - (self.t0 or 0), ack.get("attempts", 1),
                            [q for _, q in near]))
            for key, got in client.count.items():  # (job events: counted by app-kill)
                if key not in self.acked_keys and got > 1 and not key.startswith("job:"):
                    row.duplicated += got - 1
                    row.examples.append("%s got unacked %s %d times" % (client.name, key, got))
            row.resets += len(client.resets)
            if client.gaps or client.stale:
                row.problem("%s: %d silent seq gaps, %d stale seqs" % (
                    client.name, client.gaps, client.stale))
            if client.errors:
                row.problem("%s: error frames %s" % (client.name, client.errors[:2]))
        delivered_unacked = sum(1 for c in self.clients for k in c.count
                                if k not in self.acked_keys and not k.startswith("job:"))
        if delivered_unacked:
            row.notes.append("%d deliveries of messages never acked" % delivered_unacked)

    def recovery(self, t_end):
        """Seconds from `t_end` until every client has every message acked before it (not
        excused) and the first one acked after it; None if some never arrived."""
        self.refresh()
        worst = t_end
        for client in self.clients:
            after = []
            for ack in self.by_room[client.room]:
                if self.excused(client, ack):
                    continue
                if ack["t_ack"] <= t_end:
                    t = client.first_time.get(ack["key"])
                    if t is None:
                        return None
                    worst = max(worst, t)
                else:
                    after.append(ack)
            if after:
                first = min(after, key=lambda a: a["t_ack"])
                t = client.first_time.get(first["key"])
                if t is None:
                    return None
                worst = max(worst, t)
        return worst - t_end


async def drain(condition, timeout, step=0.25):
    deadline = now() + timeout
    while now() < deadline:
        if condition():
            return True
        await asyncio.sleep(step)
    return condition()


# ----------------------------------------------------------------------------------------------
# Stacks
# ----------------------------------------------------------------------------------------------

class Env:
    """One running stack and what the scenarios need of it."""

    def __init__(self, kind, build_dir, base_dir, program_delay):
        self.kind = kind
        self.memory = kind == "memory"
        run_dir = os.path.join(base_dir, kind)
        os.makedirs(run_dir)
        layout = devstack.Layout.build_tree(os.path.abspath(build_dir))
        exec_template = "%s %s %s {input} {workdir}" % (SLOW_PROGRAM, program_delay,
                                                        layout.program)
        self.stack = devstack.Stack(build_dir, run_dir, devstack.free_port(),
                                    exec_template=exec_template, layout=layout,
                                    nodes=1 if self.memory else 2)
        self.nodes = self.stack.nodes

    @property
    def label(self):
        return "memory" if self.memory else "redis, 2 nodes"

    def start(self):
        self.stack.start()

    def stop(self):
        self.stack.stop()
        return {name: code for name, code in self.stack.exit_codes.items() if code != 0}

    def sidecar_names(self):
        return [self.stack.node_name(n) for n in range(self.nodes)]

    def stats(self, node=0):
        return control_request(self.stack.node_control_socket(node), {"op": "stats"})

    def stat_sum(self, name):
        return sum(self.stats(n).get(name, 0) for n in range(self.nodes))

    def wait_healthy(self):
        self.stack.wait_healthy(timeout=30)

    def stop_sidecars(self, nodes, sig):
        """Signals every named node at once and waits for them; returns their exit codes."""
        names = [self.stack.node_name(n) for n in nodes]
        processes = [self.stack.processes.pop(name) for name in names]
        for process in processes:
            process.send_signal(sig)
        codes = {}
        for name, process in zip(names, processes):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            codes[name] = process.returncode
        return codes

    def start_nodes(self, nodes):
        for node in nodes:
            self.stack.start_sidecar(node=node)

    def logs(self, lines=60):
        names = ["nginx"] + self.sidecar_names() + ["app"] + ([] if self.memory else ["redis"])
        out = []
        for name in names:
            out.append("--- %s ---\n%s" % (name, self.stack.log_tail(name, lines)))
        error_log = os.path.join(self.stack.nginx_prefix, "logs/error.log")
        if os.path.exists(error_log):
            with open(error_log, errors="replace") as text:
                out.append("--- nginx error.log ---\n" + "".join(text.readlines()[-lines:]))
        return "\n".join(out)


# ----------------------------------------------------------------------------------------------
# Scenarios
# ----------------------------------------------------------------------------------------------

class Plan:
    """Sizes and durations: the full run and the short one (CTest, CI)."""

    def __init__(self, short):
        self.short = short
        self.before = 1.0 if short else 1.5      # seconds of publishing before a fault
        self.after = 1.5 if short else 2.0       # seconds of publishing after it ends
        self.down = 0.7 if short else 1.0        # a killed app or Redis stays down this long
        self.sidecar_down = 2.5 if short else 3.0  # a killed sidecar: past POST /push's 2 s wait
        self.freeze = 3.0 if short else 10.0     # Redis SIGSTOPped this long
        self.jobs = 6 if short else 10
        self.storm = 200 if short else 2000
        self.storm_rooms = 10 if short else 20
        self.storm_down = 1.0   # every sidecar stopped this long: the clients' retries meet the gap
        self.slow_pad = 32000
        self.drain = 30.0                        # longest wait for the last deliveries


async def stream_scenario(env, name, fault, plan, rooms=("a", "b"), per_room=3,
                          http_publishers=2, control_interval=0.025, extra_check=None):
    """Clients in `rooms`, control and HTTP publishers; `fault(row)` (a coroutine) injects the
    fault and returns (start, end, restarts). The row counts every delivery."""
    row = Row(env.label, name)
    rooms = ["%s-%s" % (name, r) for r in rooms]
    clients = await start_clients(env.stack.ws_url, rooms, per_room)
    publishers = []
    for node in range(env.nodes):  # one per node, together at 1 / control_interval a second
        publishers.append(ControlPublisher("%s-c%d" % (name, node),
                                           env.stack.node_control_socket(node), rooms,
                                           control_interval * env.nodes))
    for i in range(http_publishers):
        publishers.append(HttpPublisher("%s-h%d" % (name, i), env.stack.port, rooms, 0.1))
    try:
        for publisher in publishers:
            publisher.start()
        await asyncio.sleep(plan.before)
        start, end, restarts = await fault(row, clients)
        await asyncio.sleep(plan.after)
        for publisher in publishers:
            publisher.stop(grace=20)
        for publisher in publishers:
            await asyncio.to_thread(publisher.join, 30)
        acks = [ack for p in publishers for ack in p.acks]
        tally = Tally(clients, acks, env.memory, restarts)
        tally.t0 = start
        complete = await drain(lambda: not tally.missing(), plan.drain)
        await asyncio.sleep(0.5)  # a duplicate arriving late is counted too
        tally.fill(row)
        recovery = tally.recovery(end) if complete else None
        row.recovery = recovery
        for publisher in publishers:
            if publisher.unacked:
                row.problem("%s gave up on %d messages" % (publisher.label, len(publisher.unacked)))
            if publisher.refused:
                row.problem("%s: refused %s" % (publisher.label, publisher.refused[:3]))
        retries = collections.Counter()
        for publisher in publishers:
            retries.update(publisher.retries)
        if retries:
            row.notes.append("publisher retries: " + ", ".join(
                "%s %d" % (k, v) for k, v in sorted(retries.items())))
        http_queued = sum(1 for a in acks if a["via"] == "http 202")
        if http_queued:
            row.notes.append("%d POST /push answered 202 (outbox)" % http_queued)
        reconnected = [c for c in clients if c.reconnected_after(start)]
        row.notes.insert(0, "%d clients in %d rooms, %d resubscribed after the fault" % (
            len(clients), len(rooms), len(reconnected)))
        check_resets(env, row, clients, start)
        if not env.memory:
            check_seqs(row, acks)
        if row.lost:
            await asyncio.to_thread(explain_lost, env, row, tally)
        if extra_check:
            extra_check(row, clients, start, end)
    finally:
        for publisher in publishers:
            publisher.stop(grace=0)
        await stop_clients(clients)
    return row


def fault_kill_sidecar(env, plan, nodes, sig=signal.SIGKILL, down=None):
    async def fault(row, clients):
        start = now()
        codes = await asyncio.to_thread(env.stop_sidecars, nodes, sig)
        if sig != signal.SIGKILL:
            unclean = {k: v for k, v in codes.items() if v != 0}
            if unclean:
                row.problem("sidecars did not stop cleanly on %s: %s" % (sig.name, unclean))
        await asyncio.sleep(plan.down if down is None else down)
        end = now()
        await asyncio.to_thread(env.start_nodes, nodes)
        row.notes.append("down %.1f s" % (end - start))
        return start, end, [end]
    return fault


def fault_redis_freeze(env, seconds):
    async def fault(row, clients):
        pid = env.stack.processes["redis"].pid
        start = now()
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(seconds)
        finally:
            os.kill(pid, signal.SIGCONT)
        end = now()
        row.notes.append("Redis stopped %.1f s" % (end - start))
        return start, end, []
    return fault


def redis_info(env, section):
    result = subprocess.run(["redis-cli", "-p", str(env.stack.redis_port), "INFO", section],
                            capture_output=True, text=True, timeout=10)
    return dict(line.strip().split(":", 1) for line in result.stdout.splitlines() if ":" in line)


def fault_redis_kill(env, plan, slow_fsync=False):
    """SIGKILL of Redis, started again on its append-only file. `slow_fsync`: first every
    fdatasync of Redis is made to take 1.5 s (strace's fault injection), as on a busy disk.
    With `appendfsync everysec` the kill then finds writes that Redis has answered but
    postponed behind the background fsync (not in the file yet): acknowledged messages lost.
    With `always`, which the stack runs (docs/scaling.md), Redis answers only what it wrote."""
    async def fault(row, clients):
        tracer = None
        if slow_fsync:
            tracer = subprocess.Popen(
                ["strace", "-f", "-qq", "-p", str(env.stack.processes["redis"].pid),
                 "-e", "trace=fdatasync,fsync", "-e", "inject=fdatasync:delay_enter=1500000",
                 "-o", "/dev/null"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            await asyncio.sleep(2.5)
            info = await asyncio.to_thread(redis_info, env, "persistence")
            row.notes.append("every fdatasync of Redis delayed 1.5 s; at the kill "
                             "aof_buffer_length %s, aof_pending_bio_fsync %s" % (
                                 info.get("aof_buffer_length"), info.get("aof_pending_bio_fsync")))
        start = now()
        await asyncio.to_thread(env.stack.kill_process, "redis")
        if tracer is not None:
            try:
                await asyncio.to_thread(tracer.wait, 10)
            except subprocess.TimeoutExpired:
                tracer.kill()
                tracer.wait()
        await asyncio.sleep(plan.down)
        end = now()
        await asyncio.to_thread(env.stack.start_redis)
        appendfsync = subprocess.run(["redis-cli", "-p", str(env.stack.redis_port), "CONFIG", "GET",
                                      "appendfsync"], capture_output=True, text=True,
                                     timeout=10).stdout.split()[-1:] or ["?"]
        row.notes.append("Redis down %.1f s (append-only file kept, appendfsync %s)" % (
            end - start, appendfsync[0]))
        return start, end, []
    return fault


def check_resets(env, row, clients, start):
    """Memory: a client that resumed on a restarted sidecar (a new epoch) got exactly one
    `reset` (never a silent gap). Redis: epochs live in Redis, so nobody gets one
    (docs/scaling.md)."""
    for client in clients:
        resets = [r for r in client.resets if r["t"] > start]
        if env.memory and client.reconnected_after(start) and len(resets) != 1:
            row.problem("%s resumed on the restarted sidecar with %d resets" % (
                client.name, len(resets)))
        if not env.memory and resets:
            row.problem("%s got %d resets on Redis" % (client.name, len(resets)))


def check_seqs(row, acks):
    """Redis: a room's seqs are handed out once (docs/scaling.md), so two different messages
    acked with the same seq in one room mean that one of them cannot reach anybody."""
    owners = collections.defaultdict(set)
    for ack in acks:
        if ack.get("seq") is not None:
            owners[(ack["room"], ack["seq"])].add(ack["key"])
    for (room, seq), keys in sorted(owners.items()):
        if len(keys) > 1:
            row.problem("room %s: seq %d acked for %s" % (room, seq, ", ".join(sorted(keys))))


def explain_lost(env, row, tally):
    """For the report: where the room's history (on Redis: its stream) has each lost message,
    and which message the clients got under that seq instead."""
    got = {}
    for client in tally.clients:
        for key, (epoch, seq) in client.position.items():
            got.setdefault((client.room, epoch, seq), key)
    lost = {(c.room, a["key"]) for c, a in tally.missing()}
    for room in sorted({r for r, _ in lost}):
        try:
            answer = control_request(env.stack.control_socket,
                                     {"op": "history", "room": room, "limit": 1000})
        except (OSError, EOFError, ValueError) as error:
            row.examples.append("history of %s: %s" % (room, error))
            continue
        where = {}
        for message in answer.get("messages", []):
            data = message.get("data")
            if isinstance(data, dict) and "id" in data:
                where[data["id"]] = (message.get("epoch"), message.get("seq"))
        for key in sorted(k for r, k in lost if r == room):
            if key not in where:
                row.examples.append("%s: %s is not in the room's history" % (room, key))
                continue
            epoch, seq = where[key]
            row.examples.append("%s: the history has %s at seq %s; the clients got %s under that "
                                "seq (epoch %s)" % (room, key, seq,
                                                    got.get((room, epoch, seq), "nothing"), epoch))


def check_all_back(row, clients, start, end):
    """Every client that was cut off subscribed again."""
    cut = [c for c in clients if any(t > start for t, _, _ in c.closes)]
    back = [c for c in cut if c.reconnected_after(start)]
    if len(back) != len(cut):
        row.problem("%d of %d cut-off clients never subscribed again" % (
            len(cut) - len(back), len(cut)))


def check_storm(row, clients, start, end):
    """Every client was cut off by the restart and subscribed again."""
    back = [c for c in clients if c.reconnected_after(start)]
    if len(back) != len(clients):
        row.problem("only %d of %d clients subscribed again" % (len(back), len(clients)))
    if back:
        last = max(min(t for t in c.subscribed_at if t > start) for c in back)
        row.notes.append("the last one back %.1f s after the restart" % (last - end))
    attempts = sum(c.failed_attempts for c in clients)
    row.notes.append("%d refused reconnect attempts" % attempts)


def check_failover(row, clients, start, end):
    """Two nodes: the killed node's clients resume on the other while it is down, no reset."""
    moved = [c for c in clients if c.reconnected_after(start)]
    early = [c for c in moved if min(t for t in c.subscribed_at if t > start) < end]
    row.notes.append("%d of %d cut-off clients resumed on the other node while it was down" % (
        len(early), len(moved)))
    if not moved:
        row.problem("no client was on the killed node")
    if len(early) != len(moved):
        row.problem("%d clients did not resume while the node was down" % (len(moved) - len(early)))
    check_all_back(row, clients, start, end)


async def slow_fsync_scenario(env, plan):
    name = "redis-kill-slow-fsync"
    if shutil.which("strace") is None:
        row = Row(env.label, name)
        row.notes.append("skipped: strace is not installed (apt-get install strace)")
        return row
    return await stream_scenario(env, name, fault_redis_kill(env, plan, slow_fsync=True), plan)


# -- SIGKILL of the app with jobs queued and running -----------------------------------------

def stl_bytes():
    lines = ["solid faults"]
    cube = [((0, 0, 0), (1, 0, 0), (0, 1, 0)), ((1, 0, 0), (1, 1, 0), (0, 1, 0)),
            ((0, 0, 0), (0, 0, 1), (1, 0, 0)), ((0, 0, 0), (0, 1, 0), (0, 0, 1))]
    for a, b, c in cube:
        lines.append(" facet normal 0 0 0\n  outer loop")
        for v in (a, b, c):
            lines.append("   vertex %d %d %d" % v)
        lines.append("  endloop\n endfacet")
    lines.append("endsolid faults\n")
    return "\n".join(lines).encode()


def upload(port, room, item, data):
    boundary = "roompushfaults%d" % random.randrange(1 << 30)
    parts = []
    for field, value in (("roomId", room), ("itemId", item)):
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                      % (boundary, field, value)).encode())
    parts.append(("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"part.stl\"\r\n"
                  "Content-Type: model/stl\r\n\r\n" % boundary).encode() + data + b"\r\n")
    body = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/cad", body=body,
                     headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def get_job(port, job_id):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/jobs/" + job_id)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


async def app_kill_scenario(env, plan):
    name = "app-kill"
    row = Row(env.label, name)
    room = "%s-%s" % (name, env.kind)
    clients = await start_clients(env.stack.ws_url, [room], 3)
    pusher = HttpPublisher("%s-%s-h" % (name, env.kind), env.stack.port, [room], 0.05)
    try:
        pusher.start()
        jobs = []
        for i in range(plan.jobs):
            status, body = await asyncio.to_thread(upload, env.stack.port, room, str(i),
                                                   stl_bytes())
            if status != 202:
                row.problem("upload %d: %d %s" % (i, status, body))
                continue
            jobs.append(body["jobId"])

        def started():
            return [j for j in jobs if "job:%s:job.started::1" % j in clients[0].count]
        await drain(lambda: len(started()) >= 2, 20, step=0.05)
        running = started()
        await asyncio.sleep(0.3)
        start = now()
        await asyncio.to_thread(env.stack.kill_process, "app")
        await asyncio.sleep(plan.down)
        end = now()
        await asyncio.to_thread(env.stack.start_app)
        row.notes.append("killed with %d running, %d queued; down %.1f s" % (
            len(running), len(jobs) - len(running), end - start))

        def terminal(client, job):
            return [k for k in client.count if k.startswith(("job:%s:job.done:" % job,
                                                             "job:%s:job.failed:" % job))]
        done = await drain(lambda: all(terminal(c, j) for c in clients for j in jobs),
                           plan.drain + plan.jobs * 2)
        await asyncio.sleep(plan.after)
        pusher.stop(grace=20)
        await asyncio.to_thread(pusher.join, 30)
        tally = Tally(clients, pusher.acks, memory=False)
        await drain(lambda: not tally.missing(), plan.drain)
        await asyncio.sleep(0.5)
        tally.fill(row)
        # Jobs: one terminal event each, in every client, and GET /jobs/ID agrees; no job event
        # twice.
        for client in clients:
            for key, got in client.count.items():
                if key.startswith("job:") and got > 1 and ":job.done:" not in key \
                        and ":job.failed:" not in key:
                    row.duplicated += got - 1
                    row.examples.append("%s got %s %d times" % (client.name, key, got))
        outcomes = collections.Counter()
        last_terminal = end
        for job in jobs:
            status, body = await asyncio.to_thread(get_job, env.stack.port, job)
            for client in clients:
                keys = terminal(client, job)
                receipts = sum(client.count[k] for k in keys)
                if receipts == 0:
                    row.lost += 1
                    row.examples.append("%s: no terminal event for job %s (%s)" % (
                        client.name, job, body.get("status")))
                    continue
                row.delivered += 1
                if receipts > 1:
                    row.duplicated += receipts - 1
                    row.examples.append("%s: job %s ended %d times: %s" % (
                        client.name, job, receipts, keys))
                event = client.events[keys[0]][0]
                last_terminal = max(last_terminal, client.first_time[keys[0]])
                if client is clients[0]:
                    outcomes[event] += 1
                    want = "done" if event == "job.done" else "failed"
                    if body.get("status") != want:
                        row.problem("job %s: %s pushed, GET /jobs says %s" % (
                            job, event, body.get("status")))
            row.published += 1
        row.notes.append("%d jobs: %s; %d POST /push" % (
            len(jobs), ", ".join("%d %s" % (v, k) for k, v in sorted(outcomes.items())),
            len(pusher.acks)))
        interrupted = outcomes.get("job.failed", 0)
        if interrupted != len(running):
            row.notes.append("expected %d interrupted" % len(running))
        if done:
            push_recovery = tally.recovery(end)
            if push_recovery is not None:
                row.recovery = max(push_recovery, last_terminal - end)
        if pusher.unacked or pusher.refused:
            row.problem("pusher: unacked %d, refused %s" % (
                len(pusher.unacked), pusher.refused[:3]))
        if pusher.retries:
            row.notes.append("publisher retries: " + ", ".join(
                "%s %d" % kv for kv in sorted(pusher.retries.items())))
    finally:
        pusher.stop(grace=0)
        await stop_clients(clients)
    return row


# -- a slow consumer ------------------------------------------------------------------------

class StalledClient:
    """Joins through nginx with a 4 KB receive buffer, reads `subscribed`, then stops reading."""

    def __init__(self, port, path):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" % path).encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("closed during the handshake")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError("no upgrade: %r" % head[:80])
        while not self.frames()[0]:
            self.buffer += self.sock.recv(4096)

    def frames(self):
        """(text frames, close code) in what was read so far."""
        texts, code, data = [], None, self.buffer
        while len(data) >= 2:
            opcode, length, offset = data[0] & 0x0F, data[1] & 0x7F, 2
            if length == 126:
                if len(data) < 4:
                    break
                length, offset = struct.unpack(">H", data[2:4])[0], 4
            elif length == 127:
                if len(data) < 10:
                    break
                length, offset = struct.unpack(">Q", data[2:10])[0], 10
            if len(data) < offset + length:
                break
            payload, data = data[offset:offset + length], data[offset + length:]
            if opcode == 0x1:
                texts.append(payload)
            elif opcode == 0x8 and len(payload) >= 2:
                code = struct.unpack(">H", payload[:2])[0]
        return texts, code

    def read_to_end(self, timeout=10):
        deadline = now() + timeout
        self.sock.settimeout(1)
        while now() < deadline:
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            self.buffer += chunk
        self.sock.close()
        return self.frames()


def pushctl_lines(env, lines):
    result = subprocess.run([env.stack.layout.pushctl, "--socket", env.stack.control_socket,
                             "--json", "publish", "--lines", "--event", "fault"],
                            input="".join(lines), capture_output=True, text=True, timeout=60)
    try:
        return json.loads(result.stdout), result
    except ValueError:
        return None, result


async def slow_consumer_scenario(env, plan):
    name = "slow-consumer"
    row = Row(env.label, name)
    room = "%s-%s" % (name, env.kind)
    clients = await start_clients(env.stack.ws_url, [room], 3)
    stalled = await asyncio.to_thread(StalledClient, env.stack.port, "/ws/rooms/" + room)
    closes_before = env.stat_sum("slow_consumer_closes")
    pad = "x" * plan.slow_pad
    acked, sent_after_close, n, started = [], 0, 0, now()
    closed_at, dropped_mb = None, 0.0
    try:
        while n < 2000 and now() - started < 60 and sent_after_close < 50:
            batch = ["%s\t%s\n" % (room, json.dumps({"id": "%s-%d" % (room, n + i), "pad": pad}))
                     for i in range(25)]
            summary, result = await asyncio.to_thread(pushctl_lines, env, batch)
            if summary is None or summary.get("failed") or summary.get("acked") != len(batch):
                row.problem("pushctl publish --lines: %s %s" % (
                    result.stdout[-300:], result.stderr[-300:]))
                break
            for i in range(len(batch)):
                acked.append({"key": "%s-%d" % (room, n + i), "room": room, "t_ack": now(),
                              "seq": None, "via": "pushctl --lines"})
            n += len(batch)
            if closed_at is None:
                if await asyncio.to_thread(env.stat_sum, "slow_consumer_closes") > closes_before:
                    closed_at = now()
                    dropped_mb = n * (plan.slow_pad + 100) / 1e6
            else:
                sent_after_close += len(batch)
            await asyncio.sleep(0.1)  # ~8 MB/s: the readers keep up
        tally = Tally(clients, acked, memory=False)
        await drain(lambda: not tally.missing(), plan.drain)
        await asyncio.sleep(0.5)
        tally.fill(row)
        texts, code = await asyncio.to_thread(stalled.read_to_end)
        megabytes = n * (plan.slow_pad + 100) / 1e6
        if closed_at is None:
            row.problem("the stalled client was never dropped (%.1f MB published)" % megabytes)
        else:
            row.notes.append("3 readers and 1 client that stopped reading; it was dropped after "
                             "%.1f MB (%.1f s)" % (dropped_mb, closed_at - started))
        row.notes.append("%.1f MB published in all (%d messages of %d bytes); reading again, the "
                         "stalled client found %d messages, then close code %s" % (
                             megabytes, n, plan.slow_pad, len(texts) - 1, code))
        if code != 1013:
            row.problem("the stalled client saw close code %s, not 1013" % code)
        for client in clients:
            if len(client.subscribed_at) != 1:
                row.problem("%s was disconnected" % client.name)
    finally:
        await stop_clients(clients)
    return row


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------

def scenarios_for(env, plan):
    """(name, coroutine factory) in the order they run on this stack."""
    everyone = list(range(env.nodes))
    out = []
    if env.memory:
        out.append(("sidecar-kill", lambda: stream_scenario(
            env, "sidecar-kill", fault_kill_sidecar(env, plan, [0], down=plan.sidecar_down), plan,
            extra_check=check_all_back)))
    else:
        out.append(("node-kill", lambda: stream_scenario(
            env, "node-kill", fault_kill_sidecar(env, plan, [0], down=plan.sidecar_down), plan,
            extra_check=check_failover)))
        out.append(("redis-freeze", lambda: stream_scenario(
            env, "redis-freeze", fault_redis_freeze(env, plan.freeze), plan)))
        out.append(("redis-kill", lambda: stream_scenario(
            env, "redis-kill", fault_redis_kill(env, plan), plan)))
        if not plan.short:  # full run only: it loses messages until Redis' rollback is handled
            out.append(("redis-kill-slow-fsync", lambda: slow_fsync_scenario(env, plan)))
    out.append(("app-kill", lambda: app_kill_scenario(env, plan)))
    out.append(("slow-consumer", lambda: slow_consumer_scenario(env, plan)))
    rooms = ["r%02d" % i for i in range(plan.storm_rooms)]
    storm = "reconnect-%d" % plan.storm
    out.append((storm, lambda: stream_scenario(
        env, storm,
        fault_kill_sidecar(env, plan, everyone, sig=signal.SIGTERM, down=plan.storm_down), plan,
        rooms=rooms, per_room=plan.storm // plan.storm_rooms, http_publishers=1,
        control_interval=0.02, extra_check=check_storm)))
    return out


async def run_env(env, plan, only, rows, failures):
    for name, factory in scenarios_for(env, plan):
        if only and name not in only and name.split("-")[0] not in only:
            continue
        log("%s: %s" % (env.label, name))
        await asyncio.to_thread(env.wait_healthy)
        began = now()
        try:
            row = await asyncio.wait_for(factory(), 240)
        except Exception as error:  # a scenario that broke is a failed row, not a lost run
            row = Row(env.label, name)
            row.problem("%s: %s" % (type(error).__name__, error))
        row.notes.append("%.0f s" % (now() - began))
        rows.append(row)
        log("  published %d, delivered %d, lost %d, duplicated %d, resets %d, excused %d, "
            "recovery %s%s" % (row.published, row.delivered, row.lost, row.duplicated, row.resets,
                               row.excused, fmt_seconds(row.recovery),
                               "" if row.ok else "  FAILED: %s" % (
                                   row.problems + row.examples[:10])))
        if not row.ok:
            failures.append((env, row, env.logs()))


def fmt_seconds(value):
    return "–" if value is None else "%.1f" % value


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no",
                            "--", "common", "fcgi-app", "ws-sidecar", "cli", "nginx", "tools",
                            "examples"], capture_output=True, text=True).stdout.strip()
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    redis = re.search(r"v=(\S+)", redis)
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "commit": commit + ("+dirty" if dirty else ""),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nginx": nginx.replace("nginx version: ", ""),
            "redis": redis.group(1) if redis else "unknown"}


def render(rows, info, seconds, short):
    lines = ["Generated by `./dev faults%s` on %s: commit `%s`; %s, %d cores, kernel %s; %s; "
             "Redis %s. The whole run took %.0f s." % (
                 " --short" if short else "", info["date"], info["commit"], info["cpu"],
                 info["cores"], info["kernel"], info["nginx"], info["redis"], seconds), "",
             "| broker | scenario | published | delivered | lost | duplicated | resets | "
             "missed, announced by reset | recovery s | result | notes |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for row in rows:
        problems = row.problems[:2]
        if len(row.problems) > 2:
            problems.append("and %d more such" % (len(row.problems) - 2))
        lines.append("| %s | %s | %d | %d | %d | %d | %d | %d | %s | %s | %s |" % (
            row.stack, row.scenario, row.published, row.delivered, row.lost, row.duplicated,
            row.resets, row.excused, fmt_seconds(row.recovery),
            "pass" if row.ok else "**FAIL**", "; ".join(row.notes + problems)))
    return "\n".join(lines) + "\n"


def update_results(path, block):
    with open(path) as text:
        content = text.read()
    if BEGIN not in content or END not in content:
        raise SystemExit("%s has no %s … %s block" % (path, BEGIN, END))
    head, rest = content.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(path, "w") as out:
        out.write(head + BEGIN + "\n\n" + block + "\n" + END + tail)


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


RUNNING = []  # every Env started, so that an interrupted run still stops them


async def main_async(args, plan, base_dir):
    rows, failures = [], []
    only = set(filter(None, args.only.split(",")))
    kinds = [k for k in ("memory", "redis") if not args.broker or k == args.broker]
    for kind in kinds:
        env = Env(kind, args.build_dir, base_dir, program_delay=1.5)
        log("starting the %s stack" % env.label)
        RUNNING.append(env)
        await asyncio.to_thread(env.start)
        try:
            await run_env(env, plan, only, rows, failures)
        finally:
            unclean = await asyncio.to_thread(env.stop)
        if unclean:  # e.g. a sanitizer's report at exit
            row = Row(env.label, "clean stop")
            row.problem("programs did not stop cleanly: %s" % unclean)
            rows.append(row)
            failures.append((env, row, env.logs()))
    return rows, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--short", action="store_true",
                        help="the short form (CTest label faults, CI): smaller and shorter")
    parser.add_argument("--write-results", action="store_true",
                        help="write the table into docs/reliability.md")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--broker", choices=("memory", "redis"), help="one stack only")
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    args = parser.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)
    # SIGTERM (ctest's timeout, a kill) must still stop the stacks this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    plan = Plan(args.short)
    limit = raise_fd_limit()
    if limit < plan.storm * 2 + 500:
        plan.storm = max(100, (limit - 500) // 2 // plan.storm_rooms * plan.storm_rooms)
        log("the fd limit is %d: %d WebSockets in the storm" % (limit, plan.storm))
    base_dir = tempfile.mkdtemp(prefix="roompush-faults-", dir="/tmp")
    os.chmod(base_dir, 0o711)  # as root the stack's daemons and nginx's workers are other users
    failed = True
    try:
        try:
            rows, failures = asyncio.run(main_async(args, plan, base_dir))
        except devstack.StackError as error:
            log("the stack did not start: %s" % error)
            return 2
        seconds = now() - STARTED
        block = render(rows, machine(), seconds, args.short)
        print(block)
        for env, row, logs in failures:
            print("FAILED: %s / %s: %s\n  %s\n%s" % (
                row.stack, row.scenario, "; ".join(row.problems),
                "\n  ".join(row.examples[:20]), logs), file=sys.stderr)
        failed = bool(failures) or not rows
        if args.write_results and (args.short or args.only or args.broker):
            log("%s not written: only a whole full run goes there" % RESULTS)
        elif args.write_results:
            update_results(RESULTS, block)
            log("wrote %s" % RESULTS)
        log("%s in %.0f s" % ("FAILED" if failed else "passed", seconds))
        return 1 if failed else 0
    finally:
        for env in RUNNING:
            env.stack.stop()  # nothing left to stop unless the run was interrupted
        if args.keep or failed:
            log("run directory kept: %s" % base_dir)
        else:
            shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
