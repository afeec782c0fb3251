"""The production nginx site (nginx/roompush.conf) as shipped: rendered into a private prefix it
passes `nginx -t`, its TLS lines work once enabled, and its limits on /cad and /ws/ hold for other
addresses while the machine itself is not limited."""

import asyncio
import concurrent.futures
import http.client
import json
import os
import ssl
import subprocess
import time

import harness
import devstack
import websockets

# Loopback is 127.0.0.0/8: the tests are "another client" from 127.0.0.2.
OTHER_ADDRESS = "127.0.0.2"
SOCKETS_PER_ADDRESS = 256  # limit_conn roompush_sockets in nginx/roompush.conf


class ProductionSite(harness.StackTestCase):

    @classmethod
    def prepare_stack(cls, stack):
        certificate = os.path.join(cls.run_dir, "tls.crt")
        key = os.path.join(cls.run_dir, "tls.key")
        made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                               "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", key,
                               "-out", certificate], capture_output=True, text=True)
        if made.returncode != 0:
            raise AssertionError("openssl: " + made.stderr)
        stack.tls = (devstack.free_port(), certificate, key)

    def tls_url(self, path):
        return "https://127.0.0.1:%d%s" % (self.stack.tls[0], path)

    def test_rendered_site_passes_nginx_t_and_names_no_production_path(self):
        checked = subprocess.run(self.stack.nginx_command("-t"), capture_output=True, text=True)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertIn("test is successful", checked.stderr)
        with open(os.path.join(self.stack.nginx_prefix, "conf", "roompush.conf")) as rendered:
            text = rendered.read()
        for production in ("/run/roompush", "/var/lib/roompush", "/usr/share/roompush",
                           "/etc/ssl", "#tls"):
            self.assertNotIn(production, text)

    def test_render_fails_loudly_when_the_site_drifts(self):
        drifted = os.path.join(self.run_dir, "drifted.conf")
        with open(self.stack.layout.site) as site, open(drifted, "w") as out:
            out.write(site.read().replace("unix:/run/roompush/", "unix:/srv/roompush/"))
        with self.assertRaises(devstack.StackError) as error:
            devstack.render_site(drifted, 1, "/tmp/x", "/tmp/x/spool", "/tmp/web")
        self.assertIn("unix:/run/roompush/", str(error.exception))

    def test_tls_lines_serve_https_and_wss(self):
        status, headers, body = self.curl("-k", self.tls_url("/healthz"))
        self.assertEqual(status, 200, body)
        self.assertIn("max-age", headers.get("strict-transport-security", ""))

        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

        async def scenario():
            url = "wss://127.0.0.1:%d/ws/rooms/tls-A" % self.stack.tls[0]
            async with harness.RoomClient(url, ssl=context) as client:
                subscribed = await client.next()
                published = self.pushctl("publish", "tls-A", "--data", '{"over":"tls"}')
                self.assertEqual(published.returncode, 0, published.stderr)
                return subscribed, await client.next()

        subscribed, message = self.run_async(scenario())
        self.assertEqual(subscribed["type"], "subscribed")
        self.assertEqual(message["data"], {"over": "tls"})

    def post_cads(self, address, count):
        """`count` empty POST /cad at once from `address`: [(status, headers, body)], seconds."""
        def post(_):
            connection = http.client.HTTPConnection("127.0.0.1", self.stack.port, timeout=30,
                                                    source_address=(address, 0))
            try:
                connection.request("POST", "/cad", body=b"")
                response = connection.getresponse()
                return response.status, dict(response.getheaders()), response.read().decode()
            finally:
                connection.close()

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            answers = list(pool.map(post, range(count)))
        return answers, time.monotonic() - started

    def test_uploads_from_one_address_are_rate_limited_with_a_json_429(self):
        answers, seconds = self.post_cads(OTHER_ADDRESS, 40)
        passed = [a for a in answers if a[0] != 429]
        limited = [a for a in answers if a[0] == 429]
        # burst=10 nodelay at 2 r/s: 11 at once, then 2 more each second the batch took.
        self.assertGreaterEqual(len(passed), 11, [a[0] for a in answers])
        self.assertLessEqual(len(passed), 11 + 2 * seconds + 1, [a[0] for a in answers])
        self.assertTrue(limited, [a[0] for a in answers])
        for status, headers, body in limited:
            self.assertEqual(json.loads(body)["error"]["code"], "rate_limited")
            self.assertEqual(headers.get("Retry-After"), "1")

    def test_the_machine_itself_is_not_rate_limited(self):
        answers, _ = self.post_cads("127.0.0.1", 40)
        statuses = [a[0] for a in answers]
        self.assertNotIn(429, statuses)
        self.assertTrue(all(400 <= status < 500 for status in statuses), statuses)

    def open_sockets(self, address, count):
        async def scenario():
            url = self.stack.ws_url + "/ws/rooms/limit-" + address.replace(".", "-")
            clients = [harness.RoomClient(url, local_addr=(address, 0)) for _ in range(count)]
            for client in clients:
                await client.__aenter__()
                await client.next()  # subscribed: the sidecar holds the connection
            try:
                async with harness.RoomClient(url, local_addr=(address, 0)) as extra:
                    return "accepted", await extra.next()
            except websockets.InvalidStatusCode as refused:
                return "refused", refused.status_code
            finally:
                await asyncio.gather(*(client.__aexit__() for client in clients))

        return self.run_async(scenario(), timeout=120)

    def test_websockets_per_address_are_limited_with_429(self):
        self.assertEqual(self.open_sockets(OTHER_ADDRESS, SOCKETS_PER_ADDRESS),
                         ("refused", 429))

    def test_the_machine_itself_may_open_more_websockets(self):
        outcome, subscribed = self.open_sockets("127.0.0.1", SOCKETS_PER_ADDRESS)
        self.assertEqual(outcome, "accepted")
        self.assertEqual(subscribed["type"], "subscribed")


if __name__ == "__main__":
    harness.main()
