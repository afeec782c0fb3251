"""The heap the sidecar runs on (ws-sidecar/allocator.h): jemalloc where the build links it, and
memory that a load used is given back to the kernel once the load is gone."""

import time

import harness
from harness import ControlConnection, devstack, rss_kib

ROOMS = 16
MESSAGES = 60
PAYLOAD = "x" * 50_000  # 16 × 60 × 50 kB = 48 MB of history


class Allocator(harness.StackTestCase):
    SIDECAR_ARGS = ("--history-ttl", "1")

    def ready_line(self):
        # The control socket answers a moment before the ready line is written.
        deadline = time.monotonic() + 10
        while True:
            log = self.stack.log_tail("sidecar", 200)
            ready = [line for line in log.splitlines() if " event=ready " in line]
            if ready or time.monotonic() > deadline:
                self.assertEqual(len(ready), 1, log)
                return ready[0]
            time.sleep(0.1)

    def test_the_sidecar_says_which_allocator_serves_it(self):
        linked = devstack.links_jemalloc(self.stack.layout.sidecar)
        self.assertIn("allocator=jemalloc-" if linked else "allocator=glibc", self.ready_line())

    def test_the_memory_of_expired_history_goes_back_to_the_kernel(self):
        if self.stack.sanitized_build():
            self.skipTest("ASan's quarantine keeps freed memory on purpose")
        pid = self.stack.processes["sidecar"].pid
        before = rss_kib(pid)
        with ControlConnection(self.stack.control_socket) as control:
            for n in range(MESSAGES):
                for room in range(ROOMS):
                    ack = control.publish("heap-%d" % room, {"n": n, "pad": PAYLOAD})
                    self.assertIs(ack.get("ok"), True, ack)
        grown_mib = (rss_kib(pid) - before) / 1024
        self.assertGreater(grown_mib, 30, "the history should have taken memory")
        # The history expires after 1 s; the loop gives the heap back within 15 s (heap_trim.h).
        deadline = time.monotonic() + 30
        while (rss_kib(pid) - before) / 1024 > 12 and time.monotonic() < deadline:
            time.sleep(0.5)
        left_mib = (rss_kib(pid) - before) / 1024
        self.assertLess(left_mib, 12, "RSS still %.1f MiB above its start (peak +%.1f)"
                        % (left_mib, grown_mib))


if __name__ == "__main__":
    harness.main()
