#include "proc_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace rp::bench {
namespace {

// {own, reaped children's} CPU time of `pid`, microseconds.
std::pair<uint64_t, uint64_t> cpu_us_of(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::size_t paren = text.rfind(')');  // the command name may hold spaces
    if (paren == std::string::npos) return {0, 0};
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    uint64_t ticks[4] = {};  // utime, stime, cutime, cstime
    // Fields after the name start at 3 (state); utime is 14, stime 15, cutime 16, cstime 17.
    for (int index = 3; index <= 17 && (fields >> field); ++index) {
        if (index >= 14) ticks[index - 14] = std::stoull(field);
    }
    static const uint64_t per_second = static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
    return {(ticks[0] + ticks[1]) * 1000000ULL / per_second,
            (ticks[2] + ticks[3]) * 1000000ULL / per_second};
}

uint64_t pss_kb_of(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/smaps_rollup");
    std::string line;
    while (std::getline(file, line)) {
        if (line.rfind("Pss:", 0) == 0) return std::stoull(line.substr(4));
    }
    return 0;
}

uint64_t wakeups_of(pid_t pid) {
    uint64_t total = 0;
    std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    DIR* directory = ::opendir(tasks.c_str());
    if (directory == nullptr) return 0;
    while (dirent* entry = ::readdir(directory)) {
        if (entry->d_name[0] == '.') continue;
        std::ifstream file(tasks + "/" + entry->d_name + "/status");
        std::string line;
        while (std::getline(file, line)) {
            if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
                total += std::stoull(line.substr(24));
        }
    }
    ::closedir(directory);
    return total;
}

}  // namespace

ProcSample sample_processes(const std::vector<pid_t>& pids) {
    ProcSample sample;
    for (pid_t pid : pids) {
        auto [own, children] = cpu_us_of(pid);
        sample.cpu_us += own;
        sample.child_cpu_us += children;
        sample.pss_kb += pss_kb_of(pid);
        sample.wakeups += wakeups_of(pid);
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
