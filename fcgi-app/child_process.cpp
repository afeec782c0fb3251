#include "child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "roompush/line_reader.h"
#include "roompush/unix_socket.h"

namespace rp::app {
namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

bool make_pipe(Pipe& pipe) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    pipe.read = UniqueFd(fds[0]);
    pipe.write = UniqueFd(fds[1]);
    return true;
}

// 0 means "no limit" (for example address space under AddressSanitizer, which reserves terabytes).
void set_limit(int resource, uint64_t value) {
    if (value == 0) return;
    rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
    ::setrlimit(resource, &limit);
}

// Between fork and exec only async-signal-safe calls: everything was prepared before fork.
[[noreturn]] void exec_child(char* const* argv, char* const* envp, const char* workdir,
                             const ChildLimits& limits, int out, int err, int report,
                             pid_t parent) {
    ::setpgid(0, 0);
    // If the app dies (SIGKILL, crash) the program goes with it: the next start reports the job
    // interrupted or runs it again, and two runs of one job must never overlap.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
        int code = errno;
        (void)!::write(report, &code, sizeof code);
        ::_exit(127);
    }
    if (::chdir(workdir) != 0) {
        int code = errno;
        (void)!::write(report, &code, sizeof code);
        ::_exit(127);
    }
    set_limit(RLIMIT_CPU, limits.max_cpu_seconds);
    set_limit(RLIMIT_AS, limits.max_address_space);
    set_limit(RLIMIT_FSIZE, limits.max_file_size);
    set_limit(RLIMIT_NOFILE, limits.max_open_files);
    rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    // Nothing of the app's (sockets, spool files, other jobs' pipes) reaches the program.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    // The app's own handlers must not run here (with vm shared, below, they would act on the
    // app's memory): every signal it handles is back to its default before any is unblocked.
    for (int handled : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) {
        ::signal(handled, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv, envp);
    int code = errno;
    (void)!::write(report, &code, sizeof code);
    ::_exit(127);
}

struct ExecArgs {
    char* const* argv;
    char* const* envp;
    const char* workdir;
    const ChildLimits* limits;
    int out, err, report;
    pid_t parent;
};

int exec_child_main(void* raw) {
    const auto* args = static_cast<const ExecArgs*>(raw);
    exec_child(args->argv, args->envp, args->workdir, *args->limits, args->out, args->err,
               args->report, args->parent);
}

// The child shares the app's memory until it calls execve (CLONE_VM | CLONE_VFORK, as
// posix_spawn does): a fork copied the app's page tables and then faulted on every page either
// side wrote, about a sixth of the app's CPU per job. exec_child makes only system calls. Under
// AddressSanitizer, whose bookkeeping does not expect a second task on a borrowed stack, a
// plain fork.
pid_t spawn_child(const ExecArgs& args) {
#if defined(__SANITIZE_ADDRESS__)
    pid_t pid = ::fork();
    if (pid == 0) exec_child_main(const_cast<ExecArgs*>(&args));
    return pid;
#else
    static constexpr std::size_t kStackBytes = 64 * 1024;
    std::vector<char> stack(kStackBytes);
    return ::clone(exec_child_main, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD,
                   const_cast<ExecArgs*>(&args));
#endif
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

class Supervisor {
public:
    Supervisor(pid_t pid, const ChildSpec& spec,
               const std::function<void(std::string_view)>& on_line, const std::atomic<bool>* stop,
               const std::atomic<bool>* cancel)
        : pid_(pid),
          spec_(spec),
          on_line_(on_line),
          stop_(stop),
          cancel_(cancel),
          stdout_lines_(spec.limits.max_stdout_bytes),
          deadline_(Clock::now() + std::chrono::milliseconds(spec.limits.timeout_ms)) {}

    ChildOutcome supervise(UniqueFd out, UniqueFd err);

private:
    void read_stdout(int fd, bool& open);
    void read_stderr(int fd, bool& open);
    void terminate(ChildOutcome::Kind why);
    void check_deadlines();

    pid_t pid_;
    const ChildSpec& spec_;
    const std::function<void(std::string_view)>& on_line_;
    const std::atomic<bool>* stop_;
    const std::atomic<bool>* cancel_;
    LineReader stdout_lines_;
    std::size_t stdout_bytes_ = 0;
    Clock::time_point deadline_;
    Clock::time_point kill_at_{};
    bool terminating_ = false;
    ChildOutcome outcome_;
    bool decided_ = false;  // outcome_.kind fixed by us (timeout, output, interrupt)
};

void Supervisor::terminate(ChildOutcome::Kind why) {
    if (terminating_) return;
    terminating_ = true;
    decided_ = true;
    outcome_.kind = why;
    ::kill(-pid_, SIGTERM);
    kill_at_ = Clock::now() + std::chrono::milliseconds(spec_.limits.kill_grace_ms);
}

void Supervisor::check_deadlines() {
    auto now = Clock::now();
    if (!terminating_ && now >= deadline_) terminate(ChildOutcome::Kind::timeout);
    if (!terminating_ && stop_ != nullptr && stop_->load())
        terminate(ChildOutcome::Kind::interrupted);
    if (!terminating_ && cancel_ != nullptr && cancel_->load())
        terminate(ChildOutcome::Kind::cancelled);
    if (terminating_ && now >= kill_at_) ::kill(-pid_, SIGKILL);
}

void Supervisor::read_stdout(int fd, bool& open) {
    char buffer[65536];
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (got <= 0) {
        open = false;
        return;
    }
    stdout_bytes_ += static_cast<std::size_t>(got);
    if (stdout_bytes_ > spec_.limits.max_stdout_bytes) {
        terminate(ChildOutcome::Kind::output_too_large);
        return;
    }
    if (terminating_) return;
    stdout_lines_.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
    while (auto item = stdout_lines_.next()) {
        if (item->kind == LineReader::Item::Kind::line) on_line_(item->text);
    }
}

void Supervisor::read_stderr(int fd, bool& open) {
    char buffer[16384];
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (got <= 0) {
        open = false;
        return;
    }
    std::size_t room = spec_.limits.max_stderr_bytes -
                       std::min(outcome_.stderr.size(), spec_.limits.max_stderr_bytes);
    std::size_t keep = std::min(room, static_cast<std::size_t>(got));
    outcome_.stderr.append(buffer, keep);
    if (keep < static_cast<std::size_t>(got)) outcome_.stderr_truncated = true;
}

ChildOutcome Supervisor::supervise(UniqueFd out, UniqueFd err) {
    bool out_open = true, err_open = true, exited = false;
    int status = 0;
    // Readable when the program exits: without it, a program whose pipes closed just before it
    // became reapable cost a whole poll timeout (50 ms) per job, the upload path's p99.
    UniqueFd exit_fd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    while (!exited || out_open || err_open) {
        pollfd fds[3] = {{out_open ? out.get() : -1, POLLIN, 0},
                         {err_open ? err.get() : -1, POLLIN, 0},
                         {exited ? -1 : exit_fd.get(), POLLIN, 0}};
        int ready = ::poll(fds, 3, 50);
        if (ready > 0) {
            if (fds[0].revents) read_stdout(out.get(), out_open);
            if (fds[1].revents) read_stderr(err.get(), err_open);
        }
        if (!exited && ::waitpid(pid_, &status, WNOHANG) == pid_) {
            exited = true;
            // A program that is gone takes its helpers with it; this also ends pipes they hold.
            ::kill(-pid_, SIGKILL);
        }
        check_deadlines();
    }
    ::kill(-pid_, SIGKILL);
    if (!terminating_) {
        if (auto last = stdout_lines_.take_unterminated()) on_line_(*last);
    }
    if (!decided_) {
        if (WIFEXITED(status)) {
            outcome_.kind = ChildOutcome::Kind::exited;
            outcome_.exit_code = WEXITSTATUS(status);
        } else {
            outcome_.kind = ChildOutcome::Kind::signaled;
            outcome_.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        }
    } else if (WIFSIGNALED(status)) {
        outcome_.signal = WTERMSIG(status);
    }
    return std::move(outcome_);
}

}  // namespace

const char* outcome_reason(ChildOutcome::Kind kind) {
    switch (kind) {
        case ChildOutcome::Kind::exited:
            return "exit";
        case ChildOutcome::Kind::signaled:
            return "signal";
        case ChildOutcome::Kind::timeout:
            return "timeout";
        case ChildOutcome::Kind::output_too_large:
            return "output_too_large";
        case ChildOutcome::Kind::spawn_failed:
            return "spawn";
        case ChildOutcome::Kind::interrupted:
            return "interrupted";
        case ChildOutcome::Kind::cancelled:
            return "cancelled";
    }
    return "exit";
}

ChildOutcome run_child(const ChildSpec& spec,
                       const std::function<void(std::string_view line)>& on_stdout_line,
                       const std::atomic<bool>* stop, const std::atomic<bool>* cancel) {
    ChildOutcome failed;
    failed.kind = ChildOutcome::Kind::spawn_failed;
    if (spec.argv.empty()) {
        failed.error = "no program to run";
        return failed;
    }
    Pipe out, err, report;
    if (!make_pipe(out) || !make_pipe(err) || !make_pipe(report)) {
        failed.error = std::string("pipe: ") + std::strerror(errno);
        return failed;
    }
    std::vector<char*> argv = c_strings(spec.argv);
    std::vector<char*> envp = c_strings(spec.env);
    ExecArgs args{argv.data(),     envp.data(),     spec.workdir.c_str(), &spec.limits,
                  out.write.get(), err.write.get(), report.write.get(),   ::getpid()};
    pid_t pid = spawn_child(args);
    if (pid < 0) {
        failed.error = std::string("clone: ") + std::strerror(errno);
        return failed;
    }
    ::setpgid(pid, pid);  // also here, so a kill(-pid) right away cannot miss
    out.write.reset();
    err.write.reset();
    report.write.reset();
    int exec_errno = 0;
    ssize_t got;
    do {
        got = ::read(report.read.get(), &exec_errno, sizeof exec_errno);
    } while (got < 0 && errno == EINTR);
    if (got == static_cast<ssize_t>(sizeof exec_errno)) {
        ::waitpid(pid, nullptr, 0);
        failed.error = "cannot start " + spec.argv[0] + ": " + std::strerror(exec_errno);
        return failed;
    }
    Supervisor supervisor(pid, spec, on_stdout_line, stop, cancel);
    return supervisor.supervise(std::move(out.read), std::move(err.read));
}

}  // namespace rp::app
