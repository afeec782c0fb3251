#include "redis_pipeline.h"

#include "publish_marks.h"
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

// Consecutive publishes go as one call of the publish script, at most this many.
constexpr std::size_t kMaxGroup = 128;
using namespace publish_args;

// The slots [first, first + count) that are one Redis call: a run of publishes, or one command.
struct Call {
    std::size_t first;
    std::size_t count;
};

std::vector<Call> calls_of(const std::vector<Slot>& slots) {
    std::vector<Call> calls;
    for (std::size_t i = 0; i < slots.size(); ++i) {
        bool joins = !calls.empty() && slots[i].command.script == Script::publish &&
                     slots[calls.back().first].command.script == Script::publish &&
                     calls.back().count < kMaxGroup;
        if (joins) {
            ++calls.back().count;
        } else {
            calls.push_back({i, 1});
        }
    }
    return calls;
}

// One EVALSHA of the publish script for the publishes of `call`: views of their arguments, valid
// while `slots`, `sha` and `counts` are.
std::vector<std::string_view> grouped_publish(const std::vector<Slot>& slots, Call call,
                                              const std::string& sha,
                                              std::pair<std::string, std::string>& counts) {
    const std::vector<std::string>& first = slots[call.first].command.argv;
    counts = {std::to_string(3 * call.count), std::to_string(call.count)};
    std::vector<std::string_view> argv{"EVALSHA", sha, counts.first};
    argv.reserve(3 + call.count * (3 + kOwnCount) + 3);
    for (std::size_t k = 0; k < call.count; ++k) {
        const std::vector<std::string>& own = slots[call.first + k].command.argv;
        argv.insert(argv.end(), own.begin() + kKeysAt, own.begin() + kKeysAt + 3);
    }
    argv.push_back(counts.second);
    argv.push_back(first[kCommonAt]);
    argv.push_back(first[kCommonAt + 1]);
    for (std::size_t k = 0; k < call.count; ++k) {
        const std::vector<std::string>& own = slots[call.first + k].command.argv;
        argv.insert(argv.end(), own.begin() + kOwnAt, own.begin() + kOwnAt + kOwnCount);
    }
    return argv;
}

// Written to a connection, a publish may have run: if it is sent again, the script must look
// its node-made key up (the flag 'n' said it need not).
void sent_once(std::vector<Slot>& slots, Call call) {
    for (std::size_t k = 0; k < call.count; ++k) {
        std::string& flags = slots[call.first + k].command.argv[kFlagsAt];
        if (is_first_send(flags)) flags.erase(0, 1);
    }
}

// A publish call's reply, one per publish: its element of the array, an error element as the
// error it is; an error for the whole call (NOSCRIPT, OOM, …) is every publish's.
void hand_out(std::vector<Slot>& slots, Call call, Result<ReplyPtr> reply) {
    bool is_script = slots[call.first].command.script == Script::publish;
    if (!is_script || !reply) {
        for (std::size_t k = 0; k < call.count; ++k) {
            slots[call.first + k].reply =
                reply ? Result<ReplyPtr>(std::move(*reply)) : Result<ReplyPtr>(reply.error());
        }
        return;
    }
    bool shaped = size_of(reply->get()) == call.count;
    for (std::size_t k = 0; k < call.count; ++k) {
        slots[call.first + k].reply =
            shaped ? take_element(reply->get(), k)
                   : Result<ReplyPtr>(make_error("broker_bad_reply",
                                                 "Redis answered a publish with something else"));
    }
}

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
    std::vector<Call> calls = calls_of(slots);
    bool ok = true;
    for (const Call& call : calls) {
        RedisCommand& command = slots[call.first].command;
        if (command.script == Script::publish) {
            std::pair<std::string, std::string> counts;
            ok = ok && connection.append_views(
                           grouped_publish(slots, call, shas.sha(Script::publish), counts));
            sent_once(slots, call);
            continue;
        }
        if (command.script != Script::none) command.argv[1] = shas.sha(command.script);
        ok = ok && connection.append(command.argv);
    }
    if (ok && min_replicas > 0) {
        ok = static_cast<bool>(
            connection.append({"WAIT", std::to_string(min_replicas), kReplicaWaitMs}));
    }
    for (std::size_t i = 0; ok && i < calls.size(); ++i) {
        auto reply = connection.answer();
        if ((!reply && reply.error().code == "broker_io") || is_readonly(reply)) {
            if (is_readonly(reply)) connection.mark_broken();
            ok = false;
            break;
        }
        hand_out(slots, calls[i], std::move(reply));
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
