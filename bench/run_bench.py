#!/usr/bin/python3
"""./dev bench: roompush against nchan, on loopback, with bench/loadgen (roompush-loadgen).

Starts one roompush stack through tools/devstack.py (what is benchmarked is what ships: the
same nginx templates), and nchan (Debian's libnginx-mod-nchan) in private nginx instances with
1 and 2 workers; for the scenarios in REDIS2_SCENARIOS also a stack of two sidecars on the Redis
broker behind one nginx upstream (system roompush-redis2), published to through both nodes'
control sockets and reported against the memory broker (roompush) of the same run; for the upload
scenario also a plain Node.js server of our own (system node-peer, bench/node-peer/: busboy, ws,
child_process.spawn, one process, no nginx; its modules installed with `npm ci` when missing),
running the same program on the same uploads; for jobs-2apps three stacks whose program takes
200 ms (bench/slow-job.sh), one with a single app node (roompush-1app), one with two sharing
their jobs through Redis behind nginx's FastCGI upstream (roompush-2apps), and one with two
sharing a spool (--shared-spool) where nginx sends every upload to the first node and the
second takes its share from the work stream (roompush-2apps-1door). For every
scenario and repetition the systems take turns (alternating, so that the machine's noise spreads
over all of them); the report takes medians and writes bench/RESULTS.md between its markers, and
the raw figures to BUILD/bench/results.json.

--smoke is the few-second form CTest runs (label `bench`): tiny counts, and it fails unless the
generator connects everything, receives every message and reports sane figures.
Standard library only.
"""

import argparse
import datetime
import grp
import json
import os
import platform
import pwd
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tools"))

import devstack  # noqa: E402

NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def log(*words):
    print("bench:", *words, file=sys.stderr, flush=True)


def nginx_pids(master):
    """The master and its workers."""
    pids = [master]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(entry))
    return pids


class PrivateNginx:
    """An nginx of the benchmark's own, rendered from a template in bench/ into a temporary
    prefix: nchan, or the frugal proxy that measures nginx's own floor."""

    def __init__(self, name, template, base_dir, workers, values=None):
        self.name = name
        self.template = template
        self.workers = workers
        self.values = dict(values or {})
        self.prefix = os.path.join(base_dir, name)
        self.port = devstack.free_port()
        self.process = None

    def start(self):
        for sub in ("conf", "logs", "tmp"):
            os.makedirs(os.path.join(self.prefix, sub), exist_ok=True)
        user_line = ""
        if os.geteuid() == 0:
            user_line = "user %s %s;" % (pwd.getpwuid(os.getuid()).pw_name,
                                         grp.getgrgid(os.getgid()).gr_name)
        conf = os.path.join(self.prefix, "conf/nginx.conf")
        values = {"PREFIX": self.prefix, "USER_LINE": user_line, "WORKERS": self.workers,
                  "PORT": self.port}
        values.update(self.values)
        with open(conf, "w") as out:
            out.write(devstack.render(os.path.join(HERE, self.template), values))
        command = ["nginx", "-p", self.prefix, "-c", conf,
                   "-e", os.path.join(self.prefix, "logs/error.log")]
        check = subprocess.run(command + ["-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("%s: nginx -t failed:\n%s" % (self.name, check.stderr))
        self.process = subprocess.Popen(command + ["-g", "daemon off;"],
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if devstack.port_in_use(self.port) and len(nginx_pids(self.process.pid)) > self.workers:
                return
            time.sleep(0.05)
        raise RuntimeError("%s: nginx did not start" % self.name)

    def pids(self):
        return nginx_pids(self.process.pid)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(15)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def nchan(workers, base_dir):
    return PrivateNginx("nchan-%dw" % workers, "nchan.conf.in", base_dir, workers)


NODE_PEER = "node-peer"
NODE_PEER_DIR = os.path.join(HERE, "node-peer")


def ensure_node_peer():
    """The peer's modules (busboy, ws; pinned in bench/node-peer/package-lock.json) in its
    git-ignored node_modules, installed with `npm ci` when missing or older than the lockfile,
    as ./dev does for the browser tests. False (the peer is left out) without node and npm."""
    if not shutil.which("node") or not shutil.which("npm"):
        log("node and npm (Node.js 20 or later) are not installed: no %s in the upload "
            "scenario" % NODE_PEER)
        return False
    stamp = os.path.join(NODE_PEER_DIR, "node_modules/.package-lock.json")
    lock = os.path.join(NODE_PEER_DIR, "package-lock.json")
    if not os.path.exists(stamp) or os.path.getmtime(lock) > os.path.getmtime(stamp):
        log("installing the Node.js peer's modules (npm ci in bench/node-peer)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=NODE_PEER_DIR, stdout=subprocess.DEVNULL, check=True)
    return True


class NodePeer:
    """bench/node-peer/server.mjs on a free loopback port: the upload path the way a small team
    would write it in Node.js, running the stack's program with the stack's arguments. Its
    temporary files go under the benchmark's directory, on the same file system as the spool."""

    def __init__(self, base_dir, exec_template):
        self.exec_template = exec_template
        self.tmp = os.path.join(base_dir, NODE_PEER)
        self.port = devstack.free_port()
        self.process = None

    def start(self):
        os.makedirs(self.tmp, exist_ok=True)
        log_file = open(os.path.join(self.tmp, "server.log"), "ab")
        self.process = subprocess.Popen(
            ["node", os.path.join(NODE_PEER_DIR, "server.mjs"), "--port", str(self.port),
             "--exec", self.exec_template],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, start_new_session=True,
            env=dict(os.environ, TMPDIR=self.tmp))
        log_file.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("%s exited with %s while starting"
                                   % (NODE_PEER, self.process.returncode))
            if devstack.port_in_use(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError("%s did not listen on port %d" % (NODE_PEER, self.port))

    def pids(self):
        return [self.process.pid]

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(15)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Systems:
    """Every system under test, by name: how the generator reaches it and which PIDs it costs."""

    def __init__(self, build_dir, base_dir, with_nchan, nchan_workers, baseline_build_dir=None,
                 with_redis2=False, with_node_peer=False, with_app_nodes=False):
        # History is retained 600 s by default; 5 s lets the end of the run show whether the
        # memory of the load comes back once what is retained has expired (nchan's messages
        # time out after 5 s as well). --event-loop epoll: measure the loop the package ships,
        # or fail, rather than fall back quietly.
        def stack(build, name, extra=(), nodes=1, apps=1, exec_template=None, app_args=(),
                  shared_spool=False, upstream_apps=None):
            return devstack.Stack(build, os.path.join(base_dir, name), devstack.free_port(),
                                  sidecar_args=["--history-ttl", "5", "--event-loop", "epoll"]
                                  + list(extra), nodes=nodes, apps=apps,
                                  exec_template=exec_template, app_args=app_args,
                                  shared_spool=shared_spool, upstream_apps=upstream_apps)
        # Messages from browsers on, without the per-connection rate limit: the client-publish
        # scenario measures the path, not the limit. (Not for a baseline, which may predate it.)
        # --ws-deflate: the deflate scenarios' clients offer it; the others' do not, and get
        # what they got without it.
        self.stack = stack(build_dir, "roompush", CLIENT_PUBLISH_ARGS + ("--ws-deflate",))
        # --baseline: the same stack built from another commit, measured in turn with this one.
        self.baseline = stack(baseline_build_dir, "roompush-baseline") if baseline_build_dir else None
        # Two sidecars on the Redis broker (a redis-server of the stack's own) behind the one
        # upstream, otherwise configured as the memory stack: REDIS2_SCENARIOS only.
        self.redis2 = (stack(build_dir, REDIS2, CLIENT_PUBLISH_ARGS, nodes=2)
                       if with_redis2 else None)
        # One app node against two sharing their jobs through Redis, both running a program
        # of 200 ms with two workers each: APP_NODES_SCENARIO only.
        slow = SLOW_JOB + " {input} {workdir}"
        self.app_nodes = ([stack(build_dir, name, apps=apps, exec_template=slow,
                                 app_args=("--workers", "2", "--queue", "64"),
                                 shared_spool=name == APPS2_1DOOR,
                                 upstream_apps=1 if name == APPS2_1DOOR else None)
                           for name, apps in ((APPS1, 1), (APPS2, 2), (APPS2_1DOOR, 2))]
                          if with_app_nodes else [])
        self.nchans = [nchan(w, base_dir) for w in nchan_workers] if with_nchan else []
        # nginx alone at its most frugal, in front of the same sidecar (idle scenario only).
        self.floor = PrivateNginx("nginx-floor", "nginx-floor.conf.in", base_dir, 2,
                                  {"WS_SOCKET": self.stack.ws_socket})
        # The Node.js peer of the upload path (upload scenarios only), with the stack's program
        # and arguments.
        self.node_peer = (NodePeer(base_dir, self.stack.exec_template) if with_node_peer
                          else None)

    def stacks(self):
        return [self.stack] + [s for s in (self.baseline, self.redis2) if s] + self.app_nodes

    def servers(self):
        return self.nchans + [self.floor] + ([self.node_peer] if self.node_peer else [])

    def start(self):
        for stack in self.stacks():
            stack.start()
        for server in self.servers():
            server.start()

    def stop(self):
        for server in self.servers():
            server.stop()
        for stack in self.stacks():
            stack.stop()

    def names(self):
        ours = (["roompush"] + (["roompush-baseline"] if self.baseline else [])
                + ([REDIS2] if self.redis2 else []) + ["roompush-direct"]
                + (APP_NODE_SYSTEMS if self.app_nodes else []))
        return (ours + [n.name for n in self.nchans] + [self.floor.name]
                + ([NODE_PEER] if self.node_peer else []))

    def roompush_pids(self, with_nginx=True, stack=None):
        """Every sidecar of the stack (and its redis-server, if it has one), and nginx."""
        stack = stack or self.stack
        pids = [stack.processes[stack.node_name(node)].pid for node in range(stack.nodes)]
        if "redis" in stack.processes:
            pids.append(stack.processes["redis"].pid)
        if with_nginx:
            pids += nginx_pids(stack.processes["nginx"].pid)
        return pids

    def target(self, name):
        if name.startswith("roompush"):
            direct = name == "roompush-direct"
            stack = self.stack_of(name)
            # More than one node: through every node's control socket, message by message.
            publish = ",".join("control:" + stack.node_control_socket(node)
                               for node in range(stack.nodes))
            # The sidecar's own share is reported for a single node only.
            primary = (["--primary-pid", str(stack.processes["sidecar"].pid)]
                       if stack.nodes == 1 else [])
            return {
                "ws": ("unix:" + stack.ws_socket) if direct
                else "tcp:127.0.0.1:%d" % stack.port,
                "prefix": "/ws/rooms/",
                "publish": publish,
                "upload": "tcp:127.0.0.1:%d" % stack.port,
                "pids": self.roompush_pids(not direct, stack),
                # An upload costs the app too (and, as reaped children, the programs it ran).
                "upload_pids": self.roompush_pids(True, stack) + [
                    stack.processes[stack.app_name(app)].pid for app in range(stack.apps)],
                "extra": ["--expect-subscribed"] + primary,
            }
        if name == NODE_PEER:  # upload only: the one process, and its programs as children
            address = "tcp:127.0.0.1:%d" % self.node_peer.port
            return {"ws": address, "prefix": "/ws/rooms/", "publish": "", "upload": address,
                    "pids": self.node_peer.pids(), "extra": ["--expect-subscribed"]}
        if name == self.floor.name:  # measured alone: nginx's pids only, not the sidecar's
            return {
                "ws": "tcp:127.0.0.1:%d" % self.floor.port,
                "prefix": "/ws/rooms/",
                "publish": "",
                "pids": self.floor.pids(),
                "extra": ["--expect-subscribed"],
            }
        server = next(n for n in self.nchans if n.name == name)
        return {
            "ws": "tcp:127.0.0.1:%d" % server.port,
            "prefix": "/sub/",
            "publish": "http:127.0.0.1:%d/pub/" % server.port,
            "pids": server.pids(),
            "extra": [],
        }

    def stack_of(self, name):
        by_name = {"roompush-baseline": self.baseline, REDIS2: self.redis2}
        by_name.update(dict(zip(APP_NODE_SYSTEMS, self.app_nodes)))
        return by_name.get(name, self.stack)

    def fsyncs(self, name):
        """fsync and fdatasync calls so far: the app's counter roompush_app_fsyncs_total from
        GET /metrics/app through the stack's nginx (loopback may read it), None when the app
        does not expose it. The Node.js peer makes none by construction (server.mjs calls
        neither, and Node's file streams never do): 0."""
        if name == NODE_PEER:
            return 0
        return app_metric(self.stack_of(name).url + "/metrics/app", "roompush_app_fsyncs_total")

    def node_counters(self, name):
        """For a system of several sidecars: each node's counters (control `stats`) that show how
        the load split over them; None for one node."""
        stack = self.stack_of(name) if name.startswith("roompush") else None
        if stack is None or stack.nodes == 1:
            return None
        return [{key: stats[key] for key in NODE_COUNTERS}
                for stats in (control_stats(stack.node_control_socket(node))
                              for node in range(stack.nodes))]


CLIENT_PUBLISH_ARGS = ("--client-publish", "--client-publish-rate", "10000",
                       "--client-publish-burst", "10000")
# A scenario whose generator arguments hold this publishes as a browser does: `publish` commands
# on a WebSocket of its own through the same nginx (loadgen --publish ws:/ws).
AS_BROWSER = "--as-browser"
# ... and this one's subscribers read server-sent events (GET /sse/rooms/ROOM through nginx).
OVER_SSE = "--over-sse"
# ... and this one's subscribers offer permessage-deflate (the stack runs with --ws-deflate).
WITH_DEFLATE = "--deflate"
NEW_IN_THIS_TREE = (AS_BROWSER, OVER_SSE, WITH_DEFLATE)  # what a baseline build may not know


# The Redis broker on two sidecar nodes runs these scenarios only, each beside the memory broker
# (roompush) of the same run: scenario -> (label, the least ratio of its deliveries/s to the
# memory broker's that the issue asks for). Printed with the results; never fails the run.
REDIS2 = "roompush-redis2"
APPS1, APPS2, APPS2_1DOOR = "roompush-1app", "roompush-2apps", "roompush-2apps-1door"
APP_NODE_SYSTEMS = [APPS1, APPS2, APPS2_1DOOR]
APP_NODES_SCENARIO = "jobs-2apps"
SLOW_JOB = os.path.join(HERE, "slow-job.sh")
REDIS2_SCENARIOS = {
    "rooms-1000x1": ("1,000 rooms × 1", 0.5),
    "fanout-1x1000": ("fanout 1×1,000", 0.8),
    "rooms-10x1": ("smoke: 10 rooms × 1", 0.5),
    "fanout-1x20": ("smoke: fanout 1×20", 0.8),
}
# What each node of a system of several did in one generator run, from its control `stats`
# before and after (docs/protocol.md): WebSockets accepted (the members nginx sent it), message
# frames queued for its members, and publishes through its control socket.
NODE_COUNTERS = ("connections_opened", "delivered", "control_requests")
NODE_FIGURES = ("members", "delivered", "publishes")


def node_deltas(before, after):
    # control_requests counts a request once answered: the first `stats` is in the difference.
    return [{"members": a["connections_opened"] - b["connections_opened"],
             "delivered": a["delivered"] - b["delivered"],
             "publishes": a["control_requests"] - b["control_requests"] - 1}
            for b, a in zip(before, after)]


def app_metric(url, metric):
    """One sample of Prometheus text at `url`, or None if it is not there."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError) as error:
        log("%s: %s" % (url, error))
        return None
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == metric:
            return float(words[1])
    return None


def control_stats(path):
    """`{"op":"stats"}` on a sidecar's control socket (docs/protocol.md), answered in one line."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(5)
        conn.connect(path)
        conn.sendall(b'{"op":"stats"}\n')
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    stats = json.loads(answer)
    if not stats.get("ok"):
        raise RuntimeError("stats on %s: %s" % (path, answer))
    return stats


def scenarios(smoke):
    """(name, what it shows, generator arguments, systems filter)."""
    if smoke:
        return [
            ("fanout-1x20", "fanout", ["--mode", "fanout", "--subs", "20", "--messages", "50"], None),
            ("rate-20x20", "latency", ["--mode", "rate", "--subs", "20", "--rate", "50",
                                       "--messages", "25"], None),
            ("rooms-10x1", "publish-bound", ["--mode", "fanout", "--rooms", "10", "--subs", "1",
                                             "--messages", "100", "--inflight", "10"], None),
            ("idle-50", "memory", ["--mode", "idle", "--subs", "50", "--sources", "4",
                                   "--hold", "0.3"], None),
            ("deflate-fanout-1x20", "deflate", [WITH_DEFLATE, "--payload-shape", "job", "--mode",
                                                "fanout", "--subs", "20", "--messages", "50"],
             ["roompush"]),
            ("upload-5", "upload", ["--mode", "upload", "--messages", "5", "--window", "2"],
             ["roompush", NODE_PEER]),
            ("client-publish-1x20", "client publish", [AS_BROWSER, "--mode", "fanout", "--subs",
                                                       "20", "--messages", "50"], ["roompush"]),
            ("sse-fanout-1x20", "sse fanout", [OVER_SSE, "--mode", "fanout", "--subs", "20",
                                               "--messages", "50"], ["roompush"]),
        ]
    # Fanout publishes as fast as they are acknowledged, with at most --inflight messages not
    # yet received by every subscriber (the same flow control for every system). idle-10000
    # comes last and restarts every system before each repetition: a heap that an earlier
    # scenario grew would otherwise hide the memory new connections cost.
    return [
        ("fanout-1x100", "fanout", ["--mode", "fanout", "--subs", "100", "--messages", "5000",
                                    "--inflight", "32", "--window", "32"], None),
        ("fanout-1x1000", "fanout", ["--mode", "fanout", "--subs", "1000", "--messages", "1000",
                                     "--inflight", "32", "--window", "32"], None),
        # The same fanout, published by a browser (a WebSocket member of the room) instead of
        # the control socket: the figure to read is its ratio to fanout-1x1000 in the same run.
        ("client-publish-1x1000", "client publish", [AS_BROWSER, "--mode", "fanout", "--subs",
                                                     "1000", "--messages", "1000", "--inflight",
                                                     "32", "--window", "32"], ["roompush"]),
        # The same fanout again, read as server-sent events: its ratio to fanout-1x1000.
        ("sse-fanout-1x1000", "sse fanout", [OVER_SSE, "--mode", "fanout", "--subs", "1000",
                                             "--messages", "1000", "--inflight", "32", "--window",
                                             "32"], ["roompush"]),
        # permessage-deflate (each message compressed once for the room): its ratios to the
        # plain fanout and 1,000 rooms of the same run, on the bench's payload and on a job.done's.
        ("deflate-fanout-1x1000", "deflate", [WITH_DEFLATE, "--mode", "fanout", "--subs", "1000",
                                              "--messages", "1000", "--inflight", "32",
                                              "--window", "32"], ["roompush"]),
        ("fanout-job-1x1000", "deflate", ["--payload-shape", "job", "--mode", "fanout", "--subs",
                                          "1000", "--messages", "1000", "--inflight", "32",
                                          "--window", "32"], ["roompush"]),
        ("deflate-fanout-job-1x1000", "deflate", [WITH_DEFLATE, "--payload-shape", "job", "--mode",
                                                  "fanout", "--subs", "1000", "--messages",
                                                  "1000", "--inflight", "32", "--window", "32"],
         ["roompush"]),
        ("deflate-rooms-1000x1", "deflate", [WITH_DEFLATE, "--payload-shape", "job", "--mode",
                                             "fanout", "--rooms", "1000", "--subs", "1",
                                             "--messages", "50000", "--inflight", "512",
                                             "--window", "512"], ["roompush"]),
        ("rooms-job-1000x1", "deflate", ["--payload-shape", "job", "--mode", "fanout", "--rooms",
                                         "1000", "--subs", "1", "--messages", "50000",
                                         "--inflight", "512", "--window", "512"], ["roompush"]),
        ("fanout-1x5000", "fanout", ["--mode", "fanout", "--subs", "5000", "--messages", "80",
                                     "--inflight", "16", "--window", "16"], None),
        # 200 messages (10 s): with fewer, one message held up by a hiccup of the machine was
        # 1 % of the deliveries and decided the p99 alone.
        ("rate-20x1000", "latency", ["--mode", "rate", "--subs", "1000", "--rate", "20",
                                     "--messages", "200"], None),
        # 100,000 publishes: long enough (0.5 s and more) for /proc's 10 ms CPU ticks.
        ("rooms-1000x1", "publish-bound", ["--mode", "fanout", "--rooms", "1000", "--subs", "1",
                                           "--messages", "100000", "--inflight", "512",
                                           "--window", "512"], None),
        ("upload-100", "upload", ["--mode", "upload", "--messages", "100", "--window", "4"],
         ["roompush", NODE_PEER]),
        # Uploads whose program takes 200 ms, 8 in flight: one app node (2 workers) against two
        # sharing their jobs through Redis (4 workers in all), through the same nginx site.
        (APP_NODES_SCENARIO, "upload past one node", ["--mode", "upload", "--messages", "80",
                                                      "--window", "8"], APP_NODE_SYSTEMS),
        # 50 source addresses: 200 connections each, under the site's limit_conn of 256 per
        # address (only 127.0.0.1 itself is unlimited), as 10,000 browsers would come.
        ("idle-10000", "memory", ["--mode", "idle", "--subs", "10000", "--sources", "50",
                                  "--hold", "2", "--connect-concurrency", "500"], None),
        # The same, every client with permessage-deflate and one compressed command sent, so
        # that the sidecar holds a decompressor for each: memory while open and once closed.
        ("idle-deflate-10000", "memory", [WITH_DEFLATE, "--mode", "idle", "--subs", "10000",
                                          "--sources", "50", "--hold", "2",
                                          "--connect-concurrency", "500"], ["roompush"]),
    ]


def run_generator(loadgen, systems, system, scenario_args, room_prefix, upload_file, timeout):
    target = systems.target(system)
    as_browser = AS_BROWSER in scenario_args
    over_sse = OVER_SSE in scenario_args
    deflate = WITH_DEFLATE in scenario_args
    scenario_args = [arg for arg in scenario_args if arg not in NEW_IN_THIS_TREE]
    if deflate:
        scenario_args = [WITH_DEFLATE] + scenario_args
    if over_sse:
        scenario_args = ["--sse"] + scenario_args
    upload = "upload" in scenario_args
    pids = target.get("upload_pids", target["pids"]) if upload else target["pids"]
    argv = [loadgen, "--ws", target["ws"],
            "--ws-prefix", "/sse/rooms/" if over_sse else target["prefix"],
            "--room-prefix", room_prefix,
            "--server-pids", ",".join(str(p) for p in pids),
            "--timeout", str(timeout)] + target["extra"] + scenario_args
    if upload:
        argv += ["--upload", target["upload"], "--upload-file", upload_file]
    else:
        argv += ["--publish", "ws:/ws" if as_browser else target["publish"]]
    before = systems.node_counters(system)
    # The generator waits 1.5 s after the last job.done: the fsyncs a job makes after its push
    # (marking it announced) are counted by then.
    fsyncs_before = systems.fsyncs(system) if upload else None
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 30)
    if done.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), done.returncode, done.stderr))
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if before:
        result["nodes"] = node_deltas(before, systems.node_counters(system))
    if upload:
        fsyncs_after = systems.fsyncs(system)
        result["fsyncs_per_job"] = (
            (fsyncs_after - fsyncs_before) / result["deliveries"]
            if None not in (fsyncs_before, fsyncs_after) and result["deliveries"] else None)
        # Process-tree CPU: the servers' own and that of the programs they ran and reaped.
        result["tree_cpu_us_per_delivery"] = (result["server_cpu_us_per_delivery"]
                                              + result["server_child_cpu_us_per_delivery"])
    return result


def write_stl(path):
    with open(path, "w") as out:
        out.write("solid bench\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n"
                  "   vertex 1 0 0\n   vertex 0 1 0\n  endloop\n endfacet\nendsolid bench\n")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def median_of(runs, key):
    values = [run[key] for run in runs]
    return statistics.median(values) if values else 0


SUMMARY_KEYS = ["server_wakeups_per_delivery", "hop_wakeups_per_delivery", "wire_bytes_per_delivery", "compressed_frames", "deflate_negotiated",
                "deliveries_per_s", "latency_p50_us", "latency_p99_us", "latency_max_us",
                "lost", "out_of_order", "server_cpu_us_per_delivery", "primary_cpu_us_per_delivery",
                "hop_cpu_us_per_delivery", "server_child_cpu_us_per_delivery",
                "client_cpu_us_per_delivery", "client_cpu_pct",
                "server_kb_per_conn", "server_pss_kb_start", "server_pss_kb_connected",
                "server_pss_kb_closed", "primary_kb_per_conn", "connected", "connect_failed", "deliveries", "expected",
                "publishes_per_s", "closed_by_server"]


def summarize(raw):
    """scenario -> system -> medians (and the sum of lost messages over every repetition)."""
    out = {}
    for scenario, by_system in raw.items():
        out[scenario] = {}
        for system, runs in by_system.items():
            for run in runs:  # nginx's hop, per run: the servers' CPU less the sidecar's
                run["hop_cpu_us_per_delivery"] = (run["server_cpu_us_per_delivery"] -
                                                  run["primary_cpu_us_per_delivery"])
            entry = {key: median_of(runs, key) for key in SUMMARY_KEYS}
            for key in ("tree_cpu_us_per_delivery", "fsyncs_per_job"):  # upload runs only
                values = [run.get(key) for run in runs]
                entry[key] = (statistics.median(values) if values and None not in values
                              else None)
            entry["lost_total"] = sum(run["lost"] + run["connect_failed"] for run in runs)
            entry["runs"] = len(runs)
            if all("nodes" in run for run in runs):  # per node, the median over the runs
                entry["nodes"] = [{key: statistics.median(run["nodes"][node][key] for run in runs)
                                   for key in NODE_FIGURES}
                                  for node in range(len(runs[0]["nodes"]))]
            out[scenario][system] = entry
    return out


def smoke_check(summary):
    problems = []
    for scenario, by_system in summary.items():
        for system, s in by_system.items():
            where = "%s/%s" % (scenario, system)
            if s["connect_failed"] or s["connected"] == 0:
                problems.append("%s: connected %d, failed %d" % (where, s["connected"], s["connect_failed"]))
            if s["lost_total"] or s["closed_by_server"]:
                problems.append("%s: lost %d, closed by server %d" % (where, s["lost_total"], s["closed_by_server"]))
            if "deflate" in scenario and (s["deflate_negotiated"] < s["connected"] or (
                    not scenario.startswith("idle") and s["compressed_frames"] <= 0)):
                problems.append("%s: deflate negotiated by %d of %d, %d frames compressed" % (
                    where, s["deflate_negotiated"], s["connected"], s["compressed_frames"]))
            if scenario.startswith("idle"):
                if s["server_pss_kb_connected"] <= 0:
                    problems.append("%s: no server memory figure" % where)
                continue
            if s["deliveries"] <= 0 or s["deliveries"] < s["expected"]:
                problems.append("%s: %d of %d delivered" % (where, s["deliveries"], s["expected"]))
            if not 0 < s["deliveries_per_s"] < 1e8:
                problems.append("%s: deliveries/s %r" % (where, s["deliveries_per_s"]))
            if not 0 <= s["latency_p50_us"] <= s["latency_p99_us"] <= s["latency_max_us"] < 30e6:
                problems.append("%s: latency p50/p99/max %r/%r/%r" % (
                    where, s["latency_p50_us"], s["latency_p99_us"], s["latency_max_us"]))
            if s["server_cpu_us_per_delivery"] < 0 or s["client_cpu_pct"] <= 0:
                problems.append("%s: cpu figures %r %r" % (
                    where, s["server_cpu_us_per_delivery"], s["client_cpu_pct"]))
            # Several nodes: each must have had members and publishes, or the system was one node;
            # and each node's publishes reach every member in the order it took them.
            if s.get("nodes") and s["out_of_order"]:
                problems.append("%s: %d deliveries out of their publisher's order" % (
                    where, s["out_of_order"]))
            for node, counts in enumerate(s.get("nodes", [])):
                if counts["members"] < 1 or counts["publishes"] < 1:
                    problems.append("%s: node %d had %d members and %d publishes" % (
                        where, node, counts["members"], counts["publishes"]))
    return problems


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    nchan = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libnginx-mod-nchan"],
                           capture_output=True, text=True).stdout.strip()
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "commit": commit + ("+dirty" if dirty else ""),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nginx": nginx.replace("nginx version: ", ""), "nchan": nchan or "not installed"}


def fmt(value, digits=1):
    if value >= 100:
        return "%.0f" % value
    return ("%%.%df" % digits) % value


def ratio(ours, theirs, inverse=False):
    if not ours or not theirs:
        return "n/a"
    return "%.2f" % ((theirs / ours) if inverse else (ours / theirs))


def server_cpu(scenario, system, s):
    """Through nginx, the sidecar's share and nginx's hop too (each the median of its own
    per-run figure, so the two need not add up to the total exactly). An upload costs the app
    too: its total alone here (sidecar + app + nginx), the split in node_peer_table."""
    total = fmt(s["server_cpu_us_per_delivery"], 2)
    if system != "roompush" or scenario.startswith("upload"):
        return total
    return "%s (%s + %s)" % (total, fmt(s["primary_cpu_us_per_delivery"], 2),
                             fmt(s["hop_cpu_us_per_delivery"], 2))


def render_markdown(info, summary, extra, reps, seconds):
    lines = [BEGIN, "",
             "Generated by `./dev bench` on %s: commit `%s`; %s, %d cores, kernel %s; %s; "
             "nchan %s. %d repetitions per scenario and system, alternating systems; medians "
             "shown (lost: the sum over every repetition). The whole run took %.0f s." % (
                 info["date"], info["commit"], info["cpu"], info["cores"], info["kernel"],
                 info["nginx"], info["nchan"], reps, seconds),
             ""]
    lines += ["| scenario | system | deliveries/s | p50 ms | p99 ms | max ms | lost | server CPU µs/delivery "
              "(sidecar + nginx's hop; upload: sidecar, app and nginx) | wake-ups/delivery: all (nginx's) "
              "| generator CPU % (µs/delivery) | server PSS MB (start → loaded → "
              "closed) | KB/conn |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for scenario, by_system in summary.items():
        for system, s in by_system.items():
            idle = scenario.startswith("idle")
            lines.append("| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %.1f → %.1f → %.1f | %s |" % (
                scenario, system,
                "–" if idle else fmt(s["deliveries_per_s"]),
                "–" if idle else fmt(s["latency_p50_us"] / 1000, 2),
                "–" if idle else fmt(s["latency_p99_us"] / 1000, 2),
                "–" if idle else fmt(s["latency_max_us"] / 1000, 2),
                s["lost_total"],
                "–" if idle else server_cpu(scenario, system, s),
                "–" if idle else wakeups(system, s),
                "–" if idle else "%s (%s)" % (fmt(s["client_cpu_pct"]),
                                              fmt(s["client_cpu_us_per_delivery"], 2)),
                s["server_pss_kb_start"] / 1024, s["server_pss_kb_connected"] / 1024,
                s["server_pss_kb_closed"] / 1024,
                fmt(s["server_kb_per_conn"], 2) if idle else "–"))
    lines += ["", "Ratios, roompush through nginx / nchan (same run):", "",
              "| target | figure | roompush | nchan 1w | nchan 2w | ours/1w | ours/2w | met |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in targets(summary, extra):
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % row)
    lines += own_ratios_table(summary)
    lines += deflate_table(summary)
    lines += redis2_table(summary)
    lines += node_peer_table(summary)
    lines += app_nodes_table(summary)
    lines += ["", END]
    return "\n".join(lines)


def wakeups(system, s):
    """Voluntary context switches of the server's threads per delivery; in brackets those of the
    nginx in front of a sidecar (a system without one: nginx is the server)."""
    if not system.startswith("roompush") or system == "roompush-direct":
        return fmt(s["server_wakeups_per_delivery"], 3)
    return "%s (%s)" % (fmt(s["server_wakeups_per_delivery"], 3), fmt(s["hop_wakeups_per_delivery"], 3))


def own_ratios(summary):
    """Ways nchan has no counterpart for: a browser publishing (client-publish) and server-sent
    events (sse-fanout), each against the WebSocket fanout of the same run."""
    base = summary.get("fanout-1x1000", {}).get("roompush")
    rows = []
    for scenario, what in (("client-publish-1x1000", "browser → room (publish on /ws)"),
                           ("sse-fanout-1x1000", "subscribers on /sse")):
        s = summary.get(scenario, {}).get("roompush")
        if not s or not base:
            continue
        for key, label, digits in (("deliveries_per_s", "deliveries/s", 0),
                                   ("server_cpu_us_per_delivery", "server CPU µs/delivery", 2),
                                   ("latency_p99_us", "p99 µs", 0)):
            rows.append(("%s: %s" % (scenario, what), label, fmt(s[key], digits),
                         fmt(base[key], digits), ratio(s[key], base[key])))
    return rows


# The targets for the upload path against the Node.js peer: figure, label, better,
# display scale and digits. Server CPU per job is process-tree CPU: the server processes' own
# (roompush: sidecar, app, nginx master and workers; the peer: its one process) plus the programs
# they ran and reaped (cad-inspect), the same for both; the two parts follow, without a target.
NODE_PEER_ROWS = (
    ("deliveries_per_s", "jobs/s ≥ peer", "higher", 1, 0),
    ("latency_p50_us", "upload→job.done p50 ≤ peer (ms)", "lower", 0.001, 2),
    ("latency_p99_us", "upload→job.done p99 ≤ peer (ms)", "lower", 0.001, 2),
    ("tree_cpu_us_per_delivery", "server CPU per job ≤ peer (µs, servers + programs)", "lower",
     1, 0),
    ("server_cpu_us_per_delivery", "… of which the server processes (µs)", None, 1, 0),
    ("server_child_cpu_us_per_delivery", "… of which the programs they ran (µs)", None, 1, 0),
    ("fsyncs_per_job", "fsyncs per job (the peer: none, by design)", None, 1, 1),
)


def node_peer_ratios(summary):
    """Each upload scenario run with the Node.js peer: roompush against it, same run."""
    rows = []
    for scenario, by_system in summary.items():
        ours, peer = by_system.get("roompush"), by_system.get(NODE_PEER)
        if not scenario.startswith("upload") or not ours or not peer:
            continue
        for key, label, better, scale, digits in NODE_PEER_ROWS:
            a, b = ours.get(key), peer.get(key)
            shown = [fmt(v * scale, digits) if v is not None else "n/a" for v in (a, b)]
            met = ""
            if better and a is not None and b is not None:
                met = "yes" if (a >= b if better == "higher" else a <= b) else "**no**"
            rows.append(("%s: %s" % (scenario, label), shown[0], shown[1],
                         ratio(a, b) if a is not None and b is not None else "n/a", met))
    return rows


def node_peer_table(summary):
    """node_peer_ratios as Markdown, or nothing."""
    rows = node_peer_ratios(summary)
    if not rows:
        return []
    lines = ["", "The upload path against a Node.js peer (%s: bench/node-peer/server.mjs, busboy, "
             "ws and child_process.spawn in one process, no nginx; the same cad-inspect with the "
             "same arguments; it sends job.done only and journals nothing), same run, taking "
             "turns; medians. Server CPU per job is process-tree CPU: the servers' own (roompush: "
             "sidecar, app and nginx) and the programs they ran; fsyncs from the app's "
             "roompush_app_fsyncs_total (n/a: not exposed by this build):" % NODE_PEER, "",
             "| target | roompush | %s | ratio | met |" % NODE_PEER,
             "| --- | ---: | ---: | ---: | --- |"]
    return lines + ["| %s | %s | %s | %s | %s |" % row for row in rows]


def app_nodes_table(summary):
    """APP_NODES_SCENARIO as Markdown: two app nodes against one, same run; or nothing."""
    one = summary.get(APP_NODES_SCENARIO, {}).get(APPS1)
    if not one:
        return []
    rows = []
    for system, what in ((APPS2, "two nodes"), (APPS2_1DOOR, "two nodes, one door")):
        two = summary.get(APP_NODES_SCENARIO, {}).get(system)
        if not two:
            continue
        for key, label, scale, digits, factor in (
                ("deliveries_per_s", "jobs/s, %s ≥ 1.8× one" % what, 1, 1, 1.8),
                ("latency_p50_us", "upload→job.done p50 ms, %s" % what, 0.001, 1, None),
                ("latency_p99_us", "upload→job.done p99 ms, %s" % what, 0.001, 1, None)):
            met = "" if factor is None else ("yes" if two[key] >= factor * one[key] else "**no**")
            rows.append((label, system, fmt(two[key] * scale, digits),
                         fmt(one[key] * scale, digits), ratio(two[key], one[key]), met))
    lines = ["", "Jobs past one app node (%s: uploads whose program takes 200 ms, 8 in flight, "
             "through the same nginx site; two app nodes of 2 workers sharing their jobs through "
             "Redis against one; \"one door\": the two share a spool and nginx sends every "
             "upload to the first, the second takes its share from the work stream), same run, "
             "taking turns; medians:" % APP_NODES_SCENARIO, "",
             "| figure | system | two nodes | %s | ratio | met |" % APPS1,
             "| --- | --- | ---: | ---: | ---: | --- |"]
    return lines + ["| %s | %s | %s | %s | %s | %s |" % row for row in rows]


def redis2_ratios(summary):
    """Each REDIS2_SCENARIOS scenario run: the Redis broker on two nodes against the memory broker
    of the same run, with the issue's target for deliveries/s and how the load split."""
    rows = []
    for scenario, (label, factor) in REDIS2_SCENARIOS.items():
        redis = summary.get(scenario, {}).get(REDIS2)
        memory = summary.get(scenario, {}).get("roompush")
        if not redis or not memory:
            continue
        ours, theirs = redis["deliveries_per_s"], memory["deliveries_per_s"]
        met = ("yes" if ours >= factor * theirs else "**no**") if theirs else "n/a"
        rows.append(("%s deliveries/s ≥ %.1f× memory" % (label, factor), "deliveries/s",
                     fmt(ours, 0), fmt(theirs, 0), ratio(ours, theirs), met))
        for key, figure, scale, digits in (
                ("server_cpu_us_per_delivery", "server CPU µs/delivery", 1, 2),
                ("latency_p50_us", "p50 ms", 0.001, 2), ("latency_p99_us", "p99 ms", 0.001, 2)):
            rows.append((label, figure, fmt(redis[key] * scale, digits),
                         fmt(memory[key] * scale, digits), ratio(redis[key], memory[key]), ""))
        # Publishes through two nodes interleave in a room as Redis ran them; each node's own
        # must keep their order.
        rows.append((label, "deliveries out of their publisher's order",
                     "%d" % redis["out_of_order"], "%d" % memory["out_of_order"], "",
                     "yes" if redis["out_of_order"] == 0 else "**no**"))
        nodes = redis.get("nodes", [])
        for key in ("members", "publishes"):
            counts = [node[key] for node in nodes]
            rows.append((label, "%s per node" % key, " / ".join("%d" % c for c in counts), "", "",
                         "yes" if counts and min(counts) > 0 else "**no**"))
    return rows


def redis2_table(summary):
    """redis2_ratios as Markdown, or nothing."""
    rows = redis2_ratios(summary)
    if not rows:
        return []
    lines = ["", "The Redis broker on two sidecar nodes (%s: one nginx upstream, a private "
             "redis-server; publishing through both nodes' control sockets in turn) against the "
             "memory broker (roompush), same run. Server CPU is both sidecars, redis-server and "
             "nginx; per node, the WebSockets nginx sent it and the publishes it took (medians):"
             % REDIS2, "",
             "| target | figure | %s | roompush | ratio | met |" % REDIS2,
             "| --- | --- | ---: | ---: | ---: | --- |"]
    return lines + ["| %s | %s | %s | %s | %s | %s |" % row for row in rows]


def targets(summary, extra):
    def get(scenario, system, key):
        return summary.get(scenario, {}).get(system, {}).get(key, 0)

    rows = []

    def row(label, scenario, key, better, factor=1.0, system="roompush", unit_scale=1.0, digits=2):
        ours = get(scenario, system, key)
        one = get(scenario, "nchan-1w", key)
        two = get(scenario, "nchan-2w", key)
        best = [v for v in (one, two) if v]
        if better == "higher":
            met = bool(best) and ours >= factor * max(best)
        else:
            met = bool(best) and ours <= factor * min(best)
        rows.append((label, key, fmt(ours * unit_scale, digits), fmt(one * unit_scale, digits),
                     fmt(two * unit_scale, digits), ratio(ours, one), ratio(ours, two),
                     ("yes" if met else "**no**") if best else "n/a"))

    row("fanout 1×1,000 deliveries/s ≥ nchan", "fanout-1x1000", "deliveries_per_s", "higher")
    row("fanout 1×1,000 CPU/delivery ≤ nchan", "fanout-1x1000", "server_cpu_us_per_delivery", "lower")
    row("20 msg/s × 1,000 p99 ≤ nchan (ms)", "rate-20x1000", "latency_p99_us", "lower",
        unit_scale=0.001)
    row("20 msg/s × 1,000 CPU/delivery ≤ 1.3× nchan", "rate-20x1000", "server_cpu_us_per_delivery",
        "lower", factor=1.3)
    for scenario in ("rate-20x1000", "fanout-1x1000"):  # for the record: no target of its own
        rows.append(("%s: wake-ups per delivery, every server thread" % scenario,
                     "server_wakeups_per_delivery",
                     fmt(get(scenario, "roompush", "server_wakeups_per_delivery"), 3),
                     fmt(get(scenario, "nchan-1w", "server_wakeups_per_delivery"), 3),
                     fmt(get(scenario, "nchan-2w", "server_wakeups_per_delivery"), 3), "", "", ""))
    row("1,000 rooms × 1 deliveries/s ≥ 2× nchan", "rooms-1000x1", "deliveries_per_s", "higher",
        factor=2.0)
    row("10,000 idle: sidecar+nginx KB/conn ≤ nchan", "idle-10000", "server_kb_per_conn", "lower")
    floor = get("idle-10000", "nginx-floor", "server_kb_per_conn")
    if floor:  # not a target: what nginx's Upgrade proxy alone holds, whatever sits behind it
        one = get("idle-10000", "nchan-1w", "server_kb_per_conn")
        two = get("idle-10000", "nchan-2w", "server_kb_per_conn")
        rows.append(("10,000 idle: a frugal nginx proxy alone (nginx-floor), for scale",
                     "server_kb_per_conn", fmt(floor, 2), fmt(one, 2), fmt(two, 2),
                     ratio(floor, one), ratio(floor, two), "floor"))
    alone = get("idle-10000", "roompush", "primary_kb_per_conn")
    if floor and alone:
        ours = get("idle-10000", "roompush", "server_kb_per_conn")
        rows.append(("10,000 idle through the site ≤ nginx-floor + sidecar + 1 KB",
                     "server_kb_per_conn", fmt(ours, 2), "", "", "",
                     "%s + %s + 1" % (fmt(floor, 2), fmt(alone, 2)),
                     "yes" if ours <= floor + alone + 1 else "**no**"))
    if alone:
        rows.append(("10,000 idle: sidecar alone ≤ 4 KB/conn", "sidecar KB/conn", fmt(alone, 2),
                     "", "", "", "", "yes" if alone <= 4 else "**no**"))
    lost = sum(s["lost_total"] for by in summary.values() for s in by.values())
    rows.append(("nothing lost, any scenario or system", "lost", str(lost), "", "", "", "",
                 "yes" if lost == 0 else "**no**"))
    # After every load scenario (before the idle one restarts the systems): the sidecar's PSS
    # against its start, and the same for sidecar + nginx (nginx keeps the heap its workers grew).
    for label, start, end in (("sidecar", "sidecar_start_kb", "sidecar_end_kb"),
                              ("sidecar+nginx", "rss_start_kb", "rss_end_kb")):
        if extra.get(start):
            grown = extra[end] - extra[start]
            rows.append(("PSS back near its start after the load (%s)" % label,
                         "MB start → end", "%.1f → %.1f" % (extra[start] / 1024, extra[end] / 1024),
                         "", "", "", "", "yes" if grown < 0.25 * extra[start] + 4096 else "**no**"))
    return rows


def update_results(path, block, begin=BEGIN, end=END):
    text = open(path).read() if os.path.exists(path) else "# roompush benchmark results\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as out:
        out.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--no-nchan", action="store_true")
    parser.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument("--baseline-build-dir", default=None,
                        help="also measure this build (another commit) in turn with this one, and "
                             "write the comparison to the results file's baseline section")
    parser.add_argument("--baseline-name", default="baseline", help="what to call it there")
    args = parser.parse_args()
    # SIGTERM (ctest's timeout, a kill) must still stop the servers this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    started = time.monotonic()
    build_dir = os.path.abspath(args.build_dir)
    loadgen = os.path.join(build_dir, "bench/roompush-loadgen")
    reps = args.reps or (1 if args.smoke else 3)
    limit = raise_fd_limit()
    with_nchan = os.path.exists(NCHAN_MODULE) and not args.no_nchan
    if not os.path.exists(NCHAN_MODULE) and not args.smoke:
        log("nchan is not installed (apt-get install libnginx-mod-nchan); comparing nothing")
    base_dir = tempfile.mkdtemp(prefix="roompush-bench-", dir="/tmp")
    os.chmod(base_dir, 0o711)  # as root the stack's daemons and nginx's workers are other users
    baseline = os.path.abspath(args.baseline_build_dir) if args.baseline_build_dir else None
    # The two Redis nodes when a scenario of theirs runs (not for --baseline, which compares
    # builds on the memory broker only).
    selected = [name for name, _what, _args, _only in scenarios(args.smoke)
                if not args.only or name in args.only.split(",")]
    with_redis2 = not baseline and any(name in REDIS2_SCENARIOS for name in selected)
    # The Node.js peer when an upload scenario runs (not for --baseline either).
    with_node_peer = (not baseline and any(name.startswith("upload") for name in selected)
                      and ensure_node_peer())
    with_app_nodes = not baseline and APP_NODES_SCENARIO in selected
    systems = Systems(build_dir, base_dir, with_nchan, [1] if args.smoke else [1, 2], baseline,
                      with_redis2, with_node_peer, with_app_nodes)
    upload_file = os.path.join(base_dir, "part.stl")
    write_stl(upload_file)
    raw, extra = {}, {}
    problems = []
    try:
        systems.start()
        time.sleep(0.3)
        extra["rss_start_kb"] = sum_pss(systems.roompush_pids())
        extra["sidecar_start_kb"] = sum_pss(systems.roompush_pids(False))
        for name, _what, scenario_args, only in scenarios(args.smoke):
            if args.only and name not in args.only.split(","):
                continue
            if "--subs" in scenario_args and int(scenario_args[scenario_args.index("--subs") + 1]) > limit - 200:
                log("skipping %s: the fd limit is %d" % (name, limit))
                continue
            raw[name] = {}
            fresh = name.startswith("idle")
            if fresh and "rss_end_kb" not in extra:
                measure_end(systems, extra, args.smoke)
            for rep in range(reps):
                if fresh:
                    systems.stop()
                    systems.start()
                    time.sleep(0.3)
                for system in systems.names():
                    if only and system not in only and not (
                            system == "roompush-baseline" and "roompush" in only):
                        continue
                    if system == systems.floor.name and not fresh:
                        continue  # a memory figure only
                    if system == REDIS2 and name not in REDIS2_SCENARIOS:
                        continue
                    if system in APP_NODE_SYSTEMS and name != APP_NODES_SCENARIO:
                        continue
                    if system == NODE_PEER and not name.startswith("upload"):
                        continue  # it has the upload path only
                    if system == "roompush-baseline" and any(
                            marker in scenario_args for marker in NEW_IN_THIS_TREE):
                        continue  # a baseline may predate client messages and SSE
                    prefix = "%s-%s-%d-" % (name, system, rep)
                    timeout = 60 if args.smoke else 120
                    result = run_generator(loadgen, systems, system, scenario_args, prefix,
                                           upload_file, timeout)
                    raw[name].setdefault(system, []).append(result)
                    log("%s %s rep %d: %.0f deliveries/s, p99 %.2f ms, lost %d, %.2f µs/delivery, "
                        "%.2f KB/conn (%.2f sidecar), generator %.0f%% CPU" % (
                            name, system, rep, result["deliveries_per_s"],
                            result["latency_p99_us"] / 1000, result["lost"],
                            result["server_cpu_us_per_delivery"], result["server_kb_per_conn"],
                            result["primary_kb_per_conn"],
                            result["client_cpu_pct"]))
                    if "fsyncs_per_job" in result:
                        fsyncs = result["fsyncs_per_job"]
                        log("  %.0f µs/job with the programs they ran, fsyncs/job %s" % (
                            result["tree_cpu_us_per_delivery"],
                            "n/a" if fsyncs is None else "%.1f" % fsyncs))
                    for node, counts in enumerate(result.get("nodes", [])):
                        log("  node %d: %d members, %d publishes, %d delivered" % (
                            node, counts["members"], counts["publishes"], counts["delivered"]))
        if "rss_end_kb" not in extra:
            measure_end(systems, extra, args.smoke)
    finally:
        systems.stop()
        shutil.rmtree(base_dir, ignore_errors=True)
    summary = summarize(raw)
    seconds = time.monotonic() - started
    os.makedirs(os.path.join(build_dir, "bench"), exist_ok=True)
    with open(os.path.join(build_dir, "bench", "smoke.json" if args.smoke else "results.json"), "w") as out:
        json.dump({"machine": machine(), "summary": summary, "raw": raw, "extra": extra}, out, indent=1)
    if args.smoke:
        for line in redis2_table(summary) + node_peer_table(summary):  # never failing the run
            log(line)
        problems = smoke_check(summary)
        for problem in problems:
            log("FAIL", problem)
        log("smoke %s in %.1f s" % ("failed" if problems else "passed", seconds))
        return 1 if problems else 0
    if baseline:
        block = render_comparison(machine(), raw, reps, args.baseline_name)
        update_results(args.results, block, BASELINE_BEGIN, BASELINE_END)
        print(block)
        return 0
    block = render_markdown(machine(), summary, extra, reps, seconds)
    update_results(args.results, block)
    print(block)
    return 0


BASELINE_BEGIN, BASELINE_END = "<!-- baseline:begin -->", "<!-- baseline:end -->"
COMPARED = [("deliveries_per_s", "deliveries/s", True), ("server_cpu_us_per_delivery",
             "server µs/delivery", False), ("latency_p50_us", "p50 µs", False),
            ("latency_p99_us", "p99 µs", False), ("server_kb_per_conn", "KB/conn", False)]


# (with deflate, without it): the same load with and without permessage-deflate, same run.
DEFLATE_PAIRS = (("deflate-fanout-1x1000", "fanout-1x1000", "fanout 1×1,000, the bench's payload"),
                 ("deflate-fanout-job-1x1000", "fanout-job-1x1000", "fanout 1×1,000, a job.done"),
                 ("deflate-rooms-1000x1", "rooms-job-1000x1", "1,000 rooms × 1, a job.done"),
                 ("idle-deflate-10000", "idle-10000", "10,000 idle, one compressed command each"))


def deflate_table(summary):
    """permessage-deflate against none, scenario by scenario (roompush through nginx)."""
    rows = []
    for with_it, without, what in DEFLATE_PAIRS:
        on = summary.get(with_it, {}).get("roompush")
        off = summary.get(without, {}).get("roompush")
        if not on or not off:
            continue
        if with_it.startswith("idle"):
            figures = (("server_kb_per_conn", "server KB/conn", 2),
                       ("primary_kb_per_conn", "sidecar KB/conn", 2),
                       ("server_pss_kb_closed", "server PSS after the close, KB", 0))
        else:
            figures = (("wire_bytes_per_delivery", "bytes on the wire per delivery", 0),
                       ("server_cpu_us_per_delivery", "server CPU µs/delivery", 2),
                       ("primary_cpu_us_per_delivery", "sidecar CPU µs/delivery", 2),
                       ("deliveries_per_s", "deliveries/s", 0),
                       ("latency_p99_us", "p99 µs", 0))
        for key, label, digits in figures:
            rows.append("| %s | %s | %s | %s | %s |" % (what, label, fmt(on[key], digits),
                                                       fmt(off[key], digits),
                                                       ratio(on[key], off[key])))
        if not with_it.startswith("idle"):
            rows.append("| %s | frames compressed / deliveries | %d / %d | – | |" % (
                what, on["compressed_frames"], on["deliveries"]))
    if not rows:
        return []
    return ["", "permessage-deflate (`--ws-deflate`; clients offering it, as browsers do) against "
            "the same load without it, same run (medians):", "",
            "| load | figure | deflate | none | ratio |", "| --- | --- | ---: | ---: | ---: |"] + rows


def own_ratios_table(summary):
    """The client-publish and SSE rows (own_ratios) as Markdown, or nothing."""
    rows = own_ratios(summary)
    if not rows:
        return []
    lines = ["", "Other ways in and out, against roompush's own WebSocket fanout 1×1,000 through "
             "nginx (control-socket publisher; same run):", "",
             "| scenario | figure | it | WebSocket fanout | ratio |",
             "| --- | --- | ---: | ---: | ---: |"]
    return lines + ["| %s | %s | %s | %s | %s |" % row for row in rows]


def render_comparison(info, raw, reps, baseline_name):
    """This build against the baseline, scenario by scenario: the medians, their ratio, and each
    side's spread over its repetitions (the run's own noise, to judge the ratio by)."""
    def spread(runs, key):
        values = [run[key] for run in runs]
        return "%s–%s" % (fmt(min(values)), fmt(max(values))) if values else "-"

    lines = ["## This build against %s" % baseline_name, "",
             "%s, %s. Through nginx, %d repetitions, the two builds taking turns; medians, and "
             "in brackets the range over the repetitions." % (info["cpu"], info["date"], reps), "",
             "| scenario | figure | this build | %s | ratio |" % baseline_name,
             "| --- | --- | --- | --- | --- |"]
    for scenario, by_system in raw.items():
        ours, theirs = by_system.get("roompush", []), by_system.get("roompush-baseline", [])
        if not ours or not theirs:
            continue
        for key, label, _higher_better in COMPARED:
            a, b = median_of(ours, key), median_of(theirs, key)
            if not a and not b:
                continue
            lines.append("| %s | %s | %s (%s) | %s (%s) | %s |" % (
                scenario, label, fmt(a), spread(ours, key), fmt(b), spread(theirs, key),
                ("%.2f" % (a / b)) if b else "-"))
    # Scenarios a baseline may predate were run for this build alone: their own table.
    lines += own_ratios_table(summarize(raw))
    return BASELINE_BEGIN + "\n" + "\n".join(lines) + "\n" + BASELINE_END


def measure_end(systems, extra, smoke):
    """Memory after the load, once retained history has expired (5 s) and the sidecar's periodic
    trim (every 15 s at most) has run."""
    if not smoke:
        time.sleep(17)
    extra["rss_end_kb"] = sum_pss(systems.roompush_pids())
    extra["sidecar_end_kb"] = sum_pss(systems.roompush_pids(False))


def sum_pss(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


if __name__ == "__main__":
    sys.exit(main())
