#include "proc_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace rp::bench {
namespace {

uint64_t cpu_us_of(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::size_t paren = text.rfind(')');  // the command name may hold spaces
    if (paren == std::string::npos) return 0;
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    // Fields after the name start at 3 (state); utime is 14, stime 15.
    for (int index = 3; index <= 15 && (fields >> field); ++index) {
        if (index == 14) utime = std::stoull(field);
        if (index == 15) stime = std::stoull(field);
    }
    static const long ticks = ::sysconf(_SC_CLK_TCK);
    return (utime + stime) * 1000000ULL / static_cast<uint64_t>(ticks);
}

uint64_t pss_kb_of(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/smaps_rollup");
    std::string line;
    while (std::getline(file, line)) {
        if (line.rfind("Pss:", 0) == 0) return std::stoull(line.substr(4));
    }
    return 0;
}

}  // namespace

ProcSample sample_processes(const std::vector<pid_t>& pids) {
    ProcSample sample;
    for (pid_t pid : pids) {
        sample.cpu_us += cpu_us_of(pid);
        sample.pss_kb += pss_kb_of(pid);
    }
    return sample;
}

uint64_t self_cpu_us() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    auto us = [](const timeval& t) {
        return static_cast<uint64_t>(t.tv_sec) * 1000000ULL + static_cast<uint64_t>(t.tv_usec);
    };
    return us(usage.ru_utime) + us(usage.ru_stime);
}

}  // namespace rp::bench
