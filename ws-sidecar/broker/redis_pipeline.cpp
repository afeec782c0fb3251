#include "redis_pipeline.h"

#include "redis_scripts.h"

#include <optional>

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

struct Slot {
    RedisCommand command;
    std::optional<Result<ReplyPtr>> reply;
};

// How long WAIT gives the replicas to confirm a batch's writes.
constexpr const char* kReplicaWaitMs = "1000";

// Writes the batch (and, with min_replicas, a WAIT after it) and reads the replies. Returns false
// when the connection broke; `batch` then holds, in order, every command whose fate is not
// settled: unanswered, or answered but not confirmed by the replicas (a publish sent again is
// answered from its idempotency key). Commands Redis did not know the script of go to `again`.
bool send_and_read(RedisConnection& connection, const ScriptShas& shas,
                   std::deque<RedisCommand>& batch, std::deque<RedisCommand>& again,
                   int min_replicas) {
    std::vector<Slot> slots;
    slots.reserve(batch.size());
    for (RedisCommand& command : batch) slots.push_back({std::move(command), std::nullopt});
    batch.clear();
    bool ok = true;
    for (Slot& slot : slots) {
        if (slot.command.script != Script::none) {
            slot.command.argv[1] = shas.sha(slot.command.script);
        }
        ok = ok && connection.append(slot.command.argv);
    }
    if (ok && min_replicas > 0) {
        ok = static_cast<bool>(
            connection.append({"WAIT", std::to_string(min_replicas), kReplicaWaitMs}));
    }
    for (std::size_t i = 0; ok && i < slots.size(); ++i) {
        auto reply = connection.answer();
        if ((!reply && reply.error().code == "broker_io") || is_readonly(reply)) {
            if (is_readonly(reply)) connection.mark_broken();
            ok = false;
            break;
        }
        slots[i].reply = std::move(reply);
    }
    long long replicated = 0;
    if (ok && min_replicas > 0) {
        auto waited = connection.answer();
        if (!waited && waited.error().code == "broker_io") ok = false;
        if (waited && is_integer(waited->get())) replicated = integer_of(waited->get());
    }
    bool confirmed = min_replicas == 0 || (ok && replicated >= min_replicas);
    for (Slot& slot : slots) {
        bool write = slot.command.script == Script::publish;
        if (!slot.reply || (!ok && write && min_replicas > 0)) {
            batch.push_back(std::move(slot.command));
        } else if (is_noscript(*slot.reply)) {
            (ok ? again : batch).push_back(std::move(slot.command));
        } else if (write && !confirmed) {
            fail_command(slot.command, make_error("broker_io", "Redis did not copy it to " +
                                                                   std::to_string(min_replicas) +
                                                                   " replica(s) within 1 s"));
        } else {
            slot.command.done(std::move(*slot.reply));
        }
    }
    return ok;
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
                                      std::deque<RedisCommand> batch, int min_replicas) {
    // Twice at most: a server that forgets the scripts again at once is not asked a third time.
    for (int round = 0; round < 2 && !batch.empty(); ++round) {
        std::deque<RedisCommand> again;
        if (!send_and_read(connection, shas, batch, again, min_replicas)) return batch;
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
