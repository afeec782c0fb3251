"""Hostile and malformed requests get the answer docs/http.md and docs/websocket.md promise,
through the real nginx: JSON errors (never an HTML page, never a 502), and on a WebSocket an
`error` frame and a close code. Each case here was an HTML page, a 502 or the wrong code once."""

import json

import harness
import rfc6455
from rfc6455 import OP_CLOSE, OP_TEXT

ORIGIN = "https://cad.example"


class ErrorAnswers(harness.StackTestCase):

    SIDECAR_ARGS = ("--allowed-origin", ORIGIN)

    def upgrade(self, path, origin=ORIGIN):
        connection = rfc6455.Connection(("127.0.0.1", self.stack.port), path, origin=origin)
        self.addCleanup(connection.close)
        return connection

    def refused_frames(self, path):
        """The error frame's code and the close code of a refused upgrade."""
        connection = self.upgrade(path)
        self.assertEqual(connection.status, 101)
        frames = connection.frames_until_close()
        self.assertEqual([f.opcode for f in frames], [OP_TEXT, OP_CLOSE])
        return frames[0].json()["code"], frames[1].close_code

    def assert_json_error(self, status, headers, body, expected_status, code):
        self.assertEqual(status, expected_status, body)
        self.assertEqual(headers.get("content-type"), "application/json", body)
        self.assertEqual(json.loads(body)["error"]["code"], code)

    def raw_http(self, request):
        """(status, headers, body) of a request sent as raw bytes (curl would fix it up)."""
        import socket
        with socket.create_connection(("127.0.0.1", self.stack.port), timeout=10) as connection:
            connection.sendall(request)
            answer = b""
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        return int(lines[0].split()[1]), headers, body.decode()

    def test_a_nul_byte_in_the_query_is_a_json_400_not_a_502(self):
        status, headers, body = self.curl("-H", "Origin: " + ORIGIN, self.stack.url + "/ws/rooms/a?since=1%00x")
        self.assert_json_error(status, headers, body, 400, "bad_request")

    def test_a_long_query_is_an_error_frame_and_1008_not_a_502(self):
        for length in (4100, 7000):
            with self.subTest(length=length):
                code, close = self.refused_frames("/ws/rooms/a?token=" + "x" * length)
                self.assertEqual((code, close), ("bad_request", 1008))

    def test_a_url_over_nginxs_buffer_is_414(self):
        status, _, _ = self.raw_http(b"GET /ws/rooms/a?x=" + b"y" * 9000 + b" HTTP/1.1\r\nHost: x\r\n"
                                     b"Connection: close\r\n\r\n")
        self.assertEqual(status, 414)

    def test_headers_over_nginxs_buffers_are_a_json_431(self):
        status, headers, body = self.raw_http(b"GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: " +
                                              b"c" * 9000 + b"\r\nConnection: close\r\n\r\n")
        self.assert_json_error(status, headers, body, 431, "headers_too_large")

    def test_a_push_over_1_mib_is_a_json_413(self):
        big = self.write_fixture("big.json", b"[" + b"1," * 600000 + b"1]")
        status, headers, body = self.curl("-X", "POST", "--data-binary", "@" + big,
                                          self.stack.url + "/push/room")
        self.assert_json_error(status, headers, body, 413, "body_too_large")

    def test_a_websocket_endpoint_without_an_upgrade_is_a_json_426(self):
        for path in ("/ws/rooms/a", "/ws"):
            with self.subTest(path=path):
                status, headers, body = self.curl(self.stack.url + path)
                self.assert_json_error(status, headers, body, 426, "upgrade_required")
                self.assertEqual(headers.get("upgrade"), "websocket")

    def test_an_origin_not_allowed_is_a_json_403(self):
        for origin in ("https://evil.example", None):
            with self.subTest(origin=origin):
                connection = self.upgrade("/ws/rooms/a", origin=origin)
                self.assertEqual(connection.status, 403)
                while b"\n" not in connection.buffer:  # the body may come after the head
                    chunk = connection.socket.recv(4096)
                    if not chunk:
                        break
                    connection.buffer += chunk
                self.assertEqual(json.loads(connection.buffer)["error"]["code"], "origin_not_allowed")

    def test_a_token_with_characters_no_token_has_is_token_malformed(self):
        code, close = self.refused_frames("/ws/rooms/a?token=%21%21.%21%21")
        self.assertEqual((code, close), ("token_malformed", 1008))


if __name__ == "__main__":
    harness.main()
