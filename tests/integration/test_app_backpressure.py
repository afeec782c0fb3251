"""Bounded work: 50 uploads at once against a queue of 10 get only 202 or 503 (with Retry-After),
and every 202 ends in a pushed job.done; finished jobs are removed after --keep.

The program is tests/fixtures/job_behaviour.sh. The accepted jobs wait on a gate file until
every answer is in, so how many are accepted does not depend on the machine's speed.
"""

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import harness
from harness import RoomClient

BEHAVIOUR = os.path.join(harness.FIXTURES, "job_behaviour.sh")


class Backpressure(harness.StackTestCase):
    EXEC = BEHAVIOUR + " {input} {workdir}"
    APP_ARGS = ("--workers", "1", "--queue", "10", "--threads", "4", "--keep", "1",
                "--timeout", "60")

    def test_fifty_uploads_against_a_queue_of_ten_get_202_or_503_and_every_202_is_done(self):
        gate = os.path.join(self.run_dir, "gate-burst")
        upload = self.write_fixture("burst.txt", ("gate %s\n" % gate).encode())
        room = "burst"

        def post(_):
            return self.curl("-F", "roomId=" + room, "-F", "file=@" + upload,
                             self.stack.url + "/cad")

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/" + room) as client:
                await client.next()
                with ThreadPoolExecutor(max_workers=50) as pool:
                    answers = list(pool.map(post, range(50)))
                accepted = {json.loads(body)["jobId"] for status, _, body in answers
                            if status == 202}
                with open(gate, "w"):
                    pass
                done = set()
                while done != accepted:
                    message = await client.next(timeout=30)
                    if message.get("event") == "job.done":
                        self.assertIn(message["data"]["jobId"], accepted)
                        done.add(message["data"]["jobId"])
                    self.assertNotEqual(message.get("event"), "job.failed", message)
                return answers, accepted

        answers, accepted = self.run_async(scenario(), timeout=90)
        statuses = sorted({status for status, _, _ in answers})
        self.assertTrue(set(statuses) <= {202, 503}, statuses)
        # One job runs (the worker took it before the burst filled the queue) and ten wait.
        self.assertIn(len(accepted), (10, 11), self.logs())
        for status, headers, body in answers:
            if status == 503:
                self.assertEqual(json.loads(body)["error"]["code"], "queue_full")
                self.assertTrue(headers["retry-after"].isdigit())
        incoming = os.listdir(os.path.join(self.stack.spool_dir, "incoming"))
        self.assertEqual(incoming, [], "a refused upload leaves nothing behind")

    def test_finished_jobs_are_removed_after_keep(self):
        upload = self.write_fixture("keep.txt", b"ok\n")
        status, _, body = self.curl("-F", "roomId=keep", "-F", "file=@" + upload,
                                    self.stack.url + "/cad?wait=10")
        self.assertEqual(status, 201, body)
        job_id = json.loads(body)["jobId"]
        job_dir = os.path.join(self.stack.spool_dir, "jobs", job_id)
        deadline = time.monotonic() + 15
        while os.path.exists(job_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(os.path.exists(job_dir), "the job's files are removed after --keep")
        status, _, body = self.curl(self.stack.url + "/jobs/" + job_id)
        self.assertEqual(status, 404, body)
        self.assertEqual(json.loads(body)["error"]["code"], "not_found")


if __name__ == "__main__":
    harness.main()
