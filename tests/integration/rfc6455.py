"""A WebSocket client written from RFC 6455 for the conformance tests: it sends exactly the bytes
a case asks for (fragments, control frames between them, bad masks, bad lengths, bad UTF-8),
which a library client would refuse to, and reads the server's frames and its close."""

import json
import os
import socket
import struct
import time

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def frame(payload=b"", opcode=OP_TEXT, fin=True, mask=True, rsv=0, length=None):
    """One frame's bytes. `length` announces another payload length than the one sent."""
    data = payload.encode() if isinstance(payload, str) else payload
    announced = len(data) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    bit = 0x80 if mask else 0
    if announced < 126:
        head += bytes([bit | announced])
    elif announced < 1 << 16:
        head += bytes([bit | 126]) + struct.pack(">H", announced)
    else:
        head += bytes([bit | 127]) + struct.pack(">Q", announced)
    if not mask:
        return head + data
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(data))


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


class Frame:
    def __init__(self, opcode, fin, payload, rsv1=False):
        self.opcode, self.fin, self.payload = opcode, fin, payload
        self.rsv1 = rsv1  # permessage-deflate: the payload is compressed

    def json(self):
        return json.loads(self.payload)

    @property
    def close_code(self):
        return struct.unpack(">H", self.payload[:2])[0] if len(self.payload) >= 2 else None


class Connection:
    """An upgraded connection over TCP (host, port) or a Unix socket (path)."""

    def __init__(self, address, path, origin=None, timeout=5, extensions=None):
        if isinstance(address, str):
            self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.socket.connect(address)
        else:
            self.socket = socket.create_connection(address)
        self.socket.settimeout(timeout)
        origin_line = "Origin: %s\r\n" % origin if origin else ""
        if extensions:
            origin_line += "Sec-WebSocket-Extensions: %s\r\n" % extensions
        self.socket.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                             "Sec-WebSocket-Key: %s\r\n\r\n"
                             % (path, origin_line, "dGhlIHNhbXBsZSBub25jZQ==")).encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.socket.recv(4096)
            if not chunk:
                raise EOFError("closed during the handshake")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        self.headers = {}  # the response's, by lower-case name
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode().partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.closed = False

    def send(self, *frames):
        self.socket.sendall(b"".join(frames))

    def _fill(self, deadline):
        self.socket.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.socket.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
        self.buffer += chunk

    def read_frame(self, timeout=5):
        """The next frame; None once the server closed the TCP connection."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            if self.closed:
                return None
            self._fill(deadline)

    def _parse(self):
        data = self.buffer
        if len(data) < 2:
            return None
        opcode, fin, length, offset = data[0] & 0x0F, bool(data[0] & 0x80), data[1] & 0x7F, 2
        if length == 126:
            if len(data) < 4:
                return None
            length, offset = struct.unpack(">H", data[2:4])[0], 4
        elif length == 127:
            if len(data) < 10:
                return None
            length, offset = struct.unpack(">Q", data[2:10])[0], 10
        if len(data) < offset + length:
            return None
        self.buffer = data[offset + length:]
        return Frame(opcode, fin, data[offset:offset + length], rsv1=bool(data[0] & 0x40))

    def frames_until_close(self, timeout=5):
        """Every frame up to and including the server's close frame (or the TCP close). A close
        frame is answered with one, as the closing handshake asks of a client."""
        seen = []
        while True:
            got = self.read_frame(timeout)
            if got is None:
                return seen
            seen.append(got)
            if got.opcode == OP_CLOSE:
                try:
                    self.send(frame(got.payload[:2], OP_CLOSE))
                except OSError:
                    pass  # the server did not wait for it
                return seen

    def tcp_closed_within(self, timeout=5):
        """True when the server closes the TCP connection within `timeout` (reading on)."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            try:
                self._fill(deadline)
            except socket.timeout:
                break
        return self.closed

    def close(self):
        self.socket.close()
