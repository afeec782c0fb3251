"""The whole path through the real nginx: upload -> program -> push to the room, and pushctl."""

import json
import os

import harness
from harness import RoomClient


class EndToEnd(harness.StackTestCase):

    def test_upload_result_reaches_its_room_and_no_other(self):
        stl = self.write_fixture("cube.stl", harness.binary_stl(harness.cube_triangles(2.0)))

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/A") as a, \
                    RoomClient(self.stack.ws_url + "/ws/rooms/B") as b:
                self.assertEqual((await a.next())["type"], "subscribed")
                self.assertEqual((await b.next())["type"], "subscribed")
                status, headers, body = self.upload(stl, room="A", item="7")
                self.assertEqual(status, 202, body)
                accepted = json.loads(body)
                self.assertEqual(accepted["roomId"], "A")
                self.assertEqual(accepted["itemId"], "7")
                self.assertEqual(accepted["status"], "queued")
                self.assertEqual(accepted["ws"], "/ws/rooms/A")
                self.assertEqual(headers["location"], "/jobs/" + accepted["jobId"])
                seen = await a.until(lambda m: m.get("event") in ("job.done", "job.failed"))
                leaked = await b.nothing_for(1.0)
                return accepted["jobId"], seen, leaked

        job_id, seen, leaked = self.run_async(scenario())
        events = [m["event"] for m in seen]
        self.assertEqual(events[0], "job.queued")
        self.assertEqual(events[1], "job.started")
        self.assertEqual(events[-1], "job.done", self.logs())
        self.assertIn("job.progress", events)
        seqs = [m["seq"] for m in seen]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "seq grows by 1")
        done = seen[-1]
        self.assertEqual(done["type"], "message")
        self.assertEqual(done["room"], "A")
        self.assertEqual(done["data"]["jobId"], job_id)
        self.assertEqual(done["data"]["itemId"], "7")
        result = done["data"]["result"]
        self.assertEqual(result["triangles"], 12)
        self.assertAlmostEqual(result["area"], 24.0, places=3)
        self.assertAlmostEqual(result["volume"], 8.0, places=3)
        self.assertEqual(result["bbox"]["max"], [2, 2, 2])
        self.assertEqual(leaked, [], "room B must hear nothing of room A")

        status, _, body = self.curl(self.stack.url + "/jobs/" + job_id)
        self.assertEqual(status, 200)
        job = json.loads(body)
        self.assertEqual(job["status"], "done")
        self.assertEqual(job["result"]["triangles"], 12)
        self.assertEqual(job["filename"], "cube.stl")
        self.assertGreaterEqual(job["finished"], job["started"])

    def test_pushctl_publish_reaches_the_room_and_rooms_lists_it(self):
        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/ctl-A") as a, \
                    RoomClient(self.stack.ws_url + "/ws/rooms/ctl-B") as b:
                await a.next()
                await b.next()
                published = self.pushctl("publish", "ctl-A", "--event", "note",
                                         "--data", '{"text":"hello"}')
                self.assertEqual(published.returncode, 0, published.stderr)
                self.assertIn("delivered to 1 member", published.stdout)
                message = await a.next()
                rooms = self.pushctl("rooms", "--json")
                table = self.pushctl("rooms")
                leaked = await b.nothing_for(0.5)
                return message, rooms, table, leaked

        message, rooms, table, leaked = self.run_async(scenario())
        self.assertEqual(message["event"], "note")
        self.assertEqual(message["data"], {"text": "hello"})
        self.assertEqual(message["room"], "ctl-A")
        self.assertEqual(leaked, [])
        self.assertEqual(rooms.returncode, 0, rooms.stderr)
        listed = {r["room"]: r for r in json.loads(rooms.stdout)["rooms"]}
        self.assertEqual(listed["ctl-A"]["members"], 1)
        self.assertEqual(listed["ctl-A"]["seq"], 1)
        self.assertEqual(listed["ctl-B"]["members"], 1)
        header, *rows = table.stdout.splitlines()
        self.assertEqual(header.split(), ["ROOM", "MEMBERS", "SEQ", "RETAINED"])
        self.assertIn(["ctl-A", "1", "1", "1"], [row.split() for row in rows])  # 1 retained

    def test_invalid_room_is_refused_with_an_error_and_1008(self):
        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/bad%20room") as client:
                error = await client.next()
                try:
                    await client.next()
                except harness.websockets.ConnectionClosed as closed:
                    return error, closed.code
                return error, None

        error, code = self.run_async(scenario())
        self.assertEqual(error["type"], "error")
        self.assertEqual(error["code"], "invalid_room")
        self.assertEqual(code, 1008)

    def test_healthz(self):
        status, _, body = self.curl(self.stack.url + "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["ok"], True)


class FailingProgram(harness.StackTestCase):
    EXEC = os.path.join(harness.FIXTURES, "exit3.sh") + " {input}"

    def test_program_exit_3_is_pushed_as_job_failed(self):
        stl = self.write_fixture("cube.stl", harness.binary_stl(harness.cube_triangles()))

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/F") as room:
                await room.next()
                status, _, body = self.upload(stl, room="F", item="x")
                self.assertEqual(status, 202, body)
                return json.loads(body)["jobId"], await room.until(
                    lambda m: m.get("event") in ("job.done", "job.failed"))

        job_id, seen = self.run_async(scenario())
        failed = seen[-1]
        self.assertEqual(failed["event"], "job.failed", self.logs())
        self.assertEqual(failed["data"]["jobId"], job_id)
        error = failed["data"]["error"]
        self.assertEqual(error["reason"], "exit")
        self.assertEqual(error["exitCode"], 3)
        self.assertEqual(error["message"], "the fixture always fails")
        status, _, body = self.curl(self.stack.url + "/jobs/" + job_id)
        self.assertEqual(json.loads(body)["status"], "failed")


if __name__ == "__main__":
    harness.main()
