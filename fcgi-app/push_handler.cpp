#include "push_handler.h"

#include "job.h"
#include "roompush/control_codec.h"
#include "roompush/log.h"
#include "roompush/room_id.h"
#include "roompush/utf8.h"

namespace rp::app {
namespace {

// How long POST /push/ROOM waits for the sidecar's ack before it answers 202 (queued).
constexpr std::chrono::milliseconds kPushAckWait{2000};

Result<std::string> read_body(BodyReader& body) {
    std::string text;
    char buffer[65536];
    for (;;) {
        ssize_t got = body.read(buffer, sizeof buffer);
        if (got < 0) return make_error("io_error", "the request body was cut off");
        if (got == 0) return text;
        text.append(buffer, static_cast<std::size_t>(got));
        if (text.size() > kMaxPushBody) {
            return make_error("body_too_large", "a pushed message may be at most 1 MiB");
        }
    }
}

HttpResponse refused(HttpRequest& request, int status, const Error& error) {
    drain_body(*request.body, kMaxPushBody * 2);
    return error_response(status, error);
}

}  // namespace

HttpResponse PushHandler::handle(HttpRequest& request, const std::string& room) {
    if (auto valid = check_room_id(room); !valid) return refused(request, 400, valid.error());
    std::string event = query_param(request.query, "event");
    if (event.empty()) event = "message";
    if (auto valid = check_event_name(event); !valid) return refused(request, 400, valid.error());
    std::string id = query_param(request.query, "id");
    if (id.size() > kMaxIdempotencyKeyLength) {
        return refused(request, 400, make_error("invalid_id", "id is longer than 200 bytes"));
    }
    if (id.empty()) id = "http:" + new_job_id();
    auto body = read_body(*request.body);
    if (!body)
        return refused(request, body.error().code == "body_too_large" ? 413 : 400, body.error());
    auto data = parse_json(*body);
    if (!data) return error_response(400, data.error());
    // cJSON takes any bytes in a string; the sidecar does not (a browser would fail on them).
    if (auto valid = check_utf8(*body, "the body"); !valid)
        return error_response(400, valid.error());

    // A full outbox means the sidecar has been away for long: the caller keeps the message and
    // retries, as an upload would be refused. (Checked, then appended: concurrent requests may
    // overshoot the limit by at most the number of FastCGI threads.)
    if (pushes_.full()) {
        HttpResponse response = error_response(
            503, make_error("outbox_full",
                            "the sidecar has not taken the pushes waiting; try again later"));
        response.headers.emplace_back("Retry-After", std::to_string(config_.retry_after_s));
        return response;
    }
    // Journaled first, then sent by the outbox, once, in its order: the answer waits a moment
    // for the sidecar's ack (200 with its seq), else says it is queued (202); either way the
    // outbox delivers it.
    auto delivery = pushes_.push_and_wait(room, event, data->get(), id, kPushAckWait);
    if (!delivery.journaled) {
        return error_response(
            500, make_error("spool_error", "the push could not be journaled (see the app's log)"));
    }
    JsonPtr out = make_object();
    set_string(out.get(), "room", room);
    set_string(out.get(), "id", id);
    if (delivery.refused) {
        return error_response(
            502,
            make_error("sidecar_refused", "the sidecar refused the message (see the app's log)"));
    }
    if (!delivery.ack) {
        log_info("push_queued").kv("room", room).kv("id", id);
        set_bool(out.get(), "queued", true);
        return json_response(202, out.get());
    }
    set_number(out.get(), "seq", static_cast<double>(delivery.ack->seq));
    return json_response(200, out.get());
}

}  // namespace rp::app
