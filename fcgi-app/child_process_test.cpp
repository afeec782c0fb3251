#include "child_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace rp::app {
namespace {

struct ShellRun {
    ChildOutcome outcome;
    std::vector<std::string> lines;
};

ShellRun run_shell(const std::string& script, ChildLimits limits = {}) {
    ChildSpec spec;
    spec.argv = {"/bin/sh", "-c", script};
    spec.workdir = std::filesystem::temp_directory_path();
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.limits = limits;
    ShellRun run;
    run.outcome = run_child(
        spec, [&](std::string_view line) { run.lines.emplace_back(line); }, nullptr);
    return run;
}

TEST(ChildProcess, ExitCodeAndStdoutLines) {
    ShellRun run = run_shell("echo one; printf 'two\\nthree'; echo oops >&2; exit 3");
    EXPECT_EQ(run.outcome.kind, ChildOutcome::Kind::exited);
    EXPECT_EQ(run.outcome.exit_code, 3);
    EXPECT_EQ(run.lines, (std::vector<std::string>{"one", "two", "three"}));
    EXPECT_EQ(run.outcome.stderr, "oops\n");
}

TEST(ChildProcess, KilledBySignal) {
    ShellRun run = run_shell("kill -SEGV $$");
    EXPECT_EQ(run.outcome.kind, ChildOutcome::Kind::signaled);
    EXPECT_EQ(run.outcome.signal, SIGSEGV);
}

TEST(ChildProcess, TimeoutKillsTheWholeGroupEvenWhenSigtermIsIgnored) {
    ChildLimits limits;
    limits.timeout_ms = 300;
    limits.kill_grace_ms = 200;
    std::string marker =
        std::filesystem::temp_directory_path() / ("rp-child-" + std::to_string(getpid()));
    // A helper in the background that ignores SIGTERM and holds stdout open.
    ShellRun run = run_shell(
        "trap '' TERM; (trap '' TERM; sleep 30; touch " + marker + ") & sleep 30", limits);
    EXPECT_EQ(run.outcome.kind, ChildOutcome::Kind::timeout);
    sleep(1);
    EXPECT_FALSE(std::filesystem::exists(marker)) << "a process of the group survived";
}

TEST(ChildProcess, StdoutOverTheCapStopsTheProgram) {
    ChildLimits limits;
    limits.max_stdout_bytes = 10000;
    ShellRun run = run_shell("yes 0123456789", limits);
    EXPECT_EQ(run.outcome.kind, ChildOutcome::Kind::output_too_large);
}

TEST(ChildProcess, StderrIsCappedNotFatal) {
    ChildLimits limits;
    limits.max_stderr_bytes = 100;
    ShellRun run = run_shell("head -c 5000 /dev/zero | tr '\\0' e >&2; echo done", limits);
    EXPECT_EQ(run.outcome.kind, ChildOutcome::Kind::exited);
    EXPECT_EQ(run.outcome.stderr.size(), 100u);
    EXPECT_TRUE(run.outcome.stderr_truncated);
    EXPECT_EQ(run.lines, (std::vector<std::string>{"done"}));
}

TEST(ChildProcess, InheritsNoDescriptorsAndOnlyTheGivenEnvironment) {
    int leaked = ::dup(1);
    ShellRun run = run_shell("ls /proc/self/fd | wc -l; env | wc -l");
    ::close(leaked);
    ASSERT_EQ(run.lines.size(), 2u);
    // 0, 1, 2 and the directory ls itself opens.
    EXPECT_EQ(run.lines[0], "4");
    EXPECT_LE(std::stoi(run.lines[1]), 3) << "PATH (and what sh adds: PWD, SHLVL)";
}

TEST(ChildProcess, MissingProgramIsASpawnFailure) {
    ChildSpec spec;
    spec.argv = {"/nonexistent/program"};
    spec.workdir = "/";
    ChildOutcome outcome = run_child(
        spec, [](std::string_view) {}, nullptr);
    EXPECT_EQ(outcome.kind, ChildOutcome::Kind::spawn_failed);
    EXPECT_NE(outcome.error.find("/nonexistent/program"), std::string::npos);
    EXPECT_STREQ(outcome_reason(outcome.kind), "spawn");
}

TEST(ChildProcess, StopFlagInterrupts) {
    std::atomic<bool> stop{true};
    ChildSpec spec;
    spec.argv = {"/bin/sleep", "30"};
    spec.workdir = "/";
    ChildOutcome outcome = run_child(
        spec, [](std::string_view) {}, &stop);
    EXPECT_EQ(outcome.kind, ChildOutcome::Kind::interrupted);
}

}  // namespace
}  // namespace rp::app
