"""An operator installs the .deb on a booted Debian 12 as docs/deploy.md says, and the site
works: uploads reach WebSocket clients through nginx, nginx's user reaches nothing it should
not, a reload applies without dropping anyone, logs carry journald priorities, and a sidecar
that cannot listen fails its start."""

import asyncio
import os
import re
import sys

import system_harness
from system_harness import SystemTestCase, terminal_events

import websockets

sys.path.insert(0, os.path.join(system_harness.REPO, "tools"))
import devstack  # noqa: E402


class InstalledSite(SystemTestCase):
    """One machine, in the order an operator goes: each test builds on the ones before."""

    MACHINE = "rp-site"

    def token(self, room):
        return self.sh("pushctl token %s --secret-file /etc/roompush/auth.secret" % room).stdout.strip()

    def test_01_install_configure_and_enable_as_documented(self):
        self.doc_block("install")
        groups = self.doc_block("check-user")
        self.assertIn("uid=", groups)
        self.assertNotIn("roompush", groups.splitlines()[-1], "www-data must not join roompush")
        self.assertEqual(self.doc_block("check-config").count("configuration is valid"), 2)
        self.doc_block("token-secret")
        self.doc_block("check-config")
        self.doc_block("enable-site")
        # The certificate the TLS block's paths name, as an operator would put it there.
        self.sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
                "-keyout /etc/ssl/private/roompush.key -out /etc/ssl/certs/roompush.crt 2>/dev/null")
        self.doc_block("tls")
        self.doc_block("enable")
        self.wait_for("curl -fsS http://127.0.0.1/healthz")  # nginx's reload is asynchronous
        checked = self.doc_block("check")
        self.assertIn('"ok":true', checked)
        self.assertIn("roompush_connections", checked)
        self.sh("curl -fsS -k --http2 https://127.0.0.1/healthz")
        history = self.doc_block("smoke")
        self.assertIn("job.done", history)

    def test_02_every_unit_scores_2_or_lower_on_the_booted_system(self):
        report = self.doc_block("security")
        self.sh("systemctl start roompush-sidecar@probe.service && systemctl stop roompush-sidecar@probe.service",
                check=False)  # loads the template, so that its score is real too
        report += self.sh("systemd-analyze security --no-pager roompush-sidecar@probe.service").stdout
        scores = re.findall(r"Overall exposure level for (\S+): (\d+\.\d+)", report)
        self.assertEqual(len(scores), 3, report)
        for unit, score in scores:
            self.assertLessEqual(float(score), 2.0, unit)

    def test_03_an_upload_reaches_a_browser_in_its_room_through_nginx(self):
        async def scenario():
            async with self.room("drawing-7", token=self.token("drawing-7")) as client:
                self.assertEqual((await client.next())["type"], "subscribed")
                accepted = self.upload("drawing-7")
                self.assertTrue(accepted["token"])
                seen = await client.until(lambda m: m.get("event") in ("job.done", "job.failed"))
                return accepted["jobId"], seen

        job_id, seen = self.run_async(scenario())
        self.assertEqual(terminal_events(seen, job_id), ["job.done"])
        self.assertEqual([m["event"] for m in seen if m["type"] == "message"][:2],
                         ["job.queued", "job.started"])
        status, job = self.curl_json("http://127.0.0.1/jobs/" + job_id)
        self.assertEqual((status, job["status"]), (200, "done"))
        self.assertEqual(job["result"]["triangles"], 12)
        preview = self.sh("curl -sS -D - -o /dev/null http://127.0.0.1/jobs/%s/preview.svg" % job_id).stdout
        self.assertIn("200", preview.splitlines()[0])
        self.assertIn("default-src 'none'", preview)
        self.assertIn("pushctl", self.sh("pushctl --help").stdout)

    def test_04_nginx_reaches_the_sockets_it_needs_and_nothing_else(self):
        sockets = self.sh("stat -c '%n %U:%G %a' /run/roompush/ws.sock /run/roompush/control.sock "
                          "/run/roompush-fcgi/fcgi.sock /run/roompush").stdout
        self.assertIn("/run/roompush/ws.sock roompush:www-data 660", sockets)
        self.assertIn("/run/roompush/control.sock roompush:roompush 660", sockets)
        self.assertIn("/run/roompush-fcgi/fcgi.sock roompush:www-data 660", sockets)
        self.assertIn("/run/roompush roompush:roompush 751", sockets)
        as_nginx = "runuser -u www-data -- "
        refused = self.sh(as_nginx + "cat /etc/roompush/auth.secret", check=False)
        self.assertNotEqual(refused.returncode, 0, "www-data read the token secret")
        refused = self.sh(as_nginx + "pushctl rooms", check=False)
        self.assertNotEqual(refused.returncode, 0, "www-data used the control socket")
        self.assertIn("ermission denied", refused.stderr)
        refused = self.sh(as_nginx + "ls /var/lib/roompush/spool", check=False)
        self.assertNotEqual(refused.returncode, 0, "www-data read the spool")
        for unit in ("roompush-sidecar.service", "roompush-fcgi.service"):
            status = self.machine.read_file("/proc/%d/status" % self.main_pid(unit))
            uids = re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)
            self.assertEqual(uids, self.sh("id -u roompush").stdout.strip(), unit)

    def test_05_a_sidecar_reload_applies_origins_and_drops_no_one(self):
        pid = self.main_pid("roompush-sidecar.service")

        async def scenario():
            async with self.room("lobby", token=self.token("lobby")) as client:
                await client.next()
                self.doc_block("reload")
                published = self.sh("pushctl publish lobby --event note --data '{\"n\":1}'")
                self.assertEqual(published.returncode, 0)
                seen = await client.until(lambda m: m.get("event") == "note")
                self.assertEqual(seen[-1]["data"], {"n": 1})
                with self.assertRaises(websockets.InvalidStatusCode) as refused:
                    async with self.room("lobby", token=self.token("lobby"),
                                         origin="https://evil.example"):
                        pass
                self.assertEqual(refused.exception.status_code, 403)
                async with self.room("lobby", token=self.token("lobby"),
                                     origin="https://cad.example.com") as allowed:
                    self.assertEqual((await allowed.next())["type"], "subscribed")

        self.run_async(scenario())
        self.assertEqual(self.main_pid("roompush-sidecar.service"), pid, "a reload is no restart")

    def test_06_a_reload_of_a_bad_file_fails_and_changes_nothing(self):
        conf = "/etc/roompush/roompush-sidecar.conf"
        self.sh("cp %s /root/sidecar.conf.good && echo 'history=many' >> %s" % (conf, conf))
        failed = self.sh("systemctl reload roompush-sidecar", check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertEqual(self.unit_property("roompush-sidecar.service", "ActiveState"), "active")
        self.assertIn("--history", self.journal_errors("roompush-sidecar"))
        self.sh("cp /root/sidecar.conf.good %s && systemctl reload roompush-sidecar" % conf)

    def test_07_rotating_the_token_secret_is_a_reload_of_both_daemons(self):
        old = self.upload("vault")["token"]
        self.sh("head -c 48 /dev/urandom | base64 > /etc/roompush/auth.secret && "
                "systemctl reload roompush-sidecar roompush-fcgi")

        async def joins(token):
            async with self.room("vault", token=token) as client:
                return (await client.next())["type"] == "subscribed"

        async def scenario():
            # The app's reload is a signal: it has taken effect once its 202 carries a token
            # the sidecar (reloaded synchronously) accepts.
            for _ in range(50):
                if await joins(self.upload("vault")["token"]):
                    break
                await asyncio.sleep(0.1)
            else:
                self.fail("no 202 carried a token signed with the new secret")
            async with self.room("vault", token=old) as stale:
                return await stale.closed()

        code, seen = self.run_async(scenario())
        self.assertEqual(code, 1008, "a token signed with the old secret still joins")
        self.assertEqual(seen[0]["type"], "error")

    def test_08_journal_priorities_match_the_log_levels(self):
        # The sidecar logs errors above (the failed reload); -p err holds exactly those lines.
        for unit in ("roompush-sidecar.service", "roompush-fcgi.service"):
            everything = self.sh("journalctl _SYSTEMD_UNIT=%s --no-pager -o cat" % unit).stdout
            errors = self.sh("journalctl _SYSTEMD_UNIT=%s -p err --no-pager -o cat" % unit).stdout
            logged = [line for line in everything.splitlines() if " level=error " in line]
            self.assertEqual(errors.splitlines(), logged, unit)
            warnings = self.sh("journalctl _SYSTEMD_UNIT=%s -p warning --no-pager -o cat" % unit).stdout
            self.assertNotIn("level=info", warnings)
        self.assertTrue(self.journal_errors("roompush-sidecar").strip())

    def test_09_a_sidecar_that_cannot_listen_fails_its_start(self):
        conf = "/etc/roompush/roompush-sidecar.conf"
        self.sh("cp %s /root/sidecar.conf.good && "
                "sed -i 's|^#ws-socket=.*|ws-socket=\"/run/nowhere/ws.sock\"|' %s" % (conf, conf))
        started = self.sh("systemctl restart roompush-sidecar", check=False)
        self.assertNotEqual(started.returncode, 0, "a sidecar without a listener reported READY")
        self.assertIn("listen_failed", self.journal_errors("roompush-sidecar"))
        self.sh("cp /root/sidecar.conf.good %s && systemctl reset-failed roompush-sidecar && "
                "systemctl restart roompush-sidecar" % conf)
        self.wait_for("curl -fsS http://127.0.0.1/healthz")

    def test_10_the_packaged_sidecar_runs_on_jemalloc_inside_its_sandbox(self):
        sidecar = os.path.join(system_harness.BUILD_DIR, "ws-sidecar/roompush-sidecar")
        if not devstack.links_jemalloc(sidecar):
            self.skipTest("the build does not link jemalloc")
        # The unit's system call filter and memory protections leave jemalloc working, and the
        # package pulled its library in (dpkg-shlibdeps).
        log = self.sh("journalctl _SYSTEMD_UNIT=roompush-sidecar.service --no-pager -o cat").stdout
        ready = [line for line in log.splitlines() if "event=ready " in line]
        self.assertTrue(ready, log[-2000:])
        self.assertIn("allocator=jemalloc-", ready[-1])
        self.assertIn("libjemalloc2", self.sh("dpkg-query -W -f='${Depends}' roompush").stdout)
        # jemalloc learns at start whether the kernel overcommits; a sandbox that hid /proc/sys
        # (ProcSubset=pid) would have it give memory back as one PROT_NONE mapping per purge.
        pid = self.sh("systemctl show -P MainPID roompush-sidecar").stdout.strip()
        seen = self.sh("nsenter -t %s -m cat /proc/sys/vm/overcommit_memory" % pid, check=False)
        self.assertEqual(seen.returncode, 0, seen.stderr)


if __name__ == "__main__":
    system_harness.main()
