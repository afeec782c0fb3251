#include "control_dispatch.h"

#include "cluster_view.h"

#include <thread>

#include "roompush/log.h"
#include "roompush/wall_clock.h"

namespace rp::sidecar {
namespace {

ControlResponse unavailable() {
    return ControlResponse::failure(
        make_error("unavailable", "the sidecar's event loop did not answer in time"));
}

ControlResponse publish_response(const std::string& room, const std::string& event,
                                 const Result<PublishAck>& ack) {
    if (!ack) {
        log_warn("publish_failed")
            .kv("room", room)
            .kv("code", ack.error().code)
            .kv("error", ack.error().message);
        return ControlResponse::failure(ack.error());
    }
    log_debug("publish")
        .kv("room", room)
        .kv("event", event)
        .kv("seq", ack->seq)
        .kv("delivered", ack->delivered)
        .kv("duplicate", ack->duplicate);
    return ControlResponse::success(encode_publish_response(*ack));
}

}  // namespace

Route route_of(const Result<ControlRequest>& request, bool shared_broker) {
    if (!request) return Route::error;
    if (request->op == ControlOp::tail) return Route::tail;
    if (request->op == ControlOp::reload || request->cluster) return Route::off_loop;
    bool in_redis = request->op == ControlOp::publish || request->op == ControlOp::history;
    return in_redis && shared_broker ? Route::off_loop : Route::loop;
}

ControlDispatch::ControlDispatch(Parts parts)
    : parts_(std::move(parts)),
      context_{parts_.registry, parts_.metrics, parts_.started_ms, parts_.presence} {}

ControlAnswers ControlDispatch::answer(std::vector<Result<ControlRequest>> requests,
                                       AnswerWriter* writer) {
    ControlAnswers out;
    out.responses.resize(requests.size());
    LoopRun run;
    PublishRun publishes;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        Route route = route_of(requests[i], parts_.broker.shared());
        if (route == Route::error) {
            out.responses[i] = ControlResponse::failure(requests[i].error());
            continue;
        }
        if (route == Route::loop) {
            publish_together(publishes, out.responses);  // what came before is done first
            run.requests.push_back(std::move(*requests[i]));
            run.slots.push_back(i);
            continue;
        }
        carry_out(run, out, writer);
        if (route == Route::off_loop && requests[i]->op == ControlOp::publish) {
            publishes.requests.push_back(std::move(*requests[i]));
            publishes.slots.push_back(i);
            continue;
        }
        publish_together(publishes, out.responses);
        if (route == Route::off_loop) {
            out.responses[i] = answer_off_loop(*requests[i]);
            continue;
        }
        out.responses[i] = start_tail(*requests[i], out);
        if (out.tail) {
            out.responses.resize(i + 1);  // the rest of the connection is the tail
            return out;
        }
    }
    carry_out(run, out, writer);
    publish_together(publishes, out.responses);
    return out;
}

// -------- On the loop --------

// One hand-over for the whole run; every request of it is answered `unavailable` (not done) when
// the loop does not take it up in time.
// With a writer, the answers before the run are written first and the loop writes the run's
// own before any frame it queued can go out (answer_writer.h).
void ControlDispatch::carry_out(LoopRun& run, ControlAnswers& out, AnswerWriter* writer) {
    if (run.requests.empty()) return;
    std::size_t count = run.requests.size();
    if (writer) {
        for (; out.handed < run.slots.front(); ++out.handed) writer->add(out.responses[out.handed]);
        (void)writer->write_all();
    }
    // The task may outlive a timed-out wait: it owns what it reads. It runs only while this
    // thread still waits for it (loop_call.h), so the writer is alive then.
    auto answers = on_loop(
        parts_.loop,
        [this, writer, &out, slots = run.slots, requests = std::move(run.requests)] {
            std::vector<ControlResponse> answered;
            answered.reserve(requests.size());
            int64_t now = now_ms();
            for (const ControlRequest& request : requests) {
                answered.push_back(carry_out_on_loop(request, now));
            }
            if (writer) write_run(*writer, answered, slots, out.responses);
            return answered;
        },
        parts_.patience);
    for (std::size_t i = 0; i < count; ++i) {
        out.responses[run.slots[i]] = answers ? std::move((*answers)[i]) : unavailable();
    }
    if (answers && writer) out.handed = run.slots.back() + 1;
    run = {};
}

// Loop thread. A request that fails is answered on its own: the run's earlier ones are done, and
// must not be answered `unavailable` (which means "not done").
ControlResponse ControlDispatch::carry_out_on_loop(const ControlRequest& request, int64_t now) {
    try {
        ControlReply reply = handle_control(context_, request, now);
        parts_.loop.wake(reply.wake);
        return std::move(reply.response);
    } catch (const std::exception& error) {
        log_error("control_request_failed").kv("op", op_name(request.op)).kv("error", error.what());
        return ControlResponse::failure(make_error("internal_error", error.what()));
    }
}

// Loop thread, while the connection's thread waits: the run's answers in request order, with the
// errors of the lines that did not decode between them (already in `responses`).
void ControlDispatch::write_run(AnswerWriter& writer, const std::vector<ControlResponse>& answered,
                                const std::vector<std::size_t>& slots,
                                const std::vector<ControlResponse>& responses) {
    for (std::size_t k = 0; k < slots.size(); ++k) {
        if (k > 0) {
            for (std::size_t gap = slots[k - 1] + 1; gap < slots[k]; ++gap) {
                writer.add(responses[gap]);
            }
        }
        writer.add(answered[k]);
    }
    writer.write_now();
}

// -------- Off the loop --------

ControlResponse ControlDispatch::answer_off_loop(const ControlRequest& request) {
    if (request.op == ControlOp::reload) return reload();
    if (request.cluster) return cluster(request);
    return shared_history(request);
}

// Shared broker: the run's publishes go to the broker at once, so that it sends them to Redis
// many at a time, in this order; each is answered with its own ack or error.
void ControlDispatch::publish_together(PublishRun& run, std::vector<ControlResponse>& responses) {
    if (run.requests.empty()) return;
    auto pending = std::make_shared<PendingAnswers>();
    int64_t now = now_ms();
    for (const ControlRequest& request : run.requests) submit(request, now, pending);
    std::vector<ControlResponse> answers;
    while (pending->owed() > 0) {
        pending->wait(PendingAnswers::clock_ms());
        pending->take(answers, PendingAnswers::clock_ms());
    }
    for (std::size_t k = 0; k < run.requests.size(); ++k) {
        responses[run.slots[k]] = std::move(answers[k]);
    }
    run = {};
}

bool ControlDispatch::pipeline(std::vector<Result<ControlRequest>>& requests,
                               const std::shared_ptr<PendingAnswers>& pending) {
    if (!parts_.broker.shared()) return false;
    for (const Result<ControlRequest>& request : requests) {
        if (request && request->op != ControlOp::publish) return false;
    }
    int64_t now = now_ms();
    for (const Result<ControlRequest>& request : requests) {
        if (request) {
            submit(*request, now, pending);
        } else {
            pending->add(ControlResponse::failure(request.error()));
        }
    }
    return true;
}

// Shared broker: `request` to the broker, which sends the publishes submitted one after the
// other to Redis many at a time, in this order; its answer to `pending`. After a publish the
// broker refused at once (Redis away), the next ones are answered with the same error and not
// sent (PendingAnswers::refuse). `now`: the publish's time stamp, on the wall clock.
void ControlDispatch::submit(const ControlRequest& request, int64_t now,
                             const std::shared_ptr<PendingAnswers>& pending) {
    if (const std::optional<Error>& refused = pending->refused()) {
        pending->add(publish_response(request.room, request.event, *refused));
        return;
    }
    PendingAnswers::Ticket ticket =
        pending->expect(PendingAnswers::clock_ms() + kSidecarAnswerDeadlineMs);
    // The callback may outlive this dispatch (Redis answering after the connection is gone): it
    // holds only what it needs. Called at once, on this thread, only when refused at once.
    parts_.broker.publish_async(
        request, now,
        [pending, ticket, submitter = std::this_thread::get_id(), room = request.room,
         event = request.event](Result<PublishAck> ack) {
            if (!ack && std::this_thread::get_id() == submitter) pending->refuse(ack.error());
            pending->fill(ticket, publish_response(room, event, ack));
        });
}

// Shared broker: history is read from the room's stream, not from this node's cache.
ControlResponse ControlDispatch::shared_history(const ControlRequest& request) {
    auto page = parts_.broker.history(request.room, request.since.value_or(0),
                                      request.limit.value_or(kDefaultHistoryLimit));
    if (!page) return ControlResponse::failure(page.error());
    if (!*page) return ControlResponse::failure(make_error("not_found", "no room " + request.room));
    return ControlResponse::success(encode_history_page(request.room, **page));
}

// Every node's members, from the reports in Redis (not_clustered with the memory broker).
ControlResponse ControlDispatch::cluster(const ControlRequest& request) {
    auto reports = parts_.broker.cluster_reports();
    if (!reports) return ControlResponse::failure(reports.error());
    if (request.op == ControlOp::rooms) {
        return ControlResponse::success(encode_cluster_rooms(*reports));
    }
    return ControlResponse::parsed(encode_cluster_room(request.room, *reports));  // or not_found
}

ControlResponse ControlDispatch::reload() {
    auto report = parts_.reload();
    if (!report) return ControlResponse::failure(report.error());
    return ControlResponse::success(
        encode_reload_response(report->applied, report->restart_needed));
}

// -------- tail --------

ControlResponse ControlDispatch::start_tail(const ControlRequest& request,
                                            ControlAnswers& answers) {
    auto stream = std::make_shared<TailStream>(parts_.max_tail_bytes);
    auto started = on_loop(
        parts_.loop,
        [this, stream, rooms = request.rooms, since = request.since] {
            return follow(rooms, since, stream);
        },
        parts_.patience);
    if (!started) return unavailable();
    if (!*started) return ControlResponse::failure(started->error());
    SessionId id = started->value();
    log_info("tail_started").kv("session", id).kv("rooms", request.rooms.size());
    answers.tail = std::move(stream);
    answers.on_tail_end = [this, id] {
        parts_.loop.post([this, id] {
            parts_.loop.detach_sink(id);
            parts_.registry.remove_session(id);
        });
    };
    return ControlResponse{};
}

// Loop thread: the tail's session joins every room (resuming after `since` in whatever epoch
// the room has), and what it is sent goes to `stream`.
Result<SessionId> ControlDispatch::follow(const std::vector<std::string>& rooms,
                                          std::optional<uint64_t> since,
                                          std::shared_ptr<TailStream> stream) {
    RoomRegistry& registry = parts_.registry;
    SessionId id = registry.add_session("control:tail", now_ms());
    for (const std::string& room : rooms) {
        auto joined = registry.join(id, room, JoinRequest{.since = since, .any_epoch = true});
        if (!joined) {
            registry.remove_session(id);
            return joined.error();
        }
    }
    auto drain = [&registry, stream, id] {
        Session* session = registry.find(id);
        if (session == nullptr) return;
        while (FramePtr frame = session->pop()) stream->push(std::move(frame));
        if (auto close = session->due_close()) stream->end(close->reason);
    };
    parts_.loop.attach_sink(id, drain);
    drain();
    return id;
}

}  // namespace rp::sidecar
