#pragma once
// Who carries out each control request, on which thread, in the order the requests came
// (docs/protocol.md: one response per request line, in order). The control server hands over
// every request of one read at once (control_server.h); each goes one of four ways (route_of):
//
//   error     a line that did not decode: its error is its answer, in its place
//   loop      carried out on the event loop (control_handler.h); the loop requests between two
//             others go over in one hand-over, so a pipelined batch of publishes costs one
//   off_loop  answered on the connection's thread, never on the loop, since it waits on Redis
//             or on the configuration files: `reload`, {"cluster":true}, and with a shared
//             broker `publish` and `history`; the publishes between two other requests go to
//             the broker together, which pipelines them to Redis
//   tail      a session in the rooms whose frames go to the connection instead of a WebSocket;
//             once it starts, the rest of the connection is the stream
//
// The loop requests before an off_loop or tail request are carried out before it, so that their
// effects, not only their answers, keep the order of the requests.
//
// With a shared broker, a read of nothing but publishes (and lines that did not decode) is not
// waited for: pipeline() hands it to the broker and its answers go to the connection's
// PendingAnswers (pending_answers.h) as Redis gives them, while the connection reads on; the
// connection lets any other read wait until nothing is owed (control_server.cpp).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "broker.h"
#include "control_handler.h"
#include "control_server.h"
#include "loop_port.h"
#include "pending_answers.h"
#include "room_registry.h"
#include "roompush/control_codec.h"
#include "roompush/program_options.h"
#include "sidecar_metrics.h"

namespace rp::sidecar {

enum class Route { error, loop, off_loop, tail };
Route route_of(const Result<ControlRequest>& request, bool shared_broker);

class ControlDispatch {
public:
    struct Parts {
        LoopPort& loop;
        RoomRegistry& registry;  // the loop's
        SidecarMetrics& metrics;
        Broker& broker;
        std::function<Result<OptionChanges>()> reload;  // `reload` (sidecar_reload.h)
        std::size_t max_tail_bytes = 8 << 20;           // a `tail` further behind is ended
        int64_t started_ms = 0;                         // `stats`' uptime counts from here
        std::chrono::milliseconds patience = kLoopPatience;
        const RoomPresence* presence = nullptr;  // the loop's; `room` shows who is visible
    };
    explicit ControlDispatch(Parts parts);

    // Connection thread: the answers to one read's requests (ControlServer::Dispatch). With a
    // writer, the loop's answers are written as soon as they are known (answer_writer.h).
    ControlAnswers answer(std::vector<Result<ControlRequest>> requests,
                          AnswerWriter* writer = nullptr);

    // Connection thread, shared broker: when every request of a read is a publish (or a line
    // that did not decode), they go to the broker at once and their answers to `pending` as
    // they come (pending_answers.h), so that the connection reads on. False, with nothing done,
    // for any other read: the connection waits until nothing is owed and calls answer().
    bool pipeline(std::vector<Result<ControlRequest>>& requests,
                  const std::shared_ptr<PendingAnswers>& pending);

private:
    // The loop requests waiting for one hand-over, and where their answers go.
    struct LoopRun {
        std::vector<ControlRequest> requests;
        std::vector<std::size_t> slots;
    };
    void carry_out(LoopRun& run, ControlAnswers& out, AnswerWriter* writer);
    static void write_run(AnswerWriter& writer, const std::vector<ControlResponse>& answered,
                          const std::vector<std::size_t>& slots,
                          const std::vector<ControlResponse>& responses);
    // The shared broker's publishes between two other requests.
    using PublishRun = LoopRun;
    void publish_together(PublishRun& run, std::vector<ControlResponse>& responses);
    void submit(const ControlRequest& request, int64_t now,
                const std::shared_ptr<PendingAnswers>& pending);
    ControlResponse carry_out_on_loop(const ControlRequest& request, int64_t now);
    ControlResponse answer_off_loop(const ControlRequest& request);
    ControlResponse shared_history(const ControlRequest& request);
    ControlResponse cluster(const ControlRequest& request);
    ControlResponse reload();
    ControlResponse start_tail(const ControlRequest& request, ControlAnswers& answers);
    Result<SessionId> follow(const std::vector<std::string>& rooms, std::optional<uint64_t> since,
                             std::shared_ptr<TailStream> stream);

    Parts parts_;
    ControlContext context_;
};

}  // namespace rp::sidecar
