#include "push_handler.h"

#include "job.h"
#include "roompush/control_client.h"
#include "roompush/control_codec.h"
#include "roompush/log.h"
#include "roompush/room_id.h"
#include "roompush/utf8.h"

namespace rp::app {
namespace {

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
    if (!body) return refused(request, body.error().code == "body_too_large" ? 413 : 400, body.error());
    auto data = parse_json(*body);
    if (!data) return error_response(400, data.error());
    // cJSON takes any bytes in a string; the sidecar does not (a browser would fail on them).
    if (auto valid = check_utf8(*body, "the body"); !valid) return error_response(400, valid.error());

    // A full outbox means the sidecar has been away for long: the caller keeps the message and
    // retries, as an upload would be refused. (Checked, then appended: concurrent requests may
    // overshoot the limit by at most the number of FastCGI threads.)
    if (pushes_.full()) {
        HttpResponse response = error_response(
            503, make_error("outbox_full", "the sidecar has not taken the pushes waiting; try again later"));
        response.headers.emplace_back("Retry-After", std::to_string(config_.retry_after_s));
        return response;
    }
    // Journaled first: whatever happens next, the outbox delivers it. The direct call below uses
    // the same idempotency key, so the sidecar delivers it once whichever arrives first.
    if (!pushes_.push(room, event, data->get(), id)) {
        return error_response(500, make_error("spool_error", "the push could not be journaled (see the app's log)"));
    }
    JsonPtr out = make_object();
    set_string(out.get(), "room", room);
    set_string(out.get(), "id", id);
    auto client = ControlClient::connect(config_.control_socket, 2000);
    auto answer = client ? client->call(encode_publish_request(room, event, data->get(), id))
                         : Result<JsonPtr>(client.error());
    auto ack = answer ? decode_publish_response(answer->get()) : Result<PublishAck>(answer.error());
    if (!ack) {
        log_info("push_queued").kv("room", room).kv("id", id).kv("reason", ack.error().code);
        set_bool(out.get(), "queued", true);
        return json_response(202, out.get());
    }
    set_number(out.get(), "seq", static_cast<double>(ack->seq));
    return json_response(200, out.get());
}

}  // namespace rp::app
