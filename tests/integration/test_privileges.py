"""Started by root, the stack runs as production does: both daemons (and the program the app runs)
as the unprivileged roompush with www-data as a supplementary group, nginx's workers as www-data,
and nginx still reaches both daemons through the sockets given to its group. A socket nginx
cannot connect to, or a file a daemon cannot read, fails here rather than in production."""

import grp
import json
import os
import pwd
import stat
import unittest

import harness
from harness import ControlConnection, RoomClient, devstack


def status_of(pid):
    """/proc/PID/status as {field: value}."""
    with open("/proc/%d/status" % pid) as status:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)


def credentials(pid):
    """(real, effective, saved, fs uids), the same for gids, and the supplementary gids."""
    fields = status_of(pid)
    return ([int(n) for n in fields["Uid"].split()], [int(n) for n in fields["Gid"].split()],
            sorted(int(n) for n in fields["Groups"].split()))


def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(status_of(int(entry))["PPid"]) == pid:
                    found.append(int(entry))
            except (OSError, KeyError):
                pass
    return found


@unittest.skipUnless(os.geteuid() == 0, "the stack drops privileges only when root starts it")
class Privileges(harness.StackTestCase):

    def setUp(self):
        self.roompush = pwd.getpwnam(devstack.DAEMON_USER)
        self.www_data = pwd.getpwnam(devstack.NGINX_USER)
        self.www_data_gid = grp.getgrnam(devstack.NGINX_USER).gr_gid

    def assert_runs_as_roompush(self, name):
        uids, gids, groups = credentials(self.stack.processes[name].pid)
        self.assertEqual(uids, [self.roompush.pw_uid] * 4, name)
        self.assertEqual(gids, [self.roompush.pw_gid] * 4, name)
        self.assertEqual(groups, [self.www_data_gid], name)

    def test_the_daemons_run_as_roompush_with_www_data_as_a_supplementary_group(self):
        self.assert_runs_as_roompush("sidecar")
        self.assert_runs_as_roompush("app")

    def test_www_data_is_not_in_group_roompush(self):
        group = grp.getgrgid(self.roompush.pw_gid)
        self.assertNotIn(devstack.NGINX_USER, group.gr_mem)
        self.assertNotEqual(self.www_data.pw_gid, self.roompush.pw_gid)

    def test_nginx_workers_run_as_www_data(self):
        workers = children_of(self.stack.processes["nginx"].pid)
        self.assertEqual(len(workers), 2, "worker_processes 2")
        for worker in workers:
            uids, gids, _ = credentials(worker)
            self.assertEqual(uids, [self.www_data.pw_uid] * 4)
            self.assertEqual(gids, [self.www_data_gid] * 4)

    def test_sockets_and_directories_are_owned_as_in_production(self):
        def owned(path):
            info = os.stat(path)
            return (pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name,
                    oct(stat.S_IMODE(info.st_mode)))

        self.assertEqual(owned(self.run_dir), ("roompush", "roompush", "0o751"))
        self.assertEqual(owned(self.stack.spool_dir), ("roompush", "roompush", "0o750"))
        self.assertEqual(owned(self.stack.ws_socket), ("roompush", "www-data", "0o660"))
        self.assertEqual(owned(self.stack.fcgi_socket), ("roompush", "www-data", "0o660"))
        self.assertEqual(owned(self.stack.control_socket), ("roompush", "roompush", "0o660"))

    def test_a_websocket_and_an_upload_through_nginx_reach_the_daemons(self):
        stl = self.write_fixture("cube.stl", harness.binary_stl(harness.cube_triangles()))

        async def scenario():
            async with RoomClient(self.stack.ws_url + "/ws/rooms/privileges") as client:
                subscribed = await client.next()
                with ControlConnection(self.stack.control_socket) as control:
                    ack = control.publish("privileges", {"n": 1})
                pushed = await client.next()
                status, _, body = self.upload(stl, room="privileges")
                self.assertEqual(status, 202, body)
                job = json.loads(body)["jobId"]
                seen = await client.until(lambda m: m.get("event") in ("job.done", "job.failed")
                                          and m["data"]["jobId"] == job)
                return subscribed, ack, pushed, job, seen[-1]

        subscribed, ack, pushed, job, final = self.run_async(scenario())
        self.assertEqual(subscribed["type"], "subscribed", self.logs())
        self.assertEqual((ack["delivered"], pushed["data"]), (1, {"n": 1}))
        self.assertEqual(final["event"], "job.done", final)
        # The program inherits the app's user: what it wrote in the work dir is roompush's.
        preview = os.path.join(self.stack.spool_dir, "jobs", job, "work", "preview.svg")
        self.assertEqual(os.stat(preview).st_uid, self.roompush.pw_uid)


if __name__ == "__main__":
    harness.main()
