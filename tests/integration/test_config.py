"""One configuration story: every option from a flag or --config FILE, flags win, and bad
configuration stops the program at start with one line naming the option (exit 2)."""

import os
import subprocess
import tempfile
import unittest

import harness

PROGRAMS = {
    "roompush-sidecar": "ws-sidecar/roompush-sidecar",
    "roompush-fcgi": "fcgi-app/roompush-fcgi",
}


def run(program, *args, env=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ROOMPUSH_")}
    environment.update(env or {})
    return subprocess.run([os.path.join(harness.BUILD_DIR, PROGRAMS[program])] + list(args),
                          capture_output=True, text=True, timeout=30, env=environment)


class Config(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rp-config-", dir="/tmp")

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as out:
            out.write(text)
        return path

    def test_the_shipped_example_is_what_the_program_prints_and_it_loads(self):
        for program in PROGRAMS:
            with self.subTest(program=program):
                shipped = os.path.join(harness.REPO, "etc", program + ".conf")
                with open(shipped) as text:
                    committed = text.read()
                printed = run(program, "--print-config")
                self.assertEqual(printed.returncode, 0, printed.stderr)
                self.assertEqual(printed.stdout, committed,
                                 "regenerate etc/%s.conf with --print-config" % program)
                self.assertIn("# ", committed, "every option carries its help")
                checked = run(program, "--config", shipped, "--check-config")
                self.assertEqual(checked.returncode, 0, checked.stderr)
                self.assertIn("configuration is valid", checked.stdout)

    def test_pushctl_example_loads(self):
        pushctl = os.path.join(harness.BUILD_DIR, "cli/pushctl")
        shipped = os.path.join(harness.REPO, "etc", "pushctl.conf")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("ROOMPUSH_")}
        result = subprocess.run([pushctl, "--config", shipped, "rooms"], capture_output=True,
                                text=True, env=environment)
        # Parsed fine, then found no sidecar at the socket the file names.
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("/run/roompush/control.sock", result.stderr)

    def test_bad_configuration_is_one_line_naming_the_option_and_exit_2(self):
        cases = [
            ("typo in a key", 'max-queu = 4096\n', "max-queu"),
            ("underscore instead of dash", 'max_queue = 4096\n', "max_queue"),
            ("wrong type", 'max-queue = "lots"\n', "--max-queue"),
            ("out of range", 'ping-interval = 0\n', "--ping-interval"),
            ("negative", 'history-ttl = -5\n', "--history-ttl"),
            ("bad enum", 'log-level = "loud"\n', "--log-level"),
            ("unknown event loop", 'event-loop = "kqueue"\n', "--event-loop"),
            ("event loop of the wrong type", 'event-loop = 2\n', "--event-loop"),
            ("bad mode", 'socket-mode = "rw-rw----"\n', "--socket-mode"),
            ("socket path too long", 'ws-socket = "/tmp/%s.sock"\n' % ("x" * 120), "longer than"),
        ]
        for name, text, words in cases:
            with self.subTest(name):
                result = run("roompush-sidecar", "--config", self.write("bad.conf", text),
                             "--check-config")
                self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                self.assertIn(words, result.stderr)
                self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        app_cases = [
            ("app: typo in a key", 'worker = 3\n', "worker"),
            ("app: wrong type", 'queue = "many"\n', "--queue"),
            ("app: out of range", 'threads = 0\n', "--threads"),
            ("app: exec not absolute", 'exec = "cad-inspect {input}"\n', "--exec"),
            ("app: unknown placeholder", 'exec = "/bin/true {inptu}"\n', "inptu"),
            ("app: a flag given a number", 'rerun-interrupted = 7\n', "--rerun-interrupted"),
            ("app: a flag given a word", 'rerun-interrupted = "maybe"\n', "--rerun-interrupted"),
            ("app: too many retries", 'retries = 21\n', "--retries"),
            ("app: negative retries", 'retries = -1\n', "--retries"),
            ("app: a backoff of nothing", 'retry-backoff = 0\n', "--retry-backoff"),
            ("app: a backoff in words", 'retry-backoff = "soon"\n', "--retry-backoff"),
            ("app: a negative room cap", 'room-jobs = -3\n', "--room-jobs"),
            ("app: a room cap in words", 'room-running = "two"\n', "--room-running"),
            ("app: an unknown job store", 'job-store = "postgres://db"\n', "--job-store"),
            ("app: the memory broker as job store", 'job-store = "memory"\n', "--job-store"),
            ("app: a password in the job store's URL", 'job-store = "redis://u:pw@h"\n',
             "--job-store-password-file"),
            ("app: a job store port out of range", 'job-store = "redis://h:70000"\n',
             "--job-store"),
            ("app: a job store user without a password",
             'job-store = "redis://h"\njob-store-user = "app"\n', "--job-store-user"),
            ("app: a password file for the file store", 'job-store-password-file = "%s"\n'
             % os.path.abspath(__file__), "--job-store"),
            ("app: a node id with a space", 'job-store = "redis://h"\nnode-id = "a b"\n',
             "--node-id"),
            ("app: a lease too short", 'lease = 10\n', "--lease"),
            ("app: a lease in words", 'lease = "long"\n', "--lease"),
            ("app: a job store shard that is memory", 'job-store = "redis://a memory"\n',
             "--job-store"),
            ("app: a job store shard listed twice", 'job-store = "redis://a redis://a"\n',
             "--job-store"),
            ("app: a shared spool with the file store", 'shared-spool = true\n',
             "--shared-spool needs a Redis"),
            ("app: a shared spool as a word", 'job-store = "redis://h"\nshared-spool = "maybe"\n',
             "shared-spool"),
            ("app: a shared spool's node id with a slash",
             'job-store = "redis://h"\nshared-spool = true\nnode-id = "a/b"\n', "--node-id"),
            ("app: a shared spool's node id of dots",
             'job-store = "redis://h"\nshared-spool = true\nnode-id = ".."\n', "--node-id"),
            ("app: room caps with a shared spool",
             'job-store = "redis://h"\nshared-spool = true\nroom-jobs = 3\n', "--room-jobs"),
        ]
        for name, text, words in app_cases:
            with self.subTest(name):
                result = run("roompush-fcgi", "--config", self.write("bad-app.conf", text),
                             "--check-config")
                self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                self.assertIn(words, result.stderr)
                self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        pushctl = os.path.join(harness.BUILD_DIR, "cli/pushctl")
        for name, text in (("pushctl: json given a number", "json = 7\n"),
                           ("pushctl: json given a word", 'json = "maybe"\n')):
            with self.subTest(name):
                result = subprocess.run([pushctl, "--config", self.write("bad-cli.conf", text),
                                         "--socket", "/nonexistent/c.sock", "rooms"],
                                        capture_output=True, text=True, timeout=30)
                self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                self.assertIn("--json", result.stderr.splitlines()[0])
        missing = run("roompush-sidecar", "--config", "/nonexistent/roompush.conf")
        self.assertEqual(missing.returncode, 2)
        self.assertIn("/nonexistent/roompush.conf", missing.stderr)
        flag = run("roompush-sidecar", "--max-queue", "12")
        self.assertEqual(flag.returncode, 2)
        self.assertIn("--max-queue", flag.stderr)

    def test_boolean_flags_take_true_or_false_from_a_file(self):
        for text in ("rerun-interrupted = true\n", "rerun-interrupted = false\n",
                     "rerun-interrupted = yes\n", "rerun-interrupted = 0\n"):
            with self.subTest(text):
                checked = run("roompush-fcgi", "--config", self.write("flag.conf", text),
                              "--check-config")
                self.assertEqual(checked.returncode, 0, checked.stderr)
        pushctl = os.path.join(harness.BUILD_DIR, "cli/pushctl")
        for text in ("json = true\n", "json = false\n"):
            with self.subTest(text):
                result = subprocess.run([pushctl, "--config", self.write("json.conf", text),
                                         "--socket", "/nonexistent/c.sock", "rooms"],
                                        capture_output=True, text=True, timeout=30)
                self.assertEqual(result.returncode, 3, result.stderr)  # parsed; no sidecar there

    def test_sidecar_boolean_flag_takes_only_true_or_false(self):
        for option, text in (("--lws-debug", "lws-debug = 7\n"),
                             ("--lws-debug", 'lws-debug = "maybe"\n'),
                             ("--ws-deflate", 'ws-deflate = "gzip"\n'),
                             ("--ws-deflate", "ws-deflate = 2\n")):
            with self.subTest(text):
                result = run("roompush-sidecar", "--config", self.write("flag.conf", text),
                             "--check-config")
                self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                self.assertIn(option, result.stderr)
                self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        taken = run("roompush-sidecar", "--config", self.write("flag.conf", "ws-deflate = true\n"),
                    "--print-config")
        self.assertEqual(taken.returncode, 0, taken.stderr)
        self.assertIn("ws-deflate=true\n", taken.stdout)

    def test_flags_override_the_file(self):
        config = self.write("sidecar.conf", 'ping-interval = 7\nhistory = 5\nws-socket = "/tmp/a.sock"\n')
        effective = run("roompush-sidecar", "--config", config, "--history", "9", "--print-config")
        self.assertEqual(effective.returncode, 0, effective.stderr)
        self.assertIn("ping-interval=7\n", effective.stdout)
        self.assertIn("history=9\n", effective.stdout)
        self.assertIn('ws-socket="/tmp/a.sock"\n', effective.stdout)

    def test_every_program_has_a_generated_man_page(self):
        for program, flag in (("roompush-sidecar", "--history-ttl"), ("roompush-fcgi", "--spool"),
                              ("pushctl", "--socket"), ("cad-inspect", "--input")):
            with self.subTest(program=program):
                page = os.path.join(harness.BUILD_DIR, "man", program + ".1")
                with open(page) as text:
                    troff = text.read()
                self.assertIn('.TH %s "1"' % program.upper(), troff)
                self.assertIn(flag.replace("-", "\\-"), troff)

    def test_a_sidecar_started_from_a_config_file_serves_there(self):
        ws = os.path.join(self.dir, "w.sock")
        control = os.path.join(self.dir, "c.sock")
        config = self.write("live.conf", 'ws-socket = "%s"\ncontrol-socket = "%s"\n' % (ws, control))
        process = subprocess.Popen([os.path.join(harness.BUILD_DIR, PROGRAMS["roompush-sidecar"]),
                                    "--config", config], stderr=subprocess.PIPE)
        try:
            for _ in range(100):
                if os.path.exists(control):
                    break
                process.poll()
                self.assertIsNone(process.returncode)
                import time
                time.sleep(0.05)
            with harness.ControlConnection(control) as connection:
                self.assertTrue(connection.request({"op": "stats"})["ok"])
        finally:
            process.terminate()
            process.wait(10)
            process.stderr.close()
        self.assertEqual(process.returncode, 0)


if __name__ == "__main__":
    harness.main()
