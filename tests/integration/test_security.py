"""Room tokens, origin checks and the control socket's peer check, over the real nginx path."""

import base64
import json
import os
import pwd
import subprocess
import time

import harness
from harness import RoomClient, devstack

ORIGIN = "http://app.example"


write_secret = harness.write_secret


class Tokens(harness.TokenStackTestCase):

    @classmethod
    def configure_secrets(cls):
        cls.new_secret = write_secret(cls.secrets_dir, "new.secret")
        cls.old_secret = write_secret(cls.secrets_dir, "old.secret")
        cls.stray_secret = write_secret(cls.secrets_dir, "stray.secret")
        cls.SIDECAR_ARGS = ("--auth-secret-file", cls.new_secret, "--auth-secret-file",
                            cls.old_secret, "--allowed-origin", ORIGIN)
        cls.APP_ARGS = ("--auth-secret-file", cls.new_secret)

    def token(self, room, secret, ttl="1h"):
        result = self.pushctl("token", room, "--ttl", ttl, "--secret-file", secret)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip()

    def join(self, path):
        """(first frame, close code or None) for a WebSocket to `path` sent from ORIGIN."""
        async def scenario():
            async with harness.websockets.connect(self.stack.ws_url + path, origin=ORIGIN) as ws:
                first = json.loads(await ws.recv())
                try:
                    await __import__("asyncio").wait_for(ws.recv(), 0.5)
                except harness.websockets.ConnectionClosed as closed:
                    return first, closed.code
                except Exception:
                    pass
                return first, None
        return self.run_async(scenario())

    def test_each_kind_of_token_joins_or_is_refused(self):
        good = self.token("A", self.new_secret)
        payload, signature = good.split(".")
        forged = base64.urlsafe_b64encode(b'{"room":"B","exp":4102444800}').rstrip(b"=").decode()
        flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
        expired = self.token("A", self.new_secret, ttl="1s")
        time.sleep(2.1)
        cases = [
            ("valid", "/ws/rooms/A?token=" + good, None),
            ("old key during rotation", "/ws/rooms/A?token=" + self.token("A", self.old_secret), None),
            ("prefix grant", "/ws/rooms/team-7:x?token=" + self.token("team-7:*", self.new_secret), None),
            ("expired", "/ws/rooms/A?token=" + expired, "token_expired"),
            ("another room", "/ws/rooms/B?token=" + good, "token_wrong_room"),
            ("tampered payload", "/ws/rooms/B?token=%s.%s" % (forged, signature), "token_bad_signature"),
            ("tampered signature", "/ws/rooms/A?token=%s.%s" % (payload, flipped), "token_bad_signature"),
            ("wrong secret", "/ws/rooms/A?token=" + self.token("A", self.stray_secret), "token_bad_signature"),
            ("missing", "/ws/rooms/A", "token_missing"),
        ]
        for name, path, code in cases:
            with self.subTest(name):
                first, close_code = self.join(path)
                if code is None:
                    self.assertEqual(first["type"], "subscribed", first)
                    self.assertIsNone(close_code)
                else:
                    self.assertEqual(first["type"], "error")
                    self.assertEqual(first["code"], code)
                    self.assertEqual(close_code, 1008)
        with open(os.path.join(self.stack.log_dir, "sidecar.log")) as log:
            text = log.read()
        self.assertIn("event=auth_refused", text)
        self.assertNotIn(good.split(".")[1], text, "tokens never reach the log")

    def test_the_upload_answer_carries_a_token_for_its_room(self):
        stl = self.write_fixture("cube.stl", harness.binary_stl(harness.cube_triangles()))
        status, _, body = self.upload(stl, room="uploaded")
        self.assertEqual(status, 202, body)
        accepted = json.loads(body)
        first, code = self.join("/ws/rooms/uploaded?token=" + accepted["token"])
        self.assertEqual(first["type"], "subscribed")
        self.assertIsNone(code)
        first, code = self.join("/ws/rooms/elsewhere?token=" + accepted["token"])
        self.assertEqual((first.get("code"), code), ("token_wrong_room", 1008))

    def test_subscribe_command_carries_its_token(self):
        async def scenario():
            async with harness.websockets.connect(self.stack.ws_url + "/ws", origin=ORIGIN) as ws:
                await ws.send(json.dumps({"op": "subscribe", "room": "C",
                                          "token": self.token("C", self.new_secret)}))
                ok = json.loads(await ws.recv())
                await ws.send(json.dumps({"op": "subscribe", "room": "D",
                                          "token": self.token("C", self.new_secret)}))
                refused = json.loads(await ws.recv())
                await ws.send(json.dumps({"op": "subscribe", "room": "D",
                                          "token": self.token("D", self.new_secret)}))
                again = json.loads(await ws.recv())
                return ok, refused, again
        ok, refused, again = self.run_async(scenario())
        self.assertEqual(ok["type"], "subscribed")
        self.assertEqual((refused["type"], refused["code"], refused["room"]),
                         ("error", "token_wrong_room", "D"))
        self.assertEqual((again["type"], again["room"]), ("subscribed", "D"),
                         "a refused token costs the room, not the connection: a new token joins")

    def test_origin_not_on_the_list_gets_403(self):
        allowed = self.join("/ws/rooms/A?token=" + self.token("A", self.new_secret))
        self.assertEqual(allowed[0]["type"], "subscribed")

        async def foreign():
            await harness.websockets.connect(self.stack.ws_url + "/ws/rooms/A",
                                             origin="http://evil.example")
        with self.assertRaises(harness.websockets.InvalidStatusCode) as refused:
            self.run_async(foreign())
        self.assertEqual(refused.exception.status_code, 403)

    def test_rotation_ends_when_the_old_key_is_dropped(self):
        old_token = self.token("A", self.old_secret)
        self.assertEqual(self.stack.stop_process("sidecar"), 0)
        self.stack.start_sidecar(extra_args=())  # same flags, both keys
        self.stack.stop_process("sidecar")
        self.stack.sidecar_args = ["--auth-secret-file", self.new_secret, "--allowed-origin", ORIGIN]
        self.stack.start_sidecar()
        first, code = self.join("/ws/rooms/A?token=" + old_token)
        self.assertEqual((first["code"], code), ("token_bad_signature", 1008))
        first, _ = self.join("/ws/rooms/A?token=" + self.token("A", self.new_secret))
        self.assertEqual(first["type"], "subscribed")


class ControlPeers(harness.StackTestCase):
    SIDECAR_ARGS = ("--control-allow-uid", "0", "--socket-mode", "0666")

    @classmethod
    def prepare_stack(cls, stack):
        # Started by root, the app runs as roompush: its pushes must stay allowed.
        identity = devstack.daemon_identity()
        if identity:
            stack.sidecar_args += ["--control-allow-uid", str(identity.uid)]

    def test_a_user_not_on_the_allow_list_is_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run a client as nobody")
        # The run dir is 0751 (as /run/roompush): nobody reaches the 0666 socket file, so the
        # uid check is what must refuse.
        nobody = pwd.getpwnam("nobody")
        pushctl = os.path.join(harness.BUILD_DIR, "cli/pushctl")
        os.chmod(harness.BUILD_DIR, os.stat(harness.BUILD_DIR).st_mode | 0o005)
        as_nobody = subprocess.run(["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
                                    "--clear-groups", pushctl, "--socket", self.stack.control_socket,
                                    "rooms"], capture_output=True, text=True, timeout=30)
        self.assertEqual(as_nobody.returncode, 1, as_nobody.stderr)
        self.assertIn("peer_not_allowed", as_nobody.stderr)
        as_root = self.pushctl("rooms")
        self.assertEqual(as_root.returncode, 0, as_root.stderr)
        with open(os.path.join(self.stack.log_dir, "sidecar.log")) as log:
            self.assertIn("uid=%d" % nobody.pw_uid, log.read())



class ProgramLimits(harness.StackTestCase):
    """The external program cannot go past its limits: it is stopped and the job says why."""
    EXEC = os.path.join(harness.FIXTURES, "job_behaviour.sh") + " {input} {workdir}"
    APP_ARGS = ("--max-file-size", str(1 << 20), "--max-address-space", str(256 << 20),
                "--timeout", "3", "--kill-grace", "500")

    def run_job(self, behaviour):
        path = self.write_fixture(behaviour + ".txt", (behaviour + "\n").encode())

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/limits") as room:
                await room.next()
                status, _, body = self.upload(path, room="limits")
                self.assertEqual(status, 202, body)
                job = json.loads(body)["jobId"]
                seen = await room.until(lambda m: m.get("event") in ("job.done", "job.failed")
                                        and m["data"]["jobId"] == job)
                return job, seen[-1]

        return self.run_async(scenario())

    def test_writing_too_much_is_stopped_by_the_file_size_limit(self):
        job, final = self.run_job("bigfile")
        self.assertEqual(final["event"], "job.failed")
        self.assertEqual(final["data"]["error"]["reason"], "signal")
        self.assertEqual(final["data"]["error"]["signal"], 25)  # SIGXFSZ
        big = os.path.join(self.stack.spool_dir, "jobs", job, "work", "big")
        self.assertLessEqual(os.path.getsize(big), 1 << 20)

    def test_allocating_too_much_fails_the_job(self):
        _, final = self.run_job("allocate")
        self.assertEqual(final["event"], "job.failed")
        self.assertEqual(final["data"]["error"]["reason"], "exit")
        self.assertIn("memory", final["data"]["error"]["message"])

    def test_forked_children_do_not_outlive_the_job(self):
        job, final = self.run_job("forks")
        self.assertEqual(final["data"]["error"]["reason"], "timeout")
        with open(os.path.join(self.stack.spool_dir, "jobs", job, "work", "children.pid")) as pids:
            children = [int(line) for line in pids if line.strip()]
        self.assertEqual(len(children), 20)
        alive = [pid for pid in children if os.path.exists("/proc/%d" % pid)
                 and "sleep" in open("/proc/%d/cmdline" % pid, "rb").read().decode(errors="replace")]
        self.assertEqual(alive, [])


if __name__ == "__main__":
    harness.main()
