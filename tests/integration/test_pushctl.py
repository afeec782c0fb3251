"""pushctl against a running sidecar: every subcommand's table and --json, and hostile use."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import ControlConnection, RoomClient

PUSHCTL = None


def pushctl(*args, socket_path, stdin=None, env=None, timeout=30):
    return subprocess.run([os.path.join(harness.BUILD_DIR, "cli/pushctl"), "--socket", socket_path]
                          + list(args), capture_output=True, text=True, input=stdin,
                          timeout=timeout, env=env)


COMPLETION = os.path.join(harness.REPO, "cli", "pushctl-completion.bash")


def complete(*words, env=None, cwd=None):
    """What bash's completion for pushctl offers for the command line `words`, the last of which
    is the word being completed (plain bash, without the bash-completion package)."""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _pushctl; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", COMPLETION]
                            + list(words), capture_output=True, text=True, timeout=30, env=env,
                            cwd=cwd)
    assert result.returncode == 0 and result.stderr == "", result
    return [line for line in result.stdout.splitlines() if line]


class Pushctl(harness.StackTestCase):

    def run_pushctl(self, *args, stdin=None):
        return pushctl(*args, socket_path=self.stack.control_socket, stdin=stdin)

    def ok(self, *args, stdin=None):
        result = self.run_pushctl(*args, stdin=stdin)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def test_publish_from_flag_file_and_stdin_and_idempotent_repeat(self):
        data_file = self.write_fixture("data.json", b'{"from":"file"}')
        self.assertIn("seq 1", self.ok("publish", "pub", "--data", '{"from":"flag"}'))
        self.assertIn("seq 2", self.ok("publish", "pub", "--data", "@" + data_file))
        self.assertIn("seq 3", self.ok("publish", "pub", "--event", "e.x", stdin='{"from":"stdin"}'))
        first = json.loads(self.ok("--json", "publish", "pub", "--data", "1", "--id", "k"))
        again = json.loads(self.ok("publish", "pub", "--data", "1", "--id", "k", "--json"))
        self.assertEqual(first, {"ok": True, "seq": 4, "delivered": 0})
        self.assertEqual(again["duplicate"], True)
        self.assertEqual(again["seq"], 4)
        history = json.loads(self.ok("history", "pub", "--json"))
        self.assertEqual([m["data"] for m in history["messages"]],
                         [{"from": "flag"}, {"from": "file"}, {"from": "stdin"}, 1])
        self.assertEqual(history["messages"][2]["event"], "e.x")

    def test_publish_sends_the_data_as_written(self):
        """--data, a file and --lines: the text goes out as written (a big integer keeps its
        digits); only data that spans lines is compacted."""
        data = '{"n":12345678901234567890, "f":1.0e2}'
        self.ok("publish", "verbatim", "--data", " %s\n" % data)
        self.ok("publish", "verbatim", "--data", "@" + self.write_fixture("v.json", data.encode()))
        self.ok("publish", "--lines", stdin="verbatim\t%s\n" % data)
        self.ok("publish", "verbatim", stdin='{\n  "n": 12345678901234567890\n}\n')
        with ControlConnection(self.stack.control_socket) as control:
            history = control.request_text({"op": "history", "room": "verbatim"})
        self.assertEqual(history.count('"data":' + data + ',"ts":'), 3, history)
        self.assertIn('"data":{"n":1.2345678901234567e+19},"ts":', history)

    def test_publish_lines_pipelines_and_reports_failures_by_line(self):
        lines = "".join("bulk-%d\t{\"n\":%d}\n" % (n % 3, n) for n in range(500))
        lines += "bad room\t{}\nbulk-0\tnot json\nno tab here\n"
        result = self.run_pushctl("publish", "--lines", "--json", stdin=lines)
        self.assertEqual(result.returncode, 1, "some lines failed")
        summary = json.loads(result.stdout)
        self.assertEqual((summary["sent"], summary["acked"], summary["failed"]), (500, 500, 3))
        self.assertEqual([f["line"] for f in summary["failures"]], [501, 502, 503])
        self.assertEqual([f["code"] for f in summary["failures"]],
                         ["invalid_room", "bad_json", "bad_line"])
        table = self.ok("publish", "--lines", stdin="bulk-0\t{}\n")
        self.assertEqual(table.splitlines()[0], "sent 1, acked 1, failed 0")
        rooms = {r["room"]: r for r in json.loads(self.ok("rooms", "--json"))["rooms"]}
        self.assertEqual(rooms["bulk-0"]["seq"], 168)

    def test_room_history_stats_kick_tables_and_json(self):
        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/insp") as client:
                await client.next()
                self.ok("publish", "insp", "--event", "note", "--data", '{"k":"v"}')
                await client.next()
                room_json = json.loads(self.ok("room", "insp", "--json"))
                room_table = self.ok("room", "insp")
                history_table = self.ok("history", "insp", "--limit", "5")
                stats_json = json.loads(self.ok("stats", "--json"))
                stats_table = self.ok("stats")
                prometheus = self.ok("stats", "--prometheus")
                member = room_json["members"][0]["id"]
                kicked = self.ok("kick", "insp", str(member))
                try:
                    await client.next()
                    await client.next()
                    code = None
                except harness.websockets.ConnectionClosed as closed:
                    code = closed.code
                return (room_json, room_table, history_table, stats_json, stats_table,
                        prometheus, kicked, code)

        (room_json, room_table, history_table, stats_json, stats_table, prometheus, kicked,
         code) = self.run_async(scenario())
        self.assertEqual(room_json["room"], "insp")
        self.assertEqual(len(room_json["members"]), 1)
        self.assertIsInstance(room_json["members"][0]["since"], int)  # epoch ms in JSON
        header = room_table.splitlines()[2].split()
        self.assertEqual(header, ["MEMBER", "PEER", "CONNECTED", "QUEUED", "PRESENT"])
        row = room_table.splitlines()[3].split()
        self.assertEqual(row[-1], "-", "no presence in this stack: not visible")
        self.assertEqual(row[1], "127.0.0.1")
        self.assertRegex(room_table.splitlines()[3], r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")  # local time
        self.assertEqual(history_table.splitlines()[0].split(), ["SEQ", "TIME", "EVENT", "DATA"])
        self.assertIn('note', history_table.splitlines()[1])
        self.assertIn('{"k":"v"}', history_table.splitlines()[1])
        self.assertGreaterEqual(stats_json["published"], 1)
        self.assertNotIn("ok", stats_json)
        self.assertRegex(stats_table, r"published\s+\d+")
        self.assertIn("roompush_messages_published_total ", prometheus)
        self.assertIn("kicked member %d" % room_json["members"][0]["id"], kicked)
        self.assertEqual(code, 1008)

    def test_tail_count_3_receives_what_another_process_publishes(self):
        tail = subprocess.Popen([os.path.join(harness.BUILD_DIR, "cli/pushctl"), "--socket",
                                 self.stack.control_socket, "--json", "tail", "tailed", "--count",
                                 "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # wait until the tail has joined the room
            members = json.loads(self.ok("rooms", "--json"))["rooms"]
            if any(r["room"] == "tailed" for r in members):
                break
            time.sleep(0.05)
        for n in range(3):
            self.ok("publish", "tailed", "--data", '{"n":%d}' % n)
        out, err = tail.communicate(timeout=15)
        self.assertEqual(tail.returncode, 0, err)
        lines = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([line["data"]["n"] for line in lines], [0, 1, 2])
        self.assertEqual({line["type"] for line in lines}, {"message"})

    def test_hostile_use_gets_the_documented_exit_code_and_a_message(self):
        cases = [
            (("publish", "bad room", "--data", "{}"), 2, "room id"),
            (("publish", "A", "--data", "{not json"), 2, "not JSON"),
            (("publish", "A", "--data", "@/nonexistent/file"), 2, "cannot read"),
            (("publish", "--lines", "A"), 2, "--lines"),
            (("--frobnicate", "rooms"), 2, "frobnicate"),
            (("rooms", "--frobnicate"), 2, "frobnicate"),
            ((), 2, "subcommand"),
            (("kick", "A", "notanumber"), 2, "member"),
            (("history", "A", "--since", "-4"), 2, "since"),
            (("room", "never-seen"), 1, "no room never-seen"),
            (("kick", "A", "77"), 1, "no member 77"),
        ]
        for args, code, words in cases:
            result = self.run_pushctl(*args, stdin="")
            self.assertEqual(result.returncode, code, (args, result.stderr))
            self.assertIn(words, result.stderr + result.stdout, args)

    def test_bash_completes_room_and_member_ids_from_the_sidecar(self):
        binary = os.path.join(harness.BUILD_DIR, "cli/pushctl")
        sock = self.stack.control_socket
        for room in ("comp-a", "comp-b", "other"):
            self.ok("publish", room, "--data", "1")
        self.assertEqual(complete(binary, "--socket", sock, "room", "comp-"), ["comp-a", "comp-b"])
        self.assertEqual(complete(binary, "history", "--socket=" + sock, "co"),
                         ["comp-a", "comp-b"])
        self.assertEqual(complete(binary, "tail", "other", "--socket", sock, "comp-"),
                         ["comp-a", "comp-b"])
        env = dict(os.environ, ROOMPUSH_CONTROL=sock)
        self.assertEqual(complete(binary, "tail", "other", "comp-", env=env),
                         ["comp-a", "comp-b"])
        # A value-taking option's value is not the room: every one of them is skipped.
        for sub in ("publish", "history", "tail", "token"):
            for option in valued_options(sub):
                with self.subTest(sub=sub, option=option):
                    self.assertEqual(complete(binary, "--socket", sock, sub, option, "1", "comp-"),
                                     ["comp-a", "comp-b"])
        # Nothing after a room for room and history; their options instead.
        self.assertNotIn("comp-a", complete(binary, "--socket", sock, "room", "comp-a", ""))

        async def members():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/comp-k") as client:
                await client.next()
                member = json.loads(self.ok("room", "comp-k", "--json"))["members"][0]["id"]
                return member, complete(binary, "--socket", sock, "kick", "comp-k", "")

        member, offered = self.run_async(members())
        self.assertEqual(offered, [str(member)])
        # No sidecar: nothing, silently (complete() fails on any stderr), and soon.
        started = time.monotonic()
        self.assertEqual(complete(binary, "--socket", "/nonexistent/c.sock", "room", ""), [])
        self.assertEqual(complete(binary, "--socket", "/nonexistent/c.sock", "kick", "a", ""), [])
        self.assertLess(time.monotonic() - started, 5)

    def impostor(self, name, answers):
        """A Unix socket that answers `answers` connections like something other than the
        sidecar; returns its path."""
        path = os.path.join(self.run_dir, name)
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.listen(answers)

        def answer_like_something_else():
            for _ in range(answers):
                connection, _ = listener.accept()
                connection.recv(4096)
                connection.sendall(b"220 smtp.example ESMTP ready\n")
                connection.close()
            listener.close()

        threading.Thread(target=answer_like_something_else, daemon=True).start()
        return path

    def test_missing_socket_and_a_socket_that_is_not_the_sidecar(self):
        missing = pushctl("rooms", socket_path=os.path.join(self.run_dir, "nope.sock"))
        self.assertEqual(missing.returncode, 3)
        self.assertIn("nope.sock", missing.stderr)
        self.assertIn("--socket", missing.stderr)

        wrong = pushctl("rooms", socket_path=self.impostor("impostor.sock", 1))
        self.assertEqual(wrong.returncode, 1)
        self.assertIn("did not answer like roompush-sidecar", wrong.stderr)

    def assert_json_error(self, result, exit_code, code, words):
        """With --json, an error is one object {"error":{"code","message"}} on stderr, the
        shape of the control protocol's errors, and nothing on stdout."""
        self.assertEqual(result.returncode, exit_code, result.stderr)
        self.assertEqual(result.stdout, "")
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        error = json.loads(lines[0])
        self.assertEqual(list(error), ["error"], error)
        self.assertEqual(sorted(error["error"]), ["code", "message"], error)
        self.assertEqual(error["error"]["code"], code, error)
        self.assertIn(words, error["error"]["message"])

    def test_json_errors_are_one_object_on_stderr_with_the_documented_exit_code(self):
        latin1 = self.write_fixture("latin1.json", b'{"name":"caf\xe9"}')
        cases = [
            (("--frobnicate", "rooms"), 2, "usage", "frobnicate"),
            ((), 2, "usage", "subcommand"),
            (("history", "A", "--limit", "-5"), 2, "usage", "--limit"),
            (("publish", "--lines", "A"), 2, "usage", "--lines"),
            (("publish", "bad room", "--data", "{}"), 2, "invalid_room", "room id"),
            (("publish", "A", "--event", "a b", "--data", "{}"), 2, "invalid_event", "event"),
            (("publish", "A", "--data", "@" + latin1), 2, "invalid_utf8", "UTF-8"),
            (("publish", "A", "--data", "{not json"), 2, "bad_data", "not JSON"),
            (("publish", "A", "--data", "@/nonexistent/file"), 2, "bad_data", "cannot read"),
            (("token", "A", "--ttl", "soon"), 2, "bad_ttl", "--ttl"),
            (("room", "never-seen"), 1, "not_found", "no room never-seen"),
            (("kick", "A", "77"), 1, "not_found", "no member 77"),
        ]
        for args, exit_code, code, words in cases:
            for argv in (("--json",) + args, args + ("--json",)):  # before or after the name
                with self.subTest(argv=argv):
                    self.assert_json_error(self.run_pushctl(*argv, stdin=""), exit_code, code,
                                           words)
        missing = os.path.join(self.run_dir, "nope.sock")
        self.assert_json_error(pushctl("--json", "rooms", socket_path=missing), 3,
                               "connect_failed", missing)
        self.assert_json_error(pushctl("rooms", "--json",
                                       socket_path=self.impostor("impostor-json.sock", 1)),
                               1, "bad_response", "did not answer like roompush-sidecar")
        typo = self.write_fixture("typo-json.conf", b'sockett = "/x"\n')
        self.assert_json_error(self.run_pushctl("--config", typo, "--json", "rooms"), 2,
                               "bad_config", "sockett")
        from_file = self.write_fixture("json.conf", b"json = true\n")
        self.assert_json_error(self.run_pushctl("--config", from_file, "room", "never-seen"), 1,
                               "not_found", "never-seen")
        # Without --json (or with --json=false) the one-liner for people stays.
        for argv in (("room", "never-seen"), ("--json=false", "room", "never-seen")):
            human = self.run_pushctl(*argv)
            self.assertEqual(human.returncode, 1)
            self.assertEqual(human.stderr, "pushctl: no room never-seen (no members and "
                             "nothing retained) (not_found)\n")

    def test_numbers_are_refused_in_words_an_operator_reads(self):
        largest = "9007199254740991"
        cases = [
            (("kick", "A", "xyz"), 'member: "xyz" is not a member id (a positive whole number'),
            (("kick", "A", "0"), 'member: "0" is not a member id'),
            (("kick", "A", "-3"), 'member: "-3" is not a member id'),
            (("history", "A", "--limit", "-5"),
             '--limit: must be a whole number from 1 to %s, not "-5"' % largest),
            (("history", "A", "--limit", "0"), "--limit: must be a whole number from 1 to"),
            (("history", "A", "--limit", "99999999999999999999"),
             "--limit: must be a whole number from 1 to %s" % largest),
            (("history", "A", "--since", "x"), '--since: must be a whole number from 0 to'),
            (("history", "A", "--since", "-4"), '--since: must be a whole number from 0 to'),
            (("tail", "A", "--since", "1e3"), '--since: must be a whole number from 0 to'),
            (("tail", "A", "--count", "1.5"), '--count: must be a whole number from 1 to'),
            (("tail", "A", "--count", "0x10"), '--count: must be a whole number from 1 to'),
            (("--timeout", "0", "rooms"), '--timeout: must be a whole number from 1 to 3600000, '
                                          'not "0"'),
            (("rooms", "--timeout", "soon"), '--timeout: must be a whole number from 1 to 3600000'),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                result = self.run_pushctl(*args)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(words, result.stderr)
                self.assertNotIn("not in range", result.stderr)
                self.assertNotIn("convert", result.stderr)
        # Leading zeros are decimal, not octal: 010 is ten.
        for n in range(12):
            self.ok("publish", "decimal", "--data", str(n))
        history = json.loads(self.ok("history", "decimal", "--limit", "010", "--json"))
        self.assertEqual(len(history["messages"]), 10)

    def test_socket_from_environment_and_config_file_in_order(self):
        config = self.write_fixture("pushctl.conf", ('socket = "%s"\n' % self.stack.control_socket).encode())
        binary = os.path.join(harness.BUILD_DIR, "cli/pushctl")
        env = dict(os.environ, ROOMPUSH_CONTROL=self.stack.control_socket)
        from_env = subprocess.run([binary, "rooms"], capture_output=True, text=True, env=env)
        self.assertEqual(from_env.returncode, 0, from_env.stderr)
        env_clean = {k: v for k, v in os.environ.items() if not k.startswith("ROOMPUSH_")}
        from_file = subprocess.run([binary, "--config", config, "rooms"], capture_output=True,
                                   text=True, env=env_clean)
        self.assertEqual(from_file.returncode, 0, from_file.stderr)
        env_wins = dict(env_clean, ROOMPUSH_CONTROL="/nonexistent/env.sock")
        over_file = subprocess.run([binary, "--config", config, "rooms"], capture_output=True,
                                   text=True, env=env_wins)
        self.assertEqual(over_file.returncode, 3)
        self.assertIn("/nonexistent/env.sock", over_file.stderr)
        flag_wins = subprocess.run([binary, "--config", config, "--socket", "/nonexistent/flag.sock",
                                    "rooms"], capture_output=True, text=True, env=env_wins)
        self.assertIn("/nonexistent/flag.sock", flag_wins.stderr)
        typo = self.write_fixture("typo.conf", b'sockett = "/x"\n')
        bad = subprocess.run([binary, "--config", typo, "rooms"], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("sockett", bad.stderr)


def pushctl_help(*args):
    binary = os.path.join(harness.BUILD_DIR, "cli/pushctl")
    return subprocess.run([binary, *args, "--help"], capture_output=True, text=True,
                          check=True).stdout


def subcommands():
    """The subcommand names `pushctl --help` lists."""
    listed = pushctl_help().split("\nSubcommands:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  (\S+)", listed, re.M)


def long_options(*args):
    """The long options an entry of `pushctl [SUB] --help` names, in order."""
    return re.findall(r"^  (?:-\w,)?(--[\w-]+)", pushctl_help(*args), re.M)


def valued_options(*args):
    """The long options of `pushctl [SUB] --help` that take a value (a type follows the name)."""
    return re.findall(r"^  (?:-\w,)?(--[\w-]+)[ =]\S", pushctl_help(*args), re.M)


class BashCompletion(unittest.TestCase):
    """cli/pushctl-completion.bash, loaded in bash as bash-completion would, against the
    options the program itself lists: a subcommand or option added without it fails here."""

    def setUp(self):
        self.empty = tempfile.mkdtemp(prefix="rp-complete-", dir="/tmp")  # no files to offer
        self.addCleanup(shutil.rmtree, self.empty, True)

    def complete(self, *words):
        return complete("pushctl", *words, cwd=self.empty)

    def test_subcommands_and_global_options(self):
        self.assertEqual(self.complete(""), subcommands())
        self.assertEqual(self.complete("hi"), ["history"])
        self.assertEqual(self.complete("ro"), ["rooms", "room"])
        self.assertEqual(sorted(self.complete("--")), sorted(long_options()))
        self.assertEqual(self.complete("--so"), ["--socket"])
        # A global option's value is skipped; a flag is not followed by one.
        for option in long_options():
            with self.subTest(option=option):
                words = (option, "x", "") if option in valued_options() else (option, "")
                self.assertEqual(self.complete(*words), subcommands())

    def test_each_subcommands_options_and_the_global_ones_after_it(self):
        for sub in subcommands():
            with self.subTest(sub=sub):
                self.assertEqual(sorted(set(self.complete(sub, "--"))),
                                 sorted(set(long_options(sub)) | set(long_options())))
                self.assertEqual(sorted(set(self.complete(sub, "--json", "x", "--"))),
                                 sorted(set(long_options(sub)) | set(long_options())))
                for option in valued_options(sub):  # a value: no option or subcommand offered
                    offered = self.complete(sub, option, "")
                    self.assertFalse([w for w in offered if w.startswith("-")
                                      or w in subcommands()], (option, offered))
        self.assertEqual(self.complete("history", "r", "--l"), ["--limit"])
        self.assertEqual(self.complete("token", "r", "--ttl", ""), ["90s", "15m", "1h", "1d", "7d"])
        data = os.path.join(self.empty, "data.json")
        open(data, "w").close()
        self.assertEqual(self.complete("publish", "r", "--data", "@" + self.empty + "/da"),
                         ["@" + data])

    def test_the_install_rules_put_it_where_bash_completion_loads_it(self):
        """cmake --install (what the .deb holds): /usr/share/bash-completion/completions/pushctl,
        and the man page with its subcommand sections."""
        root = tempfile.mkdtemp(prefix="rp-install-", dir="/tmp")
        self.addCleanup(shutil.rmtree, root, True)
        subprocess.run(["cmake", "--install", harness.BUILD_DIR], check=True, capture_output=True,
                       env=dict(os.environ, DESTDIR=root))
        installed = os.path.join(root, "usr/share/bash-completion/completions/pushctl")
        with open(installed) as copy, open(COMPLETION) as source:
            self.assertEqual(copy.read(), source.read())
        page = subprocess.run(["zcat", os.path.join(root, "usr/share/man/man1/pushctl.1.gz")],
                              check=True, capture_output=True, text=True).stdout
        self.assertIn('.SS "pushctl history"', page)


class GeneratedManPage(unittest.TestCase):
    """build/man/pushctl.1 is made from the program at build time: every subcommand with its
    usage, options and example, not only the top-level --help."""

    def test_every_subcommand_and_each_of_its_long_options_is_in_the_page(self):
        with open(os.path.join(harness.BUILD_DIR, "man", "pushctl.1")) as page:
            troff = page.read()
        sections = {}
        for text in re.split(r"^\.SS ", troff, flags=re.M)[1:]:
            title = text.split("\n", 1)[0].strip('"')
            sections[title] = text
        names = subcommands()
        self.assertIn("publish", names)
        self.assertIn("token", names)
        for name in names:
            with self.subTest(subcommand=name):
                self.assertIn("pushctl " + name, sections, "no section for %s" % name)
                section = sections["pushctl " + name]
                self.assertIn("Usage:", section)
                self.assertIn("Example:", section)
                for option in long_options(name):
                    self.assertIn(option.replace("-", "\\-"), section, option)
        for option in long_options():  # the global ones, in OPTIONS
            self.assertIn(option.replace("-", "\\-"), troff)


if __name__ == "__main__":
    harness.main()
