"""Scale-out as deployed on a booted Debian 12: redis-server on TCP loopback and two instances of
the shipped roompush-sidecar@.service behind the site's upstream, set up as docs/deploy.md
says. Rooms are shared, a client of a stopped instance resumes on the other with nothing lost,
and the units allow the broker's network and nothing more."""

import asyncio
import json
import re
import subprocess

import system_harness
from system_harness import SystemTestCase, terminal_events

import websockets

SOCKETS = {"a": "/run/roompush/a", "b": "/run/roompush/b"}


class ScaleOut(SystemTestCase):

    MACHINE = "rp-scale"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.install_and_start()
        cls.doc_block("scale-out")
        # nginx reloads asynchronously: /metrics goes through the new upstream once it has.
        cls.wait_for("curl -fsS http://127.0.0.1/metrics >/dev/null && curl -fsS http://127.0.0.1/healthz")

    def stats(self, instance):
        return json.loads(self.sh("pushctl --json --socket %s/control.sock stats"
                                  % SOCKETS[instance]).stdout)

    def publish(self, instance, room, n):
        return json.loads(self.sh("pushctl --json --socket %s/control.sock publish %s --event note "
                                  "--data '{\"n\":%d}'" % (SOCKETS[instance], room, n)).stdout)

    def instance_room(self, instance, room, **resume):
        return self.room(room, path=SOCKETS[instance] + "/ws.sock", **resume)

    def test_1_both_instances_serve_one_room_through_redis(self):
        for instance in SOCKETS:
            self.assertEqual(self.stats(instance)["broker_up"], 1, instance)
            journal = self.sh("journalctl -u roompush-sidecar@%s -o cat --no-pager" % instance).stdout
            self.assertNotIn("broker_not_durable", journal, "Redis as deploy.md sets it up keeps what it acks")
        self.assertEqual(self.unit_property("roompush-sidecar.service", "ActiveState"), "inactive")

        async def scenario():
            async with self.instance_room("a", "shared") as on_a, \
                    self.instance_room("b", "shared") as on_b, \
                    self.room("shared") as through_nginx:
                clients = (on_a, on_b, through_nginx)
                for client in clients:
                    self.assertEqual((await client.next())["type"], "subscribed")
                self.publish("a", "shared", 1)
                notes = [await client.until(lambda m: m.get("event") == "note") for client in clients]
                job = self.upload("shared")["jobId"]
                ends = [await client.until(lambda m: m.get("event") in ("job.done", "job.failed"))
                        for client in clients]
                return notes, job, ends

        notes, job, ends = self.run_async(scenario())
        self.assertEqual(len({seen[-1]["seq"] for seen in notes}), 1, "one seq on every node")
        for seen in ends:
            self.assertEqual(terminal_events(seen, job), ["job.done"])

    def test_2_a_client_of_a_stopped_instance_resumes_on_the_other(self):
        async def scenario():
            async with self.instance_room("a", "resume") as on_a:
                await on_a.next()
                first = self.publish("b", "resume", 1)
                got = (await on_a.until(lambda m: m.get("event") == "note"))[-1]
                self.sh("systemctl stop roompush-sidecar@a.service")
                code, _ = await on_a.closed()
            missed = [self.publish("b", "resume", n)["seq"] for n in (2, 3, 4)]
            async with self.instance_room("b", "resume", since=got["seq"], epoch=got["epoch"]) as on_b:
                seen = [await on_b.next() for _ in range(4)]
            async with self.room("resume") as through_nginx:  # nginx passes over the stopped one
                self.assertEqual((await through_nginx.next())["type"], "subscribed")
            return first, code, missed, seen

        try:
            first, code, missed, seen = self.run_async(scenario())
        finally:
            self.sh("systemctl start roompush-sidecar@a.service")
        self.assertEqual(code, 1001)
        self.assertEqual(seen[0]["type"], "subscribed")
        self.assertEqual([m["type"] for m in seen[1:]], ["message"] * 3, "no reset, no gap")
        self.assertEqual([m["seq"] for m in seen[1:]], missed)
        self.assertEqual([m["data"]["n"] for m in seen[1:]], [2, 3, 4])
        self.assertEqual(missed[0], first["seq"] + 1)

    def test_3_instances_allow_the_brokers_network_and_nothing_more(self):
        report = self.sh("systemd-analyze security --no-pager roompush-sidecar@a.service").stdout
        score = float(re.search(r"Overall exposure level for \S+: (\d+\.\d+)", report).group(1))
        self.assertLessEqual(score, 2.0)
        unit = "roompush-sidecar@a.service"
        self.assertEqual(set(self.unit_property(unit, "IPAddressDeny").split()), {"0.0.0.0/0", "::/0"})
        self.assertEqual(set(self.unit_property(unit, "IPAddressAllow").split()),
                         {"127.0.0.0/8", "::1/128"})
        self.assertEqual(set(self.unit_property(unit, "RestrictAddressFamilies").split()),
                         {"AF_UNIX", "AF_INET", "AF_INET6"})
        self.doc_block("redis-remote")
        allowed = self.unit_property("roompush-sidecar@a.service", "IPAddressAllow")
        self.assertIn("10.0.0.5", allowed)
        self.sh("rm -r /etc/systemd/system/roompush-sidecar@.service.d && systemctl daemon-reload")

    def test_4_an_address_the_unit_does_not_allow_is_refused_until_a_drop_in_allows_it(self):
        # A second Redis on an address of the machine's own that is not loopback, and an
        # instance whose broker it is: the unit's firewall must refuse it, the drop-in allow it.
        probe = self.sh("systemd-run --wait --pipe -p IPAddressDeny=any "
                        "curl -sS -m 3 -o /dev/null http://127.0.0.1/", check=False)
        if probe.returncode == 0:
            self.skipTest("systemd here cannot attach its BPF IP firewall (a container may not "
                          "load BPF programs), so IPAddressDeny= is not enforced; the unit's "
                          "settings are checked by the test above")
        subprocess.run(["nsenter", "-t", str(self.machine.pid1), "-n", "ip", "addr", "add",
                        "10.9.9.9/32", "dev", "lo"], check=True)
        self.sh("redis-server --port 6380 --bind 10.9.9.9 --daemonize yes --save '' "
                "--dir /tmp --pidfile /tmp/redis-remote.pid")
        self.sh("mkdir -p /etc/systemd/system/roompush-sidecar@far.service.d && printf "
                "'[Service]\\nExecStart=\\nExecStart=/usr/bin/roompush-sidecar --config "
                "/etc/roompush/roompush-sidecar.conf --ws-socket /run/roompush/far/ws.sock "
                "--control-socket /run/roompush/far/control.sock --broker redis://10.9.9.9:6380\\n' "
                "> /etc/systemd/system/roompush-sidecar@far.service.d/broker.conf && "
                "systemctl daemon-reload && systemctl start roompush-sidecar@far.service")
        far = "pushctl --json --socket /run/roompush/far/control.sock stats"
        try:
            self.wait_for("journalctl -u roompush-sidecar@far -o cat --no-pager | "
                          "grep -q 'redis://10.9.9.9:6380.*not permitted'")
            self.assertEqual(json.loads(self.sh(far).stdout)["broker_up"], 0)
            self.doc_block("redis-remote")  # allows 10.0.0.5: still not this one
            self.sh("sed -i 's/10.0.0.5/10.9.9.9/' "
                    "/etc/systemd/system/roompush-sidecar@.service.d/redis.conf && "
                    "systemctl daemon-reload && systemctl restart roompush-sidecar@far.service")
            self.wait_for(far + " | grep -q '\"broker_up\":1'")
        finally:
            self.sh("systemctl stop roompush-sidecar@far.service; kill $(cat /tmp/redis-remote.pid); "
                    "rm -r /etc/systemd/system/roompush-sidecar@.service.d "
                    "/etc/systemd/system/roompush-sidecar@far.service.d; systemctl daemon-reload")

    def test_5_the_plain_unit_says_why_it_cannot_reach_a_tcp_broker(self):
        self.sh("systemctl start roompush-sidecar.service")
        try:
            self.wait_for("journalctl -u roompush-sidecar --no-pager -o cat | "
                          "grep -q \"the unit must allow the broker's network\"")
        finally:
            self.sh("systemctl stop roompush-sidecar.service")

    def test_6_the_app_keeps_its_jobs_in_redis_as_deploy_md_says(self):
        self.doc_block("app-job-store")
        try:
            self.wait_for("journalctl -u roompush-fcgi -o cat --no-pager | grep -q job_store_shared")
            job = self.upload("app-nodes")["jobId"]
            self.wait_for("curl -fsS http://127.0.0.1/jobs/%s | grep -q '\"status\":\"done\"'" % job)
            stored = self.sh("redis-cli --raw HGET 'rp:job:{%s}' json" % job).stdout
            self.assertEqual(json.loads(stored)["jobId"], job, "the sandboxed app reached Redis")
            self.assertEqual(self.sh("redis-cli --raw HGET 'rp:job:{%s}' node" % job).stdout.strip(),
                             self.sh("hostname").stdout.strip())
            journal = self.sh("journalctl -u roompush-fcgi -o cat --no-pager").stdout
            self.assertNotIn("shared_job_not_written", journal)
        finally:
            self.sh("rm -r /etc/systemd/system/roompush-fcgi.service.d && "
                    "sed -i 's|^job-store=.*|#job-store=\"file\"|' /etc/roompush/roompush-fcgi.conf && "
                    "systemctl daemon-reload && systemctl restart roompush-fcgi.service")

    def test_7_app_nodes_share_the_work_through_the_spool_as_deploy_md_says(self):
        self.doc_block("app-job-store")
        self.doc_block("app-shared-spool")
        try:
            self.wait_for("journalctl -u roompush-fcgi -o cat --no-pager | "
                          "grep -q 'job_store_shared.*shared_spool=true'")
            job = self.upload("shared-spool")["jobId"]
            self.wait_for("curl -fsS http://127.0.0.1/jobs/%s | grep -q '\"status\":\"done\"'" % job)
            journal = self.sh("journalctl -u roompush-fcgi -o cat --no-pager").stdout
            self.assertIn("event=job_taken job=%s" % job, journal, "it came through the stream")
            # Its entry left the stream with its end; the node's own files are its own.
            self.assertEqual(self.sh("redis-cli HEXISTS 'rp:job:{%s}' entry" % job).stdout.strip(),
                             "0")
            self.assertEqual(self.sh("redis-cli XLEN rp:jobs:work").stdout.strip(), "0")
            host = self.sh("hostname").stdout.strip()
            owner = self.sh("stat -c %%U /var/lib/roompush/spool/nodes/%s/outbox" % host)
            self.assertEqual(owner.stdout.strip(), "roompush")
        finally:
            self.sh("rm -r /etc/systemd/system/roompush-fcgi.service.d && "
                    "sed -i -e 's|^job-store=.*|#job-store=\"file\"|' "
                    "-e 's|^shared-spool=.*|#shared-spool=false|' /etc/roompush/roompush-fcgi.conf && "
                    "systemctl daemon-reload && systemctl restart roompush-fcgi.service")


if __name__ == "__main__":
    system_harness.main()
