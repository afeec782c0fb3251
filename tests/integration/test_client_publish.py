"""Messages from browsers (docs/websocket.md, `publish`), through the real nginx and sidecar:
allowed by a room token's "publish" capability, refused with a per-room error that keeps the
connection (no capability, a server event name, too large, over the rate, malformed), delivered
to every member with `from`, retained and resumed like any message, and carried across two
sidecars on Redis."""

import json

import harness
from harness import RoomClient
from test_scaling import NodeClient

RATE_BURST = 5


class Commands(RoomClient):
    """A client of /ws that sends commands and reads what comes back. The ack of a publish and
    the message itself may come in either order: frames read past while waiting for one are
    kept for next()."""

    stash = None

    async def next(self, timeout=10):
        if self.stash:
            return self.stash.pop(0)
        return await super().next(timeout)

    async def send(self, command):
        await self.socket.send(json.dumps(command))

    async def subscribe(self, room, token=None, **extra):
        command = {"op": "subscribe", "room": room, **extra}
        if token is not None:
            command["token"] = token
        await self.send(command)
        return await self.until(lambda f: f["type"] in ("subscribed", "error"))

    async def publish(self, room, event, data, id=None):
        command = {"op": "publish", "room": room, "event": event, "data": data}
        if id is not None:
            command["id"] = id
        await self.send(command)
        frames = await self.until(lambda f: f["type"] in ("published", "error"))
        self.stash = (self.stash or []) + frames[:-1]
        return frames[-1]


class NodeCommands(NodeClient, Commands):
    """Commands straight to one sidecar's socket, so that a test knows which node serves it."""


class WithTokens(harness.TokenStackTestCase):
    TOKEN_SIDECAR_ARGS = ("--client-publish-max-bytes", "100", "--client-publish-rate", "1",
                          "--client-publish-burst", str(RATE_BURST))

    def token(self, room, user=None, publish=False):
        return self.mint(room, *(["--user", user] if user else []),
                         *(["--publish"] if publish else []))

    def test_a_member_with_publish_reaches_every_member_with_from(self):
        async def scenario():
            async with Commands(self.stack.ws_url + "/ws") as alice, \
                    Commands(self.stack.ws_url + "/ws") as bob:
                await alice.subscribe("chat-1", self.token("chat-1", "alice", publish=True))
                await bob.subscribe("chat-1", self.token("chat-1", "bob"))
                ack = await alice.publish("chat-1", "note", {"text": "hello"}, id="n1")
                at_alice = (await alice.until(lambda f: f["type"] == "message"))[-1]
                at_bob = (await bob.until(lambda f: f["type"] == "message"))[-1]
                again = await alice.publish("chat-1", "note", {"text": "hello"}, id="n1")
                return ack, at_alice, at_bob, again

        ack, at_alice, at_bob, again = self.run_async(scenario())
        self.assertEqual((ack["type"], ack["room"], ack["id"]), ("published", "chat-1", "n1"))
        self.assertEqual(at_bob, at_alice, "one frame for every member, the sender too")
        self.assertEqual(at_bob["seq"], ack["seq"])
        self.assertEqual(at_bob["data"], {"text": "hello"})
        self.assertEqual(at_bob["from"]["user"], "alice")
        self.assertRegex(at_bob["from"]["conn"], r"^.+/\d+$", "NODE/CONNECTION")
        self.assertEqual((again["seq"], again.get("duplicate")), (ack["seq"], True),
                         "the same id is acked with its first seq and not sent twice")

    def test_every_refusal_names_its_room_and_keeps_the_connection(self):
        async def scenario():
            async with Commands(self.stack.ws_url + "/ws") as ws:
                await ws.subscribe("chat-2", self.token("chat-2", "carol"))
                await ws.subscribe("chat-3", self.token("chat-3", "carol", publish=True))
                answers = [
                    await ws.publish("chat-2", "note", {"t": 1}, id="a"),
                    await ws.publish("chat-9", "note", {"t": 1}),
                    await ws.publish("chat-3", "job.done", {"t": 1}),
                    await ws.publish("chat-3", "note", {"t": "x" * 200}),
                ]
                sent = [await ws.publish("chat-3", "note", {"n": n}) for n in range(RATE_BURST)]
                answers.append(await ws.publish("chat-3", "note", {"n": "over"}))
                # Still open, still in both rooms.
                with self.control() as control:
                    control.publish("chat-2", {"still": "here"})
                last = (await ws.until(lambda f: f.get("data") == {"still": "here"}))[-1]
                return answers, sent, last

        answers, sent, last = self.run_async(scenario())
        self.assertEqual([(a["type"], a["code"], a["room"]) for a in answers], [
            ("error", "publish_forbidden", "chat-2"),
            ("error", "not_subscribed", "chat-9"),
            ("error", "event_reserved", "chat-3"),
            ("error", "message_too_big", "chat-3"),
            ("error", "rate_limited", "chat-3"),
        ])
        self.assertEqual(answers[0]["id"], "a")
        self.assertEqual([a["type"] for a in sent], ["published"] * RATE_BURST)
        self.assertEqual(last["room"], "chat-2")
        metrics = self.metrics()
        self.assertEqual(metrics["roompush_client_messages_refused_total"], 5)
        self.assertGreaterEqual(metrics["roompush_client_messages_published_total"], RATE_BURST)

    def test_hostile_publish_commands_close_with_1008_and_hurt_no_one(self):
        cases = [
            ({"op": "publish", "room": "chat-4", "event": "note"}, "missing_field"),
            ({"op": "publish", "room": "chat-4", "event": 7, "data": 1}, "wrong_type"),
            ({"op": "publish", "room": "chat 4", "event": "note", "data": 1}, "invalid_room"),
            ({"op": "publish", "room": "chat-4", "event": "no spaces", "data": 1},
             "invalid_event"),
            ({"op": "publish", "room": "chat-4", "event": "note", "data": 1, "id": "k" * 201},
             "invalid_id"),
            ({"op": "publish", "room": "chat-4", "event": "note", "data": 1, "id": []},
             "wrong_type"),
        ]

        async def hostile(command):
            async with Commands(self.stack.ws_url + "/ws") as ws:
                await ws.subscribe("chat-4", self.token("chat-4", publish=True))
                await ws.send(command)
                frame = await ws.next()
                try:
                    await ws.next(5)
                except harness.websockets.ConnectionClosed as closed:
                    return frame, closed.code
                return frame, None

        async def scenario():
            async with Commands(self.stack.ws_url + "/ws") as calm:
                await calm.subscribe("chat-4", self.token("chat-4"))
                results = [await hostile(command) for command, _ in cases]
                with self.control() as control:
                    control.publish("chat-4", {"calm": True})
                seen = await calm.until(lambda f: f["type"] == "message")
                return results, seen

        results, seen = self.run_async(scenario(), timeout=90)
        for (command, code), (frame, close) in zip(cases, results):
            self.assertEqual((frame["type"], frame["code"], close), ("error", code, 1008), command)
        self.assertEqual([f["data"] for f in seen if f["type"] == "message"], [{"calm": True}],
                         "no refused message reached the room")

    def test_a_browsers_message_is_resumed_like_any_other(self):
        async def scenario():
            async with Commands(self.stack.ws_url + "/ws") as writer:
                await writer.subscribe("chat-5", self.token("chat-5", "dora", publish=True))
                first = await writer.publish("chat-5", "note", {"n": 1})
                subscribed = (await writer.until(lambda f: f["type"] == "message"))[-1]
                since = first["seq"] - 1
                async with Commands(self.stack.ws_url + "/ws") as late:
                    frames = await late.subscribe("chat-5", self.token("chat-5"), since=since,
                                                  epoch=subscribed["epoch"])
                    replayed = await late.until(lambda f: f["type"] == "message")
                return first, frames + replayed

        first, frames = self.run_async(scenario())
        replayed = [f for f in frames if f["type"] == "message"]
        self.assertEqual(len(replayed), 1)
        self.assertEqual((replayed[0]["seq"], replayed[0]["from"]["user"]), (first["seq"], "dora"))

    def control(self):
        return harness.ControlConnection(self.stack.control_socket)

    def test_pushctl_refuses_a_user_too_long_for_a_token(self):
        result = self.pushctl("token", "chat-6", "--secret-file", self.secret, "--user", "u" * 129)
        self.assertEqual(result.returncode, 2, result.stdout)
        self.assertIn("bad_user", result.stderr)
        result = self.pushctl("--json", "token", "chat-6", "--secret-file", self.secret,
                              "--user", "erin", "--publish")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual((json.loads(result.stdout)["user"], json.loads(result.stdout)["publish"]),
                         ("erin", True))

    def metrics(self):
        status, _, body = self.curl(self.stack.url + "/metrics")
        self.assertEqual(status, 200, body)
        return {line.split()[0]: float(line.split()[1]) for line in body.splitlines()
                if line and not line.startswith("#")}


class OpenRooms(harness.StackTestCase):
    """Without tokens, --client-publish decides; without it every publish is refused."""
    SIDECAR_ARGS = ("--client-publish",)

    def test_members_of_open_rooms_may_publish_with_the_option(self):
        async def scenario():
            async with Commands(self.stack.ws_url + "/ws") as ws:
                await ws.subscribe("open-1")
                ack = await ws.publish("open-1", "note", [1, 2])
                message = (await ws.until(lambda f: f["type"] == "message"))[-1]
                return ack, message

        ack, message = self.run_async(scenario())
        self.assertEqual(ack["type"], "published")
        self.assertEqual(message["data"], [1, 2])
        self.assertNotIn("user", message["from"])


class ClosedByDefault(harness.StackTestCase):

    def test_without_the_option_open_rooms_refuse_publishing(self):
        async def scenario():
            async with Commands(self.stack.ws_url + "/ws") as ws:
                await ws.subscribe("open-2")
                return await ws.publish("open-2", "note", 1)

        answer = self.run_async(scenario())
        self.assertEqual((answer["type"], answer["code"]), ("error", "publish_forbidden"))


class AcrossTwoSidecars(harness.StackTestCase):
    """On Redis a browser's message on one node reaches the other node's members, with `from`."""
    NODES = 2
    SIDECAR_ARGS = ("--client-publish",)

    def test_a_message_sent_on_one_node_reaches_the_other(self):
        async def scenario():
            async with NodeCommands(self.stack.node_ws_socket(0), "/ws") as on_a, \
                    NodeClient(self.stack.node_ws_socket(1), "/ws/rooms/cross-1") as on_b:
                await on_b.until(lambda f: f["type"] == "subscribed")
                await on_a.subscribe("cross-1")
                ack = await on_a.publish("cross-1", "note", {"from": "a"}, id="x1")
                at_b = (await on_b.until(lambda f: f["type"] == "message"))[-1]
                return ack, at_b

        ack, at_b = self.run_async(scenario())
        self.assertEqual(ack["type"], "published", ack)
        self.assertEqual((at_b["seq"], at_b["data"]), (ack["seq"], {"from": "a"}))
        self.assertIn("conn", at_b["from"])
        with harness.ControlConnection(self.stack.node_control_socket(1)) as control:
            history = control.request({"op": "history", "room": "cross-1"})
        self.assertEqual(history["messages"][-1]["from"], at_b["from"], "the stream keeps the sender")


if __name__ == "__main__":
    harness.main()
