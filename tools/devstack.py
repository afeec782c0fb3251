#!/usr/bin/python3
"""Runs the whole roompush stack on one machine: sidecar, FastCGI app and a private nginx.

`./dev up` uses it in the foreground; the integration tests import it and start a stack of
their own on a free port. Both render the same nginx template from nginx/, so what is tested is
what ships. Standard library only.
"""

import argparse
import contextlib
import fcntl
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASTCGI_PARAMS = "/etc/nginx/fastcgi_params"

# Started by root (CI, a container), the stack runs its programs as production does: both daemons
# as the unprivileged `roompush` (systemd/*.service: User=, Group=, and the sidecar's
# SupplementaryGroups=www-data, so that it may give its WebSocket socket to nginx's group) and
# nginx's workers as Debian's www-data. www-data is not in group roompush: it reaches the daemons
# only through the sockets given to its own group. Started by anyone else, every program runs as
# that user, as before.
DAEMON_USER = "roompush"
NGINX_USER = "www-data"
SYSUSERS_CONF = os.path.join(REPO, "systemd/roompush.sysusers.conf")
# The units' UMask= (systemd/roompush-sidecar.service, roompush-fcgi.service).
SIDECAR_UMASK = 0o007
APP_UMASK = 0o027


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_in_use(port):
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def render(template_path, values):
    with open(template_path) as template:
        text = template.read()
    for key, value in values.items():
        text = text.replace("@" + key + "@", str(value))
    return text


def links_jemalloc(binary):
    """Whether a program was linked with jemalloc (ROOMPUSH_JEMALLOC), from its NEEDED list."""
    dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True)
    return "libjemalloc.so" in dynamic.stdout


class StackError(Exception):
    pass


class DaemonIdentity:
    """User roompush, group roompush, nginx's group as a supplementary one: who the daemons run
    as when root starts the stack."""

    def __init__(self):
        self.uid = pwd.getpwnam(DAEMON_USER).pw_uid
        self.gid = grp.getgrnam(DAEMON_USER).gr_gid
        self.nginx_gid = grp.getgrnam(NGINX_USER).gr_gid

    def command(self, argv, nginx_group=True):
        """`argv` as roompush. setpriv execs it, so the pid stays the program's own and signals
        sent to a Popen's pid reach the program, not a wrapper."""
        groups = "--groups=" + NGINX_USER if nginx_group else "--clear-groups"
        return ["setpriv", "--reuid=" + DAEMON_USER, "--regid=" + DAEMON_USER, groups,
                "--"] + list(argv)

    def own(self, path, mode, recursive=False):
        """`path` becomes roompush's, with `mode`; `recursive`: what an earlier run as another
        user left in it (a spool, Redis' files) becomes roompush's too."""
        if not recursive:
            os.chown(path, self.uid, self.gid)
        elif os.stat(path).st_uid != self.uid:
            for directory, subdirs, files in os.walk(path):
                for name in [directory] + [os.path.join(directory, n) for n in subdirs + files]:
                    os.lchown(name, self.uid, self.gid)
        os.chmod(path, mode)

    def can_run(self, path, user=DAEMON_USER):
        """Whether `user` reaches and may execute (a directory: enter) `path`. Asked of a
        process that runs as that user: setpriv keeps root's capabilities until its exec, so a
        daemon on a path closed to roompush would still start, unlike under its unit."""
        return subprocess.run(["setpriv", "--reuid=" + user, "--regid=" + user, "--clear-groups",
                               "--", "test", "-x", path]).returncode == 0

    def give_read(self, path):
        """A file the tests hand to a daemon (a secret, a config) readable by group roompush
        only, as docs/deploy.md installs the token secret: root:roompush 0640 (a directory 0750)."""
        os.chown(path, 0, self.gid)
        os.chmod(path, 0o750 if os.path.isdir(path) else 0o640)


_identity = []


def ensure_daemon_user():
    """Makes the user roompush as the package does (systemd-sysusers with the shipped entry)."""
    try:
        pwd.getpwnam(DAEMON_USER)
    except KeyError:
        made = subprocess.run(["systemd-sysusers", SYSUSERS_CONF], capture_output=True, text=True)
        if made.returncode != 0:
            raise StackError("systemd-sysusers %s failed:\n%s" % (SYSUSERS_CONF, made.stderr))
    try:
        group = grp.getgrnam(DAEMON_USER)
        nginx = pwd.getpwnam(NGINX_USER)
    except KeyError as missing:
        raise StackError("no %s on this system (systemd-sysusers %s; nginx's package makes "
                         "www-data)" % (missing, SYSUSERS_CONF))
    if NGINX_USER in group.gr_mem or nginx.pw_gid == group.gr_gid:
        raise StackError("%s is a member of group %s (an older sysusers entry put it there): nginx "
                         "must reach the daemons through their sockets only. Remove it: "
                         "gpasswd -d %s %s" % (NGINX_USER, DAEMON_USER, NGINX_USER, DAEMON_USER))


def daemon_identity():
    """The DaemonIdentity when this process is root (the user is made on first use), else None:
    the daemons then run as whoever runs this."""
    if os.geteuid() != 0:
        return None
    if not _identity:
        ensure_daemon_user()
        _identity.append(DaemonIdentity())
    return _identity[0]


def check_searchable(path):
    """Every directory above `path` lets other users through (roompush and www-data must reach
    the run directory): a clear error here rather than a 502 or an EACCES later."""
    directory = os.path.dirname(os.path.abspath(path))
    while True:
        if not os.stat(directory).st_mode & 0o001:
            raise StackError("%s and %s cannot reach %s: %s is not searchable by other users "
                             "(chmod o+x it, or choose another run directory)"
                             % (DAEMON_USER, NGINX_USER, path, directory))
        if directory == "/":
            return
        directory = os.path.dirname(directory)


def daemon_command(argv, nginx_group=True):
    """`argv` as the daemons run (as roompush when root, unchanged otherwise): for a test that
    starts a daemon itself."""
    identity = daemon_identity()
    return identity.command(argv, nginx_group) if identity else list(argv)


def daemon_dir(path):
    """A scratch directory a test's own daemon binds its sockets in: roompush's, 0751, like the
    stack's run directory (nothing to do unless root)."""
    identity = daemon_identity()
    if identity:
        identity.own(path, 0o751)
    return path


def give_to_daemons(path):
    """A file or directory a test hands to a daemon, readable by it (nothing to do unless root)."""
    identity = daemon_identity()
    if identity:
        identity.give_read(path)
    return path


def substitute(text, old, new):
    """Replaces every `old`; a value the shipped file no longer has is an error, not a no-op,
    so that the tested site cannot drift from the shipped one unnoticed."""
    if old not in text:
        raise StackError("the nginx site no longer contains %r: update render_site" % old)
    return text.replace(old, new)


def render_site(site_path, port, run_dir, spool_dir, web_root, max_upload="64m", tls=None):
    """The production site (nginx/roompush.conf) with a private prefix's paths in place of the
    production ones. `tls` = (port, certificate, key) also enables its `#tls ` lines."""
    with open(site_path) as site:
        text = site.read()
    text = substitute(text, "listen 80;", "listen 127.0.0.1:%d;" % port)
    text = substitute(text, "listen [::]:80;", "# listen [::]:80; (private: IPv4 loopback only)")
    text = substitute(text, "unix:/run/roompush-fcgi/fcgi.sock",
                      "unix:" + os.path.join(run_dir, "fcgi.sock"))
    text = substitute(text, "unix:/run/roompush/", "unix:" + run_dir + "/")
    text = substitute(text, "root /usr/share/roompush/web;", "root %s;" % web_root)
    text = substitute(text, "client_max_body_size 64m;", "client_max_body_size %s;" % max_upload)
    if tls:
        tls_port, certificate, key = tls
        text = substitute(text, "#tls ", "")
        text = substitute(text, "listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % tls_port)
        text = substitute(text, "listen [::]:443 ssl http2;", "# listen [::]:443 (private)")
        text = substitute(text, "/etc/ssl/certs/roompush.crt", certificate)
        text = substitute(text, "/etc/ssl/private/roompush.key", key)
    return text


class Layout:
    """Where a stack's programs and shipped files are: a build tree (./dev, the tests) or the
    root of an installed package (the package test runs the stack from it)."""

    def __init__(self, sidecar, app, pushctl, program, site, web_root, root=None):
        self.root = root  # an installed package's root, standing for /
        self.sidecar = sidecar
        self.app = app
        self.pushctl = pushctl
        self.program = program
        self.site = site
        self.web_root = web_root

    @classmethod
    def build_tree(cls, build_dir):
        return cls(sidecar=os.path.join(build_dir, "ws-sidecar/roompush-sidecar"),
                   app=os.path.join(build_dir, "fcgi-app/roompush-fcgi"),
                   pushctl=os.path.join(build_dir, "cli/pushctl"),
                   program=os.path.join(build_dir, "examples/cad-inspect/cad-inspect"),
                   site=os.path.join(REPO, "nginx/roompush.conf"),
                   web_root=os.path.join(REPO, "web"))

    @classmethod
    def installed(cls, root):
        return cls(sidecar=os.path.join(root, "usr/bin/roompush-sidecar"),
                   app=os.path.join(root, "usr/bin/roompush-fcgi"),
                   pushctl=os.path.join(root, "usr/bin/pushctl"),
                   program=os.path.join(root, "usr/lib/roompush/cad-inspect"),
                   site=os.path.join(root, "etc/nginx/sites-available/roompush.conf"),
                   web_root=os.path.join(root, "usr/share/roompush/web"), root=root)

    @classmethod
    def from_environment(cls, build_dir):
        """$ROOMPUSH_INSTALLED_ROOT, when set, names an installed root to run instead."""
        root = os.environ.get("ROOMPUSH_INSTALLED_ROOT")
        return cls.installed(root) if root else cls.build_tree(build_dir)


class Stack:
    """One running stack. Use as a context manager or call start() / stop()."""

    def __init__(self, build_dir, run_dir, port, exec_template=None, sidecar_args=(),
                 app_args=(), max_upload="64m", log_to_files=True, layout=None, nodes=1,
                 broker=None, apps=1, shared_spool=False, upstream_apps=None):
        self.build_dir = os.path.abspath(build_dir)
        self.layout = layout or Layout.build_tree(self.build_dir)
        self.run_dir = os.path.abspath(run_dir)
        self.port = port
        self.exec_template = exec_template or (
            self.layout.program + " --input {input} --out {workdir}")
        self.sidecar_args = list(sidecar_args)
        self.app_args = list(app_args)
        self.max_upload = max_upload
        self.tls = None  # (port, certificate, key): also serve HTTPS, as the site's #tls lines do
        self.log_to_files = log_to_files
        # More than one sidecar share their rooms through a redis-server of the stack's own
        # (docs/scaling.md); node 0 keeps the single-node socket names.
        self.nodes = nodes
        # More than one app node share their jobs through the same redis-server (--job-store,
        # docs/app.md "Several app nodes"); node 0 keeps the single-node names.
        self.apps = apps
        # With it, the app nodes share one spool (--shared-spool): any node runs any job.
        self.shared_spool = shared_spool and apps > 1
        # The app nodes nginx sends requests to (the first N; default: all). One, with a shared
        # spool, makes every upload land on node 0 and the other nodes work through the stream.
        self.upstream_apps = upstream_apps or apps
        # The app nodes' --job-store: the stack's own redis-server unless set (a Sentinel group).
        self.job_store = None
        self.redis_port = None
        # Or the sidecars' --broker as given (a Sentinel group, shards), run by someone else.
        self.broker = broker
        self.processes = {}  # name -> Popen, in start order
        self.log_files = []
        self.exit_codes = {}  # name -> exit code of a stopped program (None: had to be killed)
        self.nginx_prefix = os.path.join(self.run_dir, "nginx")
        self.log_dir = os.path.join(self.run_dir, "logs")

    # -- paths -----------------------------------------------------------------------------
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d" % self.port

    @property
    def control_socket(self):
        return os.path.join(self.run_dir, "control.sock")

    @property
    def ws_socket(self):
        return os.path.join(self.run_dir, "ws.sock")

    def node_control_socket(self, node):
        return self.control_socket if node == 0 else os.path.join(
            self.run_dir, "control-%d.sock" % node)

    def node_ws_socket(self, node):
        return self.ws_socket if node == 0 else os.path.join(self.run_dir, "ws-%d.sock" % node)

    @staticmethod
    def node_name(node):
        return "sidecar" if node == 0 else "sidecar-%d" % node

    @property
    def redis_dir(self):
        return os.path.join(self.run_dir, "redis")

    @property
    def broker_url(self):
        return "redis://127.0.0.1:%d" % self.redis_port

    @property
    def fcgi_socket(self):
        return os.path.join(self.run_dir, "fcgi.sock")

    @property
    def spool_dir(self):
        return os.path.join(self.run_dir, "spool")

    def app_fcgi_socket(self, app):
        return self.fcgi_socket if app == 0 else os.path.join(self.run_dir, "fcgi-%d.sock" % app)

    def app_spool_dir(self, app):
        if app == 0 or self.shared_spool:
            return self.spool_dir
        return os.path.join(self.run_dir, "spool-%d" % app)

    @staticmethod
    def app_name(app):
        return "app" if app == 0 else "app-%d" % app

    def binary(self, path):
        """`path` absolute, or relative to the build directory."""
        path = os.path.join(self.build_dir, path)
        if not os.access(path, os.X_OK):
            raise StackError("%s is not built; run ./dev build first" % path)
        return path

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        os.makedirs(self.log_dir, exist_ok=True)
        self.prepare_run_dir()
        if port_in_use(self.port):
            raise StackError("port %d on 127.0.0.1 is already in use; set ROOMPUSH_PORT to "
                             "another port" % self.port)
        try:
            if (self.nodes > 1 and self.broker is None) or self.apps > 1:
                self.start_redis()
            for node in range(self.nodes):
                self.start_sidecar(node=node)
            for app in range(self.apps):
                self.start_app(app=app)
            self.start_nginx()
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise

    def prepare_run_dir(self):
        """As root, the run directory is what /run/roompush is in production: roompush's, 0751
        (nginx's workers pass through to the sockets but cannot list it); the daemons' state
        from an earlier run becomes roompush's (the daemons make the rest themselves), and
        every program roompush runs and the web root are in reach of their users."""
        identity = daemon_identity()
        if identity is None:
            return
        check_searchable(self.run_dir)
        identity.own(self.run_dir, 0o751)
        for state in (self.spool_dir, self.redis_dir):
            if os.path.isdir(state):
                identity.own(state, 0o750, recursive=True)
        if self.layout.root and not os.stat(self.layout.root).st_mode & 0o001:
            # The root of an extracted package stands for /, which is 0755 (dpkg-deb -x into a
            # mkdtemp directory leaves it 0700).
            os.chmod(self.layout.root, 0o755)
        for program in (self.layout.sidecar, self.layout.app, self.exec_template.split()[0]):
            if not identity.can_run(program):
                raise StackError("%s cannot run %s: a directory above it is closed to other "
                                 "users" % (DAEMON_USER, program))
        if not identity.can_run(self.layout.web_root, NGINX_USER):
            raise StackError("%s (nginx's workers) cannot enter the web root %s"
                             % (NGINX_USER, self.layout.web_root))

    def start_sidecar(self, extra_args=(), control_socket=None, node=0):
        """`control_socket` binds it elsewhere than where the app looks (a test can then decide
        when the app reaches the sidecar, by renaming the socket into place)."""
        control_socket = control_socket or self.node_control_socket(node)
        name = self.node_name(node)
        mode = [] if "--socket-mode" in self.sidecar_args else ["--socket-mode", "0660"]
        broker = []
        if self.broker is not None or self.nodes > 1:
            broker = ["--broker", self.broker or self.broker_url, "--node-id", "node%d" % node]
        group = []
        if daemon_identity() and "--ws-socket-group" not in self.sidecar_args:
            group = ["--ws-socket-group", NGINX_USER]  # as the unit's ExecStart gives it
        self.spawn(name, [self.binary(self.layout.sidecar),
                          "--ws-socket", self.node_ws_socket(node),
                          "--control-socket", control_socket]
                   + mode + group + broker + self.sidecar_args + list(extra_args),
                   daemon=True, umask=SIDECAR_UMASK)
        self.wait_for_socket(name, control_socket)
        self.wait_for_socket(name, self.node_ws_socket(node))

    def start_redis(self):
        """A private redis-server on a free loopback port, its files in the run dir. The
        append-only file keeps the rooms over a restart of Redis itself. As root it runs as
        roompush too (without nginx's group): never as root, and its directory is then
        roompush's like the rest of the run directory."""
        os.makedirs(self.redis_dir, exist_ok=True)
        if daemon_identity():
            daemon_identity().own(self.redis_dir, 0o750, recursive=True)
        if self.redis_port is None:
            self.redis_port = free_port()
        # appendfsync always: Redis writes before it answers, so what the sidecar acks survives
        # a crash of Redis (docs/scaling.md: everysec can lose acknowledged messages silently).
        self.spawn("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
                             "--dir", self.redis_dir, "--save", "", "--appendonly", "yes",
                             "--appendfsync", "always", "--daemonize", "no",
                             "--logfile", ""], daemon=True, nginx_group=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.processes["redis"].poll() is not None:
                raise StackError("redis-server exited while starting:\n" + self.log_tail("redis"))
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise StackError("redis-server did not answer PING within 10s")

    def sanitized_build(self):
        cache = os.path.join(self.build_dir, "CMakeCache.txt")
        with open(cache) as text:
            return "ROOMPUSH_SANITIZE:BOOL=ON" in text.read()

    def start_app(self, extra_args=(), app=0):
        # AddressSanitizer reserves terabytes of address space: a sanitized cad-inspect cannot
        # run under the default address-space limit.
        limits = (["--max-address-space", "0"]
                  if self.sanitized_build() and "--max-address-space" not in self.app_args else [])
        # As roompush-fcgi.socket gives it: SocketGroup=www-data, SocketMode=0660.
        group = (["--socket-group", NGINX_USER]
                 if daemon_identity() and "--socket-group" not in self.app_args else [])
        shared = (["--job-store", self.job_store or self.broker_url, "--node-id", "app%d" % app]
                  if self.apps > 1 else [])
        if self.shared_spool:
            shared.append("--shared-spool")
        # Each app node sends its pushes to a sidecar of its own when there are as many.
        control = self.node_control_socket(app if app < self.nodes else 0)
        name = self.app_name(app)
        self.spawn(name, [self.binary(self.layout.app),
                          "--listen", self.app_fcgi_socket(app),
                          "--socket-mode", "0660",
                          "--spool", self.app_spool_dir(app),
                          "--control-socket", control,
                          "--exec", self.exec_template] + group + limits + shared
                   + self.app_args + list(extra_args), daemon=True, umask=APP_UMASK)
        self.wait_for_socket(name, self.app_fcgi_socket(app))

    def render_nginx(self):
        conf_dir = os.path.join(self.nginx_prefix, "conf")
        for sub in ("conf", "logs", "tmp"):
            os.makedirs(os.path.join(self.nginx_prefix, sub), exist_ok=True)
        shutil.copy(FASTCGI_PARAMS, os.path.join(conf_dir, "fastcgi_params"))
        user_line = ""
        if daemon_identity():
            # Debian's default: the workers reach the daemons' 0660 sockets through the group
            # the daemons give them to, never as root.
            user_line = "user %s %s;" % (NGINX_USER, NGINX_USER)
        site = render_site(self.layout.site, self.port, self.run_dir, self.spool_dir,
                           self.layout.web_root, self.max_upload, self.tls)
        if self.upstream_apps > 1:  # every app node in the FastCGI upstream (docs/app.md)
            lines = "\n    ".join("server unix:%s;" % self.app_fcgi_socket(app)
                                  for app in range(self.upstream_apps))
            site = substitute(site, "server unix:%s;\n" % self.fcgi_socket, lines + "\n")
        if self.nodes > 1:  # every sidecar in the one upstream, as docs/scaling.md shows
            lines = "".join("server unix:%s max_fails=0;\n    " % self.node_ws_socket(node)
                            for node in range(self.nodes))
            site = substitute(site, "server unix:%s max_fails=0;\n    " % self.ws_socket, lines)
        main = render(os.path.join(REPO, "nginx/nginx-dev.conf.in"), {
            "PREFIX": self.nginx_prefix,
            "USER_LINE": user_line,
        })
        with open(os.path.join(conf_dir, "roompush.conf"), "w") as out:
            out.write(site)
        with open(os.path.join(conf_dir, "nginx.conf"), "w") as out:
            out.write(main)
        return os.path.join(conf_dir, "nginx.conf")

    def nginx_command(self, *extra):
        conf = self.render_nginx()
        return ["nginx", "-p", self.nginx_prefix, "-c", conf,
                "-e", os.path.join(self.nginx_prefix, "logs/error.log")] + list(extra)

    def start_nginx(self):
        check = subprocess.run(self.nginx_command("-t", "-q"), capture_output=True, text=True)
        if check.returncode != 0:
            raise StackError("nginx -t failed:\n" + check.stderr)
        self.spawn("nginx", self.nginx_command("-g", "daemon off;"))

    def spawn(self, name, argv, daemon=False, nginx_group=True, umask=None):
        """`daemon`: as root, run as roompush (`nginx_group`: with www-data as a supplementary
        group) and with the unit's `umask`."""
        options = {}
        identity = daemon_identity() if daemon else None
        if identity:
            argv = identity.command(argv, nginx_group)
            if umask is not None:
                options["umask"] = umask
        if self.log_to_files:
            stderr = open(os.path.join(self.log_dir, name + ".log"), "ab")
            self.log_files.append(stderr)
        else:
            stderr = None
        # Its own session: a Ctrl-C in the terminal reaches only the supervisor, which then
        # stops the programs in order.
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                   start_new_session=True, **options)
        self.processes[name] = process
        return process

    def wait_for_socket(self, name, path, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise StackError("%s exited with %s while starting:\n%s"
                                 % (name, process.returncode, self.log_tail(name)))
            if os.path.exists(path):
                with socket.socket(socket.AF_UNIX) as probe:
                    if probe.connect_ex(path) == 0:
                        return
            time.sleep(0.02)
        raise StackError("%s did not open %s within %ss" % (name, path, timeout))

    def wait_healthy(self, timeout=15):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise StackError("%s exited with %s:\n%s"
                                     % (name, process.returncode, self.log_tail(name)))
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError) as error:
                last = error
            time.sleep(0.05)
        raise StackError("GET /healthz did not answer 200 within %ss (last: %s)" % (timeout, last))

    def stop_process(self, name, sig=signal.SIGTERM, timeout=10):
        """Stops one program; returns its exit code (None if it had to be killed)."""
        process = self.processes.pop(name, None)
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return None
        return process.returncode

    def kill_process(self, name):
        process = self.processes.pop(name, None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self):
        # nginx first (no new requests), then the app (its pushes still reach the sidecar),
        # then the sidecars, then Redis.
        sidecars = [self.node_name(node) for node in range(self.nodes)]
        apps = [self.app_name(app) for app in range(self.apps)]
        for name in ["nginx"] + apps + sidecars + ["redis"]:
            if name in self.processes:
                self.exit_codes[name] = self.stop_process(
                    name, signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
        for name in list(self.processes):
            self.exit_codes[name] = self.stop_process(name)
        for log in self.log_files:
            log.close()
        self.log_files = []

    def log_tail(self, name, lines=40):
        path = os.path.join(self.log_dir, name + ".log")
        if not os.path.exists(path):
            return "(no log: output went to the terminal)"
        with open(path, errors="replace") as log:
            return "".join(log.readlines()[-lines:])


def hold_lock(run_dir):
    """One ./dev up per run directory: the lock file is held while the stack runs."""
    os.makedirs(run_dir, exist_ok=True)
    lock_path = os.path.join(run_dir, "dev.lock")
    lock = open(lock_path, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        raise StackError("a roompush dev stack is already running from this checkout (%s).\n"
                         "Stop it with Ctrl-C in its terminal, or: kill <pid>" % holder)
    lock.seek(0)
    lock.truncate()
    lock.write("pid %d" % os.getpid())
    lock.flush()
    return lock


def up(args):
    stop_requested = []

    def request_stop(signum, _frame):
        stop_requested.append(signum)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    lock = hold_lock(args.run_dir)
    with contextlib.ExitStack() as redis:
        broker, sidecar_args = start_topology(args, redis)
        # Open rooms that take messages from browsers and show who is in them, so that the
        # demo's notes and member list work out of the box.
        stack = Stack(args.build_dir, args.run_dir, args.port, log_to_files=False,
                      nodes=args.nodes, broker=broker, apps=args.apps,
                      shared_spool=args.shared_spool,
                      sidecar_args=("--client-publish", "--presence") + sidecar_args)
        lock.write(", http://127.0.0.1:%d" % args.port)
        lock.flush()
        return serve(stack, stop_requested)


def start_topology(args, exit_stack):
    """--redis sentinel|shards: the Redis the nodes share, started here (plain: the stack starts
    its own). Returns the --broker value (None: the stack's own) and more sidecar arguments."""
    if args.redis == "plain":
        return None, ()
    import redis_topology  # the test tooling, also what runs these topologies locally
    base = os.path.join(args.run_dir, "redis-" + args.redis)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    daemon_dir(base)
    if args.redis == "sentinel":
        master, replicas, sentinels = exit_stack.enter_context(
            redis_topology.sentinel_topology(base, replicas=2))
        # Two replicas: with --broker-min-replicas 1, the new master after a failover still
        # has one to confirm publishes with.
        print("  redis: master :%d, replicas %s, sentinels %s"
              % (master.port, [r.port for r in replicas], sentinels.ports), flush=True)
        return sentinels.broker_url(), ("--broker-min-replicas", "1")
    shards = [exit_stack.enter_context(redis_topology.RedisServer(base)) for _ in range(2)]
    print("  redis shards: %s" % " ".join(shard.url for shard in shards), flush=True)
    return " ".join(shard.url for shard in shards), ()


def serve(stack, stop_requested):
    try:
        stack.start()
        print("roompush is up: %s   (Ctrl-C stops it)" % stack.url, flush=True)
        print("  control socket: %s   (./dev pushctl rooms)" % stack.control_socket, flush=True)
        for node in range(1, stack.nodes):
            print("  node %d control socket: %s" % (node, stack.node_control_socket(node)),
                  flush=True)
        if stack.redis_port is not None and stack.nodes > 1 and stack.broker is None:
            print("  broker: %s (redis-server in %s)" % (stack.broker_url, stack.redis_dir),
                  flush=True)
        if stack.apps > 1:
            print("  job store: %s, shared by %d app nodes (FastCGI sockets %s)%s"
                  % (stack.broker_url, stack.apps,
                     " ".join(stack.app_fcgi_socket(app) for app in range(stack.apps)),
                     ", with one spool: " + stack.spool_dir if stack.shared_spool else ""),
                  flush=True)
        elif stack.broker is not None:
            print("  broker: %s" % stack.broker, flush=True)
        while not stop_requested:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print("%s exited with %s; stopping the stack" % (name, process.returncode),
                          file=sys.stderr, flush=True)
                    stop_requested.append(0)
                    break
            time.sleep(0.2)
    finally:
        stack.stop()
        print("roompush stopped", flush=True)
    return 0 if stop_requested and stop_requested[0] != 0 else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="run the stack in the foreground")
    up_parser.add_argument("--build-dir", required=True)
    up_parser.add_argument("--run-dir", required=True)
    up_parser.add_argument("--port", type=int, default=8080)
    up_parser.add_argument("--nodes", type=int, default=1,
                           help="sidecars behind nginx; more than one share rooms through a "
                                "local redis-server")
    up_parser.add_argument("--apps", type=int, default=1,
                           help="app nodes behind nginx's FastCGI upstream; more than one share "
                                "their jobs through a local redis-server (--job-store)")
    up_parser.add_argument("--shared-spool", action="store_true",
                           help="with --apps: one spool for every app node, so that any node's "
                                "free worker runs any job (--shared-spool)")
    up_parser.add_argument("--redis", choices=("plain", "sentinel", "shards"), default="plain",
                           help="with --nodes: one redis-server (plain), a master, two replicas "
                                "and three sentinels (sentinel), or two shards (shards)")
    args = parser.parse_args()
    if args.redis != "plain" and args.nodes < 2:
        parser.error("--redis %s needs --nodes 2 or more" % args.redis)
    if args.shared_spool and args.apps < 2:
        parser.error("--shared-spool needs --apps 2 or more")
    # redis_topology imports devstack: let it find this module, not load a second copy.
    sys.modules.setdefault("devstack", sys.modules[__name__])
    try:
        return up(args)
    except StackError as error:
        print("dev up: %s" % error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
