"""permessage-deflate (docs/websocket.md, "Compression"), through the real nginx: negotiated with
clients that offer it (python3-websockets does by default), each message compressed once and the
same bytes sent to every member that negotiated it, members without it in the same room getting
the plain frame; compressed client messages taken; offers the server cannot honour declined; and
hostile compressed input (too large once inflated, not deflate at all, compressed without the
extension) refused."""

import asyncio
import json
import zlib

import websockets

import harness
import rfc6455
from harness import RoomClient
from rfc6455 import OP_CLOSE, OP_TEXT, frame

OFFER = "permessage-deflate; client_max_window_bits"
MAX_FRAME = 4096
# A job.done-like payload: repetitive JSON, as results are.
RESULT = {"job": "0123456789abcdef", "status": "done",
          "parts": [{"name": "part-%d" % i, "volume_mm3": 1000 + i, "material": "steel"}
                    for i in range(40)]}


def inflate(payload):
    """A message as RFC 7692 says to decompress it: its bytes and the 00 00 FF FF left off."""
    return zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")


def deflate(text):
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(text.encode() if isinstance(text, str) else text)
    data += compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


class Deflate(harness.StackTestCase):
    SIDECAR_ARGS = ("--ws-deflate", "--max-frame", str(MAX_FRAME))

    def metrics(self):
        status, _, body = self.curl(self.stack.url + "/metrics")
        self.assertEqual(status, 200, body)
        return {line.split()[0]: float(line.split()[1]) for line in body.splitlines()
                if line and not line.startswith("#")}

    def deflated(self):
        return self.metrics()["roompush_ws_messages_deflated_total"]

    def raw(self, path, extensions=OFFER):
        connection = rfc6455.Connection(("127.0.0.1", self.stack.port), path, extensions=extensions)
        self.assertEqual(connection.status, 101)
        self.addCleanup(connection.close)
        return connection

    def publish(self, room, data):
        with harness.ControlConnection(self.stack.control_socket) as control:
            answer = control.publish(room, data, event="job.done")
        self.assertTrue(answer["ok"], answer)
        return answer

    def next_message(self, connection):
        """The next message frame on a raw connection, skipping `subscribed`."""
        while True:
            got = connection.read_frame()
            self.assertIsNotNone(got, "closed instead of sending the message")
            self.assertEqual(got.opcode, OP_TEXT)
            text = inflate(got.payload) if got.rsv1 else got.payload
            if json.loads(text)["type"] == "message":
                return got, text

    def test_every_member_gets_the_message_compressed_or_not_as_it_negotiated(self):
        async def scenario():
            url = self.stack.ws_url + "/ws/rooms/mixed"
            async with RoomClient(url) as first, RoomClient(url) as second, \
                    RoomClient(url, compression=None) as plain:
                for client in (first, second):
                    self.assertTrue(client.socket.response_headers["Sec-WebSocket-Extensions"]
                                    .startswith("permessage-deflate"))
                self.assertNotIn("Sec-WebSocket-Extensions", plain.socket.response_headers)
                for client in (first, second, plain):
                    await client.until(lambda f: f["type"] == "subscribed")
                before = self.deflated()
                self.publish("mixed", RESULT)
                for client in (first, second, plain):
                    message = (await client.until(lambda f: f["type"] == "message"))[-1]
                    self.assertEqual((message["event"], message["data"]), ("job.done", RESULT))
                # Once for the room, not once per member that negotiated it.
                self.assertEqual(self.deflated() - before, 1)
        self.run_async(scenario())

    def test_the_frame_on_the_wire_is_compressed(self):
        connection = self.raw("/ws/rooms/wire")
        self.assertEqual(connection.headers.get("sec-websocket-extensions"), "permessage-deflate")
        plain = self.raw("/ws/rooms/wire", extensions=None)
        self.assertNotIn("sec-websocket-extensions", plain.headers)
        self.publish("wire", RESULT)
        got, text = self.next_message(connection)
        self.assertTrue(got.rsv1)
        self.assertEqual(json.loads(text)["data"], RESULT)
        sent_plain, plain_text = self.next_message(plain)
        self.assertFalse(sent_plain.rsv1)
        self.assertEqual(plain_text, text)  # the same message, byte for byte, once inflated
        self.assertLess(len(got.payload), len(plain_text) / 3)

    def test_a_compressed_command_is_taken(self):
        connection = self.raw("/ws")
        command = json.dumps({"op": "subscribe", "room": "compressed-command"})
        connection.send(frame(deflate(command), rsv=4))
        got = connection.read_frame()
        self.assertIsNotNone(got, "the server closed instead of answering")
        text = inflate(got.payload) if got.rsv1 else got.payload
        self.assertEqual(json.loads(text)["type"], "subscribed")

    def test_a_library_client_publishes_compressed(self):
        async def scenario():
            url = self.stack.ws_url + "/ws"
            async with RoomClient(url) as sender, RoomClient(url, compression=None) as receiver:
                await receiver.socket.send(json.dumps({"op": "subscribe", "room": "from-client"}))
                await receiver.until(lambda f: f["type"] == "subscribed")
                # python3-websockets compresses what it sends once the extension is on; a
                # subscribe is enough to show the sidecar read it (publishing needs rights).
                await sender.socket.send(json.dumps({"op": "subscribe", "room": "from-client",
                                                     "pad": "x" * 500}))
                answer = (await sender.until(lambda f: f["type"] in ("subscribed", "error")))[-1]
                self.assertEqual(answer["type"], "subscribed", answer)
        self.run_async(scenario())

    def test_offers_it_cannot_honour_are_declined_and_the_connection_goes_on(self):
        for offer in ("permessage-deflate; server_max_window_bits=10",
                      "permessage-deflate; server_max_window_bits=15",
                      "permessage-deflate; x-unknown-parameter",
                      "permessage-deflate, permessage-deflate; client_max_window_bits",
                      "x-webkit-deflate-frame"):
            with self.subTest(offer=offer):
                connection = self.raw("/ws/rooms/declined", extensions=offer)
                self.assertNotIn("sec-websocket-extensions", connection.headers)
                self.publish("declined", RESULT)
                got, _ = self.next_message(connection)
                self.assertFalse(got.rsv1)
                connection.close()
        accepted = self.raw("/ws/rooms/declined",
                            extensions="permessage-deflate; server_no_context_takeover; "
                                       "client_no_context_takeover")
        self.assertEqual(accepted.headers["sec-websocket-extensions"],
                         "permessage-deflate; server_no_context_takeover; "
                         "client_no_context_takeover")

    # -- hostile compressed input ----------------------------------------------------------
    def assert_ends(self, connection, code=None):
        frames = connection.frames_until_close(10)
        self.assertTrue(connection.tcp_closed_within(10), "the connection stayed open")
        closes = [f for f in frames if f.opcode == OP_CLOSE]
        if code is not None:
            self.assertEqual([f.close_code for f in closes], [code])

    def test_a_message_that_inflates_past_max_frame_is_refused_with_1009(self):
        connection = self.raw("/ws")
        bomb = '{"op":"subscribe","room":"r","pad":"' + "a" * (MAX_FRAME * 50) + '"}'
        compressed = deflate(bomb)
        self.assertLess(len(compressed), MAX_FRAME)  # small on the wire, large inflated
        connection.send(frame(compressed, rsv=4))
        self.assert_ends(connection, 1009)

    def test_bytes_that_are_not_deflate_end_the_connection(self):
        connection = self.raw("/ws")
        connection.send(frame(b"\xff\xfe this is not a deflate stream", rsv=4))
        self.assert_ends(connection)

    def test_a_compressed_frame_without_the_extension_fails_with_1002(self):
        connection = self.raw("/ws", extensions=None)
        connection.send(frame(deflate('{"op":"subscribe","room":"r"}'), rsv=4))
        self.assert_ends(connection, 1002)

    def test_connections_that_negotiated_are_counted(self):
        before = self.metrics()["roompush_ws_deflate_connections_opened_total"]
        self.raw("/ws")
        self.raw("/ws", extensions=None)
        self.eventually(lambda: self.metrics()["roompush_ws_deflate_connections_opened_total"]
                        == before + 1, "the deflate connection counted once")


class WithoutTheOption(harness.StackTestCase):
    """Without --ws-deflate the extension is not offered back, whoever asks."""

    def test_an_offer_gets_no_extension_and_plain_frames(self):
        connection = rfc6455.Connection(("127.0.0.1", self.stack.port), "/ws/rooms/off",
                                        extensions=OFFER)
        self.addCleanup(connection.close)
        self.assertEqual(connection.status, 101)
        self.assertNotIn("sec-websocket-extensions", connection.headers)
        with harness.ControlConnection(self.stack.control_socket) as control:
            self.assertTrue(control.publish("off", RESULT)["ok"])
        while True:
            got = connection.read_frame()
            self.assertIsNotNone(got)
            self.assertFalse(got.rsv1)
            if json.loads(got.payload)["type"] == "message":
                break


if __name__ == "__main__":
    harness.main()
