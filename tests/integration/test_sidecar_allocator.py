"""The heap the sidecar runs on (ws-sidecar/allocator.h): jemalloc where the build links it, and
memory that a load used is given back to the kernel once the load is gone."""

import os
import time

import harness
from harness import ControlConnection
from test_sidecar_limits import rss_kib

ROOMS = 16
MESSAGES = 60
PAYLOAD = "x" * 50_000  # 16 × 60 × 50 kB = 48 MB of history


def build_links_jemalloc(build_dir):
    with open(os.path.join(build_dir, "CMakeCache.txt")) as cache:
        text = cache.read()
    # The sanitizers and libFuzzer bring their own malloc (CMakeLists.txt turns jemalloc off).
    return ("ROOMPUSH_JEMALLOC:BOOL=ON" in text and "ROOMPUSH_SANITIZE:BOOL=ON" not in text
            and "ROOMPUSH_FUZZ:BOOL=ON" not in text)


class Allocator(harness.StackTestCase):
    SIDECAR_ARGS = ("--history-ttl", "1")

    def test_the_sidecar_says_which_allocator_serves_it(self):
        ready = [line for line in self.stack.log_tail("sidecar", 200).splitlines()
                 if "event=ready" in line]
        self.assertEqual(len(ready), 1, self.stack.log_tail("sidecar", 200))
        expected = ("allocator=jemalloc-" if build_links_jemalloc(self.stack.build_dir)
                    else "allocator=glibc")
        self.assertIn(expected, ready[0])

    def test_the_memory_of_expired_history_goes_back_to_the_kernel(self):
        if self.stack.sanitized_build():
            self.skipTest("ASan's quarantine keeps freed memory on purpose")
        pid = self.stack.processes["sidecar"].pid
        before = rss_kib(pid)
        with ControlConnection(self.stack.control_socket) as control:
            for n in range(MESSAGES):
                for room in range(ROOMS):
                    control.publish("heap-%d" % room, {"n": n, "pad": PAYLOAD})
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
