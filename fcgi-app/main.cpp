// roompush-fcgi: the FastCGI app that takes uploads, runs the program and pushes results.
#include <CLI/CLI.hpp>

#include "fcgi_app.h"
#include "roompush/log.h"
#include "roompush/runtime_paths.h"

namespace {

constexpr const char* kDefaultExec = "/usr/lib/roompush/cad-inspect --input {input} --out {workdir}";

}  // namespace

int main(int argc, char** argv) {
    rp::app::AppConfig config;
    config.listen = rp::default_fcgi_socket();
    config.control_socket = rp::default_control_socket();
    config.spool_dir = "/var/lib/roompush/spool";
    std::string exec = kDefaultExec;
    std::string socket_mode = "0660";
    std::string log_level = "info";
    unsigned timeout_s = 300;

    CLI::App app{"roompush-fcgi: FastCGI app for uploads and jobs"};
    app.add_option("--listen", config.listen, "FastCGI Unix socket (ignored under socket activation)")
        ->capture_default_str();
    app.add_option("--socket-mode", socket_mode, "File mode of the FastCGI socket (octal)")
        ->capture_default_str();
    app.add_option("--spool", config.spool_dir, "Directory for uploads and job state")
        ->capture_default_str();
    app.add_option("--control-socket", config.control_socket, "The sidecar's control socket")
        ->capture_default_str();
    app.add_option("--exec", exec, "Program to run per job: absolute path and arguments; "
                                   "placeholders {input} {workdir} {job} {room} {item}")
        ->capture_default_str();
    app.add_option("--threads", config.threads, "FastCGI accept threads")
        ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{256}));
    app.add_option("--workers", config.workers, "Programs run at once")
        ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{256}));
    app.add_option("--queue", config.queue, "Jobs that may wait for a worker before 503")
        ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{100000}));
    app.add_option("--max-upload", config.max_upload, "Largest request body in bytes (413)")
        ->capture_default_str()->check(CLI::Range(size_t{1024}, size_t{1} << 40));
    app.add_option("--max-field", config.max_field, "Largest text form field in bytes (413)")
        ->capture_default_str()->check(CLI::Range(size_t{16}, size_t{1} << 20));
    app.add_option("--timeout", timeout_s, "Seconds a program may run")
        ->capture_default_str()->check(CLI::Range(1u, 86400u));
    app.add_option("--kill-grace", config.limits.kill_grace_ms,
                   "Milliseconds between SIGTERM and SIGKILL when a program must stop")
        ->capture_default_str()->check(CLI::Range(0u, 600000u));
    app.add_option("--max-stdout", config.limits.max_stdout_bytes,
                   "Bytes a program may write to stdout before it is stopped")
        ->capture_default_str()->check(CLI::Range(size_t{1024}, size_t{1} << 32));
    app.add_option("--max-stderr", config.limits.max_stderr_bytes, "Bytes of stderr kept per job")
        ->capture_default_str()->check(CLI::Range(size_t{0}, size_t{1} << 30));
    app.add_option("--max-cpu", config.limits.max_cpu_seconds, "CPU seconds per program (0: none)")
        ->capture_default_str();
    app.add_option("--max-address-space", config.limits.max_address_space,
                   "Bytes of address space per program (0: none)")
        ->capture_default_str();
    app.add_option("--max-file-size", config.limits.max_file_size,
                   "Largest file a program may write, in bytes (0: none)")
        ->capture_default_str();
    app.add_option("--max-open-files", config.limits.max_open_files,
                   "Open files per program (0: none)")
        ->capture_default_str();
    app.add_option("--outbox-limit", config.outbox_limit,
                   "Pushes waiting for the sidecar before the outbox counts as full "
                   "(uploads then get 503)")
        ->capture_default_str()->check(CLI::Range(size_t{1}, size_t{10000000}));
    app.add_option("--max-wait", config.max_wait_s,
                   "Longest ?wait=SECONDS honoured, in seconds (keep it below nginx's "
                   "fastcgi_read_timeout)")
        ->capture_default_str()->check(CLI::Range(0u, 3600u));
    app.add_option("--keep", config.keep_s,
                   "Seconds a finished job and its files are kept (0: forever)")
        ->capture_default_str();
    app.add_option("--stop-grace", config.stop_grace_ms,
                   "On SIGTERM, milliseconds running programs may still finish before they "
                   "are interrupted")
        ->capture_default_str()->check(CLI::Range(0u, 3600000u));
    app.add_flag("--rerun-interrupted", config.rerun_interrupted,
                 "Run a job again when a stop or crash interrupted it, instead of reporting "
                 "job.failed with reason interrupted");
    app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    rp::set_log_program("roompush-fcgi");
    rp::LogLevel level;
    if (!rp::parse_log_level(log_level, level)) {
        std::fprintf(stderr, "--log-level: '%s' is not one of debug, info, warn, error\n", log_level.c_str());
        return 2;
    }
    rp::set_log_level(level);
    auto mode = rp::parse_file_mode(socket_mode);
    if (!mode) {
        std::fprintf(stderr, "--socket-mode: '%s' is not an octal file mode such as 0660\n", socket_mode.c_str());
        return 2;
    }
    config.socket_mode = *mode;
    auto parsed_exec = rp::app::ArgvTemplate::parse(exec);
    if (!parsed_exec) {
        std::fprintf(stderr, "--exec: %s\n", parsed_exec.error().message.c_str());
        return 2;
    }
    config.exec = std::move(*parsed_exec);
    config.limits.timeout_ms = timeout_s * 1000;
    return rp::app::run(config);
}
