#pragma once
// The event loop as the threads around it see it (the control socket's, the broker's): a place to
// run tasks and, for those tasks, sessions to wake and sinks to attach. In the sidecar WsServer is
// behind it (sidecar_app.cpp); in tests a thread of the test's own, so that what uses it needs no
// libwebsockets.

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <vector>

#include "loop_call.h"
#include "roompush/log.h"
#include "session.h"

namespace rp::sidecar {

class LoopPort {
public:
    virtual ~LoopPort() = default;
    // Any thread: runs `task` on the loop thread, soon.
    virtual void post(std::function<void()> task) = 0;
    // Loop thread: these sessions (one publish's audience, say) have frames to write or a close
    // to perform.
    virtual void wake(const std::vector<SessionId>& ids) = 0;
    // Loop thread: a session that is not a WebSocket (a control `tail`) is woken by calling
    // `drain` instead.
    virtual void attach_sink(SessionId id, std::function<void()> drain) = 0;
    virtual void detach_sink(SessionId id) = 0;
};

// How long a control request waits for the loop to take it up before it is answered
// `unavailable` (docs/protocol.md).
inline constexpr std::chrono::milliseconds kLoopPatience = std::chrono::seconds(10);

// call_on_loop (loop_call.h) for a control request: nullopt, "not done", also when the work
// threw, which is logged.
template <class Work>
auto on_loop(LoopPort& loop, Work work, std::chrono::milliseconds patience = kLoopPatience)
    -> std::optional<decltype(work())> {
    try {
        return call_on_loop(loop, std::move(work), patience);
    } catch (const std::exception& error) {
        log_error("control_request_failed").kv("error", error.what());
        return std::nullopt;
    }
}

}  // namespace rp::sidecar
