#include "app_options.h"

#include <CLI/CLI.hpp>
#include <string>

#include <unistd.h>

#include "roompush/broker_url.h"
#include "roompush/room_token.h"
#include "roompush/runtime_paths.h"
#include "roompush/secret_file.h"
#include "roompush/unix_socket.h"

#ifndef ROOMPUSH_VERSION
#define ROOMPUSH_VERSION "0"
#endif

namespace rp::app {
namespace {

constexpr const char* kDefaultExec =
    "/usr/lib/roompush/cad-inspect --input {input} --out {workdir}";

// What the flags give as text or in other units, turned into the config after parsing.
struct TextOptions {
    std::string exec = kDefaultExec;
    std::string socket_mode = "0660";
    std::string socket_group;
    std::string secret_file;
    unsigned timeout_s = 300;
    std::string job_store = "file";
    std::string job_store_password_file;
};

// The exec template is checked while parsing, so a bad one is a config error like any other.
CLI::Validator exec_validator() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            auto parsed = ArgvTemplate::parse(value);
            return parsed ? std::string() : parsed.error().message;
        },
        "TEMPLATE");
}

// Every option, its default and help, in groups: the one table behind --help, --config,
// --print-config and etc/roompush-fcgi.conf (the order here is the order there).
void add_socket_and_job_options(CLI::App& app, AppConfig& config, TextOptions& text) {
    app.add_option("--listen", config.listen,
                   "FastCGI Unix socket (ignored under socket activation)")
        ->capture_default_str();
    app.add_option("--socket-mode", text.socket_mode, "File mode of the FastCGI socket (octal)")
        ->capture_default_str()
        ->check(file_mode_validator());
    app.add_option("--socket-group", text.socket_group,
                   "Group given the FastCGI socket, e.g. www-data for nginx (none: the app's own)")
        ->check(group_validator());
    app.add_option("--spool", config.spool_dir, "Directory for uploads and job state")
        ->capture_default_str();
    app.add_option("--control-socket", config.control_socket, "The sidecar's control socket")
        ->capture_default_str();
    app.add_option("--exec", text.exec,
                   "Program to run per job: absolute path and arguments; "
                   "placeholders {input} {workdir} {job} {room} {item}")
        ->capture_default_str()
        ->check(exec_validator());
    app.add_option("--threads", config.threads, "FastCGI accept threads")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{256}));
    app.add_option("--workers", config.workers, "Programs run at once")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{256}));
    app.add_option("--queue", config.queue, "Jobs that may wait for a worker before 503")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{100000}));
    app.add_option("--max-upload", config.max_upload, "Largest request body in bytes (413)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1024}, size_t{1} << 40));
    app.add_option("--max-field", config.max_field, "Largest text form field in bytes (413)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{16}, size_t{1} << 20));
}

void add_program_limits(CLI::App& app, AppConfig& config, TextOptions& text) {
    app.add_option("--timeout", text.timeout_s, "Seconds a program may run")
        ->capture_default_str()
        ->check(CLI::Range(1u, 86400u));
    app.add_option("--kill-grace", config.limits.kill_grace_ms,
                   "Milliseconds between SIGTERM and SIGKILL when a program must stop")
        ->capture_default_str()
        ->check(CLI::Range(0u, 600000u));
    app.add_option("--max-stdout", config.limits.max_stdout_bytes,
                   "Bytes a program may write to stdout before it is stopped")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1024}, size_t{1} << 32));
    app.add_option("--max-stderr", config.limits.max_stderr_bytes, "Bytes of stderr kept per job")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1} << 30));
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
}

void add_lifecycle_options(CLI::App& app, AppConfig& config, TextOptions& text) {
    app.add_option("--outbox-limit", config.outbox_limit,
                   "Pushes waiting for the sidecar before the outbox counts as full "
                   "(uploads then get 503)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{10000000}));
    app.add_option("--max-wait", config.max_wait_s,
                   "Longest ?wait=SECONDS honoured, in seconds (keep it below nginx's "
                   "fastcgi_read_timeout)")
        ->capture_default_str()
        ->check(CLI::Range(0u, 3600u));
    app.add_option("--keep", config.keep_s,
                   "Seconds a finished job and its files are kept (0: forever)")
        ->capture_default_str();
    app.add_option("--stop-grace", config.stop_grace_ms,
                   "On SIGTERM, milliseconds running programs may still finish before they "
                   "are interrupted")
        ->capture_default_str()
        ->check(CLI::Range(0u, 3600000u));
    app.add_flag("--rerun-interrupted", config.rerun_interrupted,
                 "Run a job again when a stop or crash interrupted it, instead of reporting "
                 "job.failed with reason interrupted")
        ->check(boolean_validator());
    app.add_option("--retries", config.retries,
                   "Times a job runs again after its program exited 75 (EX_TEMPFAIL: a temporary "
                   "failure); then it fails")
        ->capture_default_str()
        ->check(CLI::Range(0u, 20u));
    app.add_option("--retry-backoff", config.retry_backoff_ms,
                   "Milliseconds before the first retry, doubled for each next (at most 10 "
                   "minutes), with jitter of +-50 %")
        ->capture_default_str()
        ->check(CLI::Range(10u, 600000u));
    app.add_option("--room-jobs", config.room_limits.max_room_jobs,
                   "Jobs one room may have queued or running; more uploads get 429 room_busy "
                   "(0: no cap)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1} << 20));
    app.add_option("--room-running", config.room_limits.max_room_running,
                   "Jobs of one room that run at once; the room's others wait while other rooms' "
                   "run (0: no cap)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1} << 20));
    app.add_option(
           "--auth-secret-file", text.secret_file,
           "Secret for the room token in each 202 (the sidecar's newest key; none: no token). "
           "Read again on reload")
        ->check(CLI::ExistingFile);
    app.add_option("--token-ttl", config.token_ttl_s, "Seconds a room token in a 202 stays valid")
        ->capture_default_str()
        ->check(CLI::Range(60u, 30u * 86400u));
}

void add_node_options(CLI::App& app, AppConfig& config, TextOptions& text) {
    app.add_option("--job-store", text.job_store,
                   "file: the jobs are this node's alone; or Redis, shared by several app nodes "
                   "(redis://HOST:PORT[/DB], unix:/PATH[?db=DB] or "
                   "sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB]; several, separated by "
                   "spaces, are shards that share the jobs out by id)")
        ->capture_default_str();
    app.add_option("--job-store-password-file", text.job_store_password_file,
                   "File holding the job store's Redis password (AUTH); none: no AUTH");
    app.add_option("--job-store-user", config.shared.credentials.user,
                   "Redis ACL user for AUTH user password (needs --job-store-password-file)");
    app.add_option("--node-id", config.shared.node,
                   "This app node's name among the nodes of a Redis job store, the same at every "
                   "start (default: the host name)");
    app.add_option("--lease", config.shared.lease_ms,
                   "Milliseconds a running job's lease lasts: a node that stops renewing it has "
                   "its running jobs ended (with --shared-spool: run again) by another node "
                   "within two to three times this")
        ->capture_default_str()
        ->check(CLI::Range(1000u, 600000u));
    app.add_flag("--shared-spool", config.shared_spool,
                 "The spool is one directory every app node sees at the same path (needs a Redis "
                 "--job-store): queued jobs go to whichever node has a free worker, and a dead "
                 "node's jobs run again on another")
        ->check(boolean_validator());
}

void add_options(CLI::App& app, AppConfig& config, TextOptions& text) {
    add_socket_and_job_options(app, config, text);
    add_program_limits(app, config, text);
    add_lifecycle_options(app, config, text);
    add_node_options(app, config, text);
}

// The parser and what it fills: one per parse, so that a reload never touches the running
// configuration until it is known to be good.
struct Parser {
    CLI::App app{"roompush-fcgi: FastCGI app for uploads and jobs", "roompush-fcgi"};
    AppConfig config;
    TextOptions text;
    CommonOptions common;

    Parser() {
        config.listen = default_fcgi_socket();
        config.control_socket = default_control_socket();
        config.spool_dir = "/var/lib/roompush/spool";
        config.shared.lease_ms = 10000;
        add_options(app, config, text);
        add_common_options(app, common, ROOMPUSH_VERSION);
    }
};

Error bad_config(std::string message) { return make_error("bad_config", std::move(message)); }

std::string host_name() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "app";
    return host;
}

// The broker's URL parser speaks of --broker and memory; here they are --job-store and file.
std::string as_job_store_error(std::string message) {
    for (auto [from, to] : {std::pair<std::string, std::string>{"--broker", "--job-store"},
                            {"expected memory,", "expected file,"}}) {
        for (std::size_t at = message.find(from); at != std::string::npos;
             at = message.find(from, at + to.size())) {
            message.replace(at, from.size(), to);
        }
    }
    return message;
}

// The node's own files live in SPOOL/nodes/NODE (spool.h): its name must be one directory.
bool is_directory_name(const std::string& name) {
    return !name.empty() && name.front() != '.' &&
           name.find_first_not_of(
               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               "0123456789._-") == std::string::npos;
}

Status check_shared_spool(AppConfig& config) {
    config.shared.shared_spool = config.shared_spool;
    if (!config.shared_spool) return ok_status();
    if (!is_directory_name(config.shared.node)) {
        return bad_config(
            "--node-id: with --shared-spool, letters, digits, '.', '_' and '-' "
            "only, not starting with '.' (it names the node's directory)");
    }
    if (config.room_limits.max_room_jobs > 0 || config.room_limits.max_room_running > 0) {
        return bad_config(
            "--room-jobs and --room-running are per node: they cannot be kept "
            "with --shared-spool, where any node runs any job");
    }
    return ok_status();
}

// --job-store: "file", or Redis as the broker takes it (one, Sentinel, shards) with its password.
Status load_job_store(const TextOptions& text, AppConfig& config) {
    SharedJobsConfig& shared = config.shared;
    shared.keep_s = config.keep_s;
    if (shared.node.empty()) shared.node = host_name();
    if (text.job_store == "file") {
        if (config.shared_spool) return bad_config("--shared-spool needs a Redis --job-store");
        if (!text.job_store_password_file.empty() || !shared.credentials.user.empty()) {
            return bad_config(
                "--job-store-password-file and --job-store-user need a Redis "
                "--job-store");
        }
        return ok_status();
    }
    auto store = parse_broker_spec(text.job_store);
    if (!store) return bad_config(as_job_store_error(store.error().message));
    if (!store->redis()) return bad_config("--job-store: file, or Redis URLs");
    config.shared_jobs = true;
    shared.store = std::move(*store);
    if (shared.node.size() > 128 || shared.node.find_first_of(" \t\r\n") != std::string::npos) {
        return bad_config("--node-id: 1 to 128 characters, no spaces");
    }
    if (auto checked = check_shared_spool(config); !checked) return checked;
    if (text.job_store_password_file.empty()) {
        if (!shared.credentials.user.empty()) {
            return bad_config("--job-store-user needs --job-store-password-file");
        }
        return ok_status();
    }
    auto password = read_secret_file(text.job_store_password_file,
                                     {.min_bytes = 1, .max_bytes = 512, .one_line = true});
    if (!password) return bad_config("--job-store-password-file: " + password.error().message);
    shared.credentials.password = std::move(*password);
    return ok_status();
}

// The parsed text into the configuration, reading the files it names.
Result<LoadedAppConfig> finish(Parser& parser) {
    AppConfig& config = parser.config;
    const TextOptions& text = parser.text;
    for (const std::string* path : {&config.listen, &config.control_socket}) {
        if (auto valid = check_socket_path(*path); !valid) return bad_config(valid.error().message);
    }
    if (!text.secret_file.empty()) {
        auto secret = load_secret_file(text.secret_file);
        if (!secret) return bad_config("--auth-secret-file: " + secret.error().message);
        config.auth_secret = std::move(*secret);
    }
    config.socket_access.mode = *parse_file_mode(text.socket_mode);  // checked by its validator
    if (!text.socket_group.empty()) config.socket_access.group = *lookup_group(text.socket_group);
    config.exec = std::move(*ArgvTemplate::parse(text.exec));
    config.limits.timeout_ms = text.timeout_s * 1000;
    if (auto loaded = load_job_store(text, config); !loaded) return loaded.error();
    LoadedAppConfig loaded{std::move(config), LogLevel::info, option_values(parser.app)};
    parse_log_level(parser.common.log_level, loaded.log_level);  // checked by IsMember
    return loaded;
}

}  // namespace

std::variant<int, LoadedAppConfig> load_config_at_start(int argc, char** argv) {
    Parser parser;
    return load_at_start<LoadedAppConfig>(parser.app, parser.common, argc, argv,
                                          [&parser] { return finish(parser); });
}

Result<LoadedAppConfig> load_config_again(int argc, char** argv) {
    Parser parser;
    return load_again<LoadedAppConfig>(parser.app, argc, argv,
                                       [&parser] { return finish(parser); });
}

}  // namespace rp::app
