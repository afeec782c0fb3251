#include "redis_pipeline.h"

#include "redis_scripts.h"

namespace rp::sidecar {
namespace {

bool is_noscript(const Result<ReplyPtr>& reply) {
    return !reply && reply.error().code == "broker_error" &&
           reply.error().message.starts_with("NOSCRIPT");
}

// The server was demoted (a Sentinel failover, or a manual one): nothing ran; the commands go
// to the master on the next connection.
bool is_readonly(const Result<ReplyPtr>& reply) {
    return !reply && reply.error().code == "broker_error" &&
           reply.error().message.starts_with("READONLY");
}

Result<std::string> load_script(RedisConnection& connection, const char* text) {
    auto reply = connection.command({"SCRIPT", "LOAD", text});
    if (!reply) return reply.error();
    if (!is_string(reply->get())) return make_error("broker_bad_reply", "SCRIPT LOAD: not a SHA1");
    return string_of(reply->get());
}

// Writes the batch and reads its replies; commands Redis did not know the script of are kept
// in `again`, in order. Returns false when the connection broke (`batch` then holds the
// commands from the first one whose answer did not come).
bool send_and_read(RedisConnection& connection, const ScriptShas& shas,
                   std::deque<RedisCommand>& batch, std::deque<RedisCommand>& again) {
    for (RedisCommand& command : batch) {
        if (command.script != Script::none) command.argv[1] = shas.sha(command.script);
        if (!connection.append(command.argv)) return false;
    }
    while (!batch.empty()) {
        auto reply = connection.answer();
        if (!reply && reply.error().code == "broker_io") return false;
        if (is_readonly(reply)) {
            connection.mark_broken();
            return false;
        }
        RedisCommand command = std::move(batch.front());
        batch.pop_front();
        if (is_noscript(reply)) {
            again.push_back(std::move(command));
        } else {
            command.done(std::move(reply));
        }
    }
    return true;
}

}  // namespace

Status ScriptShas::load(RedisConnection& connection) {
    auto publish = load_script(connection, scripts::kPublish);
    if (!publish) return publish.error();
    auto fetch = load_script(connection, scripts::kFetch);
    if (!fetch) return fetch.error();
    publish_ = *publish;
    fetch_ = *fetch;
    return ok_status();
}

const std::string& ScriptShas::sha(Script script) const {
    return script == Script::publish ? publish_ : fetch_;
}

void fail_command(RedisCommand& command, const Error& error) {
    if (command.done) command.done(error);
    command.done = nullptr;
}

std::deque<RedisCommand> run_pipeline(RedisConnection& connection, ScriptShas& shas,
                                      std::deque<RedisCommand> batch) {
    // Twice at most: a server that forgets the scripts again at once is not asked a third time.
    for (int round = 0; round < 2 && !batch.empty(); ++round) {
        std::deque<RedisCommand> again;
        if (!send_and_read(connection, shas, batch, again)) {
            for (auto it = again.rbegin(); it != again.rend(); ++it) {
                batch.push_front(std::move(*it));
            }
            return batch;
        }
        batch = std::move(again);
        if (!batch.empty()) {
            if (auto loaded = shas.load(connection); !loaded) {
                if (connection.broken()) return batch;
                for (RedisCommand& command : batch) fail_command(command, loaded.error());
                return {};
            }
        }
    }
    for (RedisCommand& command : batch) {
        fail_command(command, make_error("broker_error",
                                         "NOSCRIPT twice: Redis keeps losing the "
                                         "broker's scripts"));
    }
    return {};
}

}  // namespace rp::sidecar
