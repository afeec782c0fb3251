#pragma once
// What the server processes cost, read from /proc: CPU time (utime + stime of /proc/PID/stat,
// every thread included), the CPU time of the children they have waited for (cutime + cstime:
// the programs an upload runs), and proportional memory (Pss of /proc/PID/smaps_rollup), summed
// over the given processes (sidecar, app, nginx master and workers); and how often their threads
// went to sleep and were woken again (voluntary_ctxt_switches of /proc/PID/task/*/status).

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace rp::bench {

struct ProcSample {
    uint64_t cpu_us = 0;        // user + system, in microseconds (clock-tick resolution)
    uint64_t child_cpu_us = 0;  // the same of their exited and reaped children
    uint64_t pss_kb = 0;
    uint64_t wakeups = 0;  // voluntary context switches of every thread: each sleep ends in one
};

ProcSample sample_processes(const std::vector<pid_t>& pids);
// This process's own CPU time (getrusage), microseconds.
uint64_t self_cpu_us();

}  // namespace rp::bench
