"""Presence (docs/websocket.md): three clients join and leave a room through nginx; every member
sees the right join/leave sequence, `presence` answers the right members with the user and
info of their tokens, members without the capability are neither seen nor answered, and a room
past --presence-max-members sends its count instead."""

import asyncio
import json
import re
import time

import harness

from test_client_publish import Commands, NodeCommands


class Presence(harness.TokenStackTestCase):
    TOKEN_SIDECAR_ARGS = ("--presence-max-members", "3")

    def token(self, room, user, presence=True, info=None):
        return self.mint(room, "--user", user, *(["--presence"] if presence else []),
                         *(["--info", info] if info is not None else []))

    async def ask(self, client, room):
        await client.send({"op": "presence", "room": room})
        return (await client.until(lambda f: f["type"] in ("presence", "error")))[-1]

    def test_three_members_join_and_leave_in_front_of_each_other(self):
        async def scenario():
            url = self.stack.ws_url + "/ws"
            async with Commands(url) as ann:
                await ann.subscribe("p-1", self.token("p-1", "ann", info='{"color":"red"}'))
                async with Commands(url) as ben:
                    await ben.subscribe("p-1", self.token("p-1", "ben"))
                    async with Commands(url) as cat:
                        await cat.subscribe("p-1", self.token("p-1", "cat"))
                        full = await self.ask(cat, "p-1")
                        table = self.pushctl("room", "p-1").stdout
                        listed = json.loads(self.pushctl("--json", "room", "p-1").stdout)
                    # cat has left: ben sees it go
                    at_ben = await ben.until(lambda f: f["type"] == "leave")
                at_ann = await ann.until(lambda f: f["type"] == "leave" and
                                         f["member"]["user"] == "ben")
                alone = await self.ask(ann, "p-1")
            return full, at_ben, at_ann, alone, table, listed

        full, at_ben, at_ann, alone, table, listed = self.run_async(scenario())
        self.assertEqual(sorted(m["present"]["user"] for m in listed["members"]),
                         ["ann", "ben", "cat"], "pushctl room shows who is visible")
        self.assertEqual(listed["members"][0]["present"].get("info"), {"color": "red"})
        self.assertIn("PRESENT", table)
        for user in ("ann", "ben", "cat"):
            self.assertRegex(table, re.compile(r"\s%s$" % user, re.M), "a row ends in its user")
        self.assertEqual(full["count"], 3)
        self.assertEqual([m["user"] for m in full["members"]], ["ann", "ben", "cat"])
        self.assertEqual(full["members"][0]["info"], {"color": "red"})
        self.assertRegex(full["members"][0]["conn"], r"^.+/\d+$")
        events = lambda frames: [(f["type"], f["member"]["user"]) for f in frames
                                 if f["type"] in ("join", "leave")]
        self.assertEqual(events(at_ben), [("join", "cat"), ("leave", "cat")])
        self.assertEqual(events(at_ann), [("join", "ben"), ("join", "cat"), ("leave", "cat"),
                                          ("leave", "ben")])
        self.assertEqual((alone["count"], [m["user"] for m in alone["members"]]), (1, ["ann"]))

    def test_a_member_without_the_capability_is_neither_seen_nor_answered(self):
        async def scenario():
            url = self.stack.ws_url + "/ws"
            async with Commands(url) as seen, Commands(url) as hidden:
                await seen.subscribe("p-2", self.token("p-2", "seen"))
                await hidden.subscribe("p-2", self.token("p-2", "hidden", presence=False))
                refused = await self.ask(hidden, "p-2")
                outside = await self.ask(hidden, "p-elsewhere")
                answer = await self.ask(seen, "p-2")
                quiet = await seen.nothing_for(0.3)
            return refused, outside, answer, quiet

        refused, outside, answer, quiet = self.run_async(scenario())
        self.assertEqual((refused["code"], refused["room"]), ("presence_forbidden", "p-2"))
        self.assertEqual(outside["code"], "not_subscribed")
        self.assertEqual([m["user"] for m in answer["members"]], ["seen"])
        self.assertEqual(quiet, [], "a hidden member's join is told to no one")

    def test_past_the_bound_a_room_sends_its_count(self):
        async def scenario():
            url = self.stack.ws_url + "/ws"
            clients = [Commands(url) for _ in range(5)]
            for n, client in enumerate(clients):
                await client.__aenter__()
                await client.subscribe("p-3", self.token("p-3", "u%d" % n))
            first = clients[0]
            frames = await first.until(lambda f: f["type"] == "presence_count", timeout=5)
            answer = await self.ask(first, "p-3")
            for client in clients:
                await client.__aexit__(None, None, None)
            return frames, answer

        frames, answer = self.run_async(scenario())
        joins = [f["member"]["user"] for f in frames if f["type"] == "join"]
        self.assertEqual(joins, ["u1", "u2"], "named up to the bound (3), counted past it")
        self.assertEqual(frames[-1]["count"], 5)
        self.assertEqual((answer["count"], len(answer["members"])), (5, 3))

    def test_hostile_presence_commands(self):
        async def scenario():
            results = []
            for command in ({"op": "presence"}, {"op": "presence", "room": 7},
                            {"op": "presence", "room": "a b"}):
                async with Commands(self.stack.ws_url + "/ws") as ws:
                    await ws.send(command)
                    frame = await ws.next()
                    try:
                        await ws.next(5)
                        results.append((frame["code"], None))
                    except harness.websockets.ConnectionClosed as closed:
                        results.append((frame["code"], closed.code))
            return results

        self.assertEqual(self.run_async(scenario()), [("missing_field", 1008),
                                                       ("wrong_type", 1008),
                                                       ("invalid_room", 1008)])

    def test_pushctl_token_refuses_info_that_is_not_an_object(self):
        for info in ("[1]", "{", '{"x":"%s"}' % ("y" * 600)):
            result = self.pushctl("token", "p-4", "--secret-file", self.secret, "--presence",
                                  "--info", info)
            self.assertEqual(result.returncode, 2, info)
            self.assertIn("bad_info", result.stderr)


class OpenRoomsWithPresence(harness.StackTestCase):
    SIDECAR_ARGS = ("--presence",)

    def test_open_rooms_show_everyone_with_the_option(self):
        async def scenario():
            url = self.stack.ws_url + "/ws"
            async with Commands(url) as a, Commands(url) as b:
                await a.subscribe("p-open")
                await b.subscribe("p-open")
                joined = await a.until(lambda f: f["type"] == "join")
                await a.send({"op": "presence", "room": "p-open"})
                answer = (await a.until(lambda f: f["type"] == "presence"))[-1]
            return joined[-1], answer

        joined, answer = self.run_async(scenario())
        self.assertNotIn("user", joined["member"])
        self.assertEqual(answer["count"], 2)


class AcrossTwoSidecars(harness.StackTestCase):
    """On Redis, join and leave cross nodes, and `presence` answers for the whole cluster."""
    NODES = 2
    SIDECAR_ARGS = ("--presence",)

    def on(self, node):
        return NodeCommands(self.stack.node_ws_socket(node), "/ws")

    async def cluster_answer(self, client, room, count, timeout=10):
        """Reports travel with the 2-second heartbeat: ask until the count is reached."""
        deadline = time.monotonic() + timeout
        while True:
            await client.send({"op": "presence", "room": room})
            answer = (await client.until(lambda f: f["type"] in ("presence", "error")))[-1]
            if answer.get("count") == count or time.monotonic() > deadline:
                return answer
            await asyncio.sleep(0.3)

    def test_members_on_two_nodes_see_each_other(self):
        async def scenario():
            async with self.on(0) as a, self.on(1) as b:
                await a.subscribe("p-cross")
                await b.subscribe("p-cross")
                joined = await a.until(lambda f: f["type"] == "join")
                both = await self.cluster_answer(a, "p-cross", 2)
                from_b = await self.cluster_answer(b, "p-cross", 2)
                async with self.on(1) as c:
                    await c.subscribe("p-cross")
                    third = await a.until(lambda f: f["type"] == "join")
                left = await a.until(lambda f: f["type"] == "leave")
                after = await self.cluster_answer(a, "p-cross", 2)
            return joined[-1], both, from_b, third[-1], left[-1], after

        joined, both, from_b, third, left, after = self.run_async(scenario(), timeout=90)
        self.assertTrue(joined["member"]["conn"].startswith("node1/"), joined)
        self.assertEqual(both["count"], 2)
        self.assertEqual(sorted(m["conn"].split("/")[0] for m in both["members"]),
                         ["node0", "node1"])
        self.assertEqual(from_b["count"], 2)
        self.assertEqual(left["member"], third["member"], "the third member left, from node1")
        self.assertEqual(after["count"], 2)


if __name__ == "__main__":
    harness.main()
