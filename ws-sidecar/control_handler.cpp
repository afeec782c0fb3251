#include "control_handler.h"

#include "roompush/log.h"

namespace rp::sidecar {

ControlReply handle_control(RoomRegistry& registry, const ControlRequest& request, int64_t now_ms) {
    switch (request.op) {
        case ControlOp::publish: {
            PublishOutcome outcome =
                registry.publish(request.room, request.event, request.data.get(), now_ms);
            log_debug("publish")
                .kv("room", request.room)
                .kv("event", request.event)
                .kv("seq", outcome.seq)
                .kv("delivered", outcome.delivered);
            return {encode_publish_response({outcome.seq, outcome.delivered}),
                    std::move(outcome.wake)};
        }
        case ControlOp::rooms:
            return {encode_rooms_response(registry.summaries()), {}};
    }
    return {encode_error_response({"unknown_op", "unsupported op"}), {}};
}

}  // namespace rp::sidecar
