#include "memory_broker.h"

namespace rp::sidecar {

Result<PublishAck> MemoryBroker::publish(const ControlRequest& request, int64_t now_ms) {
    // The task may outlive a timed-out wait: it owns what it reads.
    auto ack = on_loop(
        loop_,
        [this, room = request.room, event = request.event, id = request.id, data = request.data,
         from = request.from, now_ms] {
            PublishOutcome outcome = registry_.publish(room, event, data, id, now_ms, from);
            loop_.wake(outcome.wake);
            return PublishAck{outcome.seq, outcome.delivered, outcome.duplicate};
        },
        patience_);
    if (!ack) return make_error("unavailable", "the sidecar's event loop did not answer in time");
    return *ack;
}

Result<std::vector<std::string>> MemoryBroker::cluster_reports() {
    return make_error("not_clustered", "--cluster needs --broker redis://...");
}

}  // namespace rp::sidecar
