"""The package's life on a booted Debian 12: an upgrade from an earlier version while a browser is
connected and jobs are queued (the postinst restarts what ran), then remove and purge as
docs/deploy.md says."""

import asyncio

import system_harness
from system_harness import PREVIOUS_VERSION, RoomWatcher, SystemTestCase, terminal_events


class UpgradeAndRemoval(SystemTestCase):
    """One machine: each test builds on the ones before."""

    MACHINE = "rp-upgrade"

    def installed_version(self):
        return self.sh("dpkg-query -W -f='${Version}' roompush").stdout

    def test_1_an_upgrade_keeps_edits_uploads_and_every_job(self):
        self.install_and_start(deb=self.packages.previous)
        self.assertEqual(self.installed_version(), PREVIOUS_VERSION)
        self.use_slow_program(seconds=2, workers=1, stop_grace_ms=500)
        # An operator's own edits, which an upgrade must keep.
        self.sh("sed -i 's|^#history=100|history=50|' /etc/roompush/roompush-sidecar.conf && "
                "echo '# edited by the operator' >> /etc/nginx/sites-available/roompush.conf && "
                "systemctl restart roompush-sidecar roompush-fcgi")
        sidecar_before = self.main_pid("roompush-sidecar.service")

        async def scenario():
            watcher = RoomWatcher(self, "upgrade")
            task = asyncio.create_task(watcher.watch())
            await watcher.joined()
            jobs = [self.upload("upgrade", item=str(n))["jobId"] for n in range(2)]
            await watcher.until(lambda _: any(m["data"]["jobId"] == jobs[0]
                                              for m in watcher.events("job.started")))
            self.doc_block("upgrade")  # the second job is still queued
            jobs.append(self.upload("upgrade", item="after")["jobId"])
            await watcher.until(lambda m: all(terminal_events(m, job) for job in jobs), timeout=60)
            await asyncio.sleep(1)  # a second push of any job's end would arrive now
            await watcher.stop()
            task.cancel()
            return jobs, watcher

        jobs, watcher = self.run_async(scenario())
        self.assertEqual(self.installed_version(), self.packages.version)
        for job in jobs:
            self.assertEqual(len(terminal_events(watcher.messages, job)), 1, job)
        self.assertEqual(terminal_events(watcher.messages, jobs[1]), ["job.done"])
        self.assertEqual(terminal_events(watcher.messages, jobs[2]), ["job.done"])
        self.assertIn(1001, watcher.closes, "the upgrade restarted the sidecar")
        self.assertNotEqual(self.main_pid("roompush-sidecar.service"), sidecar_before)
        self.sh("grep -qx 'history=50' /etc/roompush/roompush-sidecar.conf")
        self.sh("grep -qx '# edited by the operator' /etc/nginx/sites-available/roompush.conf")

    def test_2_remove_keeps_configuration_and_data_and_leaves_nothing_running(self):
        # An instance the doc's `disable --now` does not name: the prerm stops it.
        self.sh("systemctl start roompush-sidecar@extra.service")
        self.doc_block("remove")
        self.sh("test ! -e /usr/bin/roompush-sidecar && test -f /etc/roompush/roompush-sidecar.conf "
                "&& test -d /var/lib/roompush/spool/jobs && test -L /etc/nginx/sites-enabled/roompush.conf")
        self.sh("nginx -t")
        active = self.sh("systemctl list-units --no-legend --state=active 'roompush*'").stdout
        self.assertEqual(active.strip(), "")
        running = self.sh("pgrep -u roompush -l", check=False)
        self.assertEqual(running.stdout.strip(), "", "still running as roompush")

    def test_3_purge_removes_configuration_data_and_the_site_link(self):
        self.sh("echo 'added by the operator' > /etc/roompush/notes")
        self.doc_block("purge")
        self.sh("test ! -e /etc/roompush/roompush-sidecar.conf && test ! -e /var/lib/roompush "
                "&& test ! -e /etc/nginx/sites-enabled/roompush.conf "
                "&& test ! -e /etc/nginx/sites-available/roompush.conf")
        self.sh("test -f /etc/roompush/notes")  # what the operator added stays
        self.sh("nginx -t")
        self.doc_block("deluser")
        self.assertNotEqual(self.sh("getent passwd roompush", check=False).returncode, 0)


if __name__ == "__main__":
    system_harness.main()
