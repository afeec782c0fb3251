#pragma once
// A control connection's request carried out on the loop thread, with an answer either way:
// the work's result, or nothing when the loop did not take it up in time.
//
// "Nothing" must mean "not done": the app's outbox retries a publish answered `unavailable`,
// so a publish that timed out and was carried out later anyway would reach its room twice.
// The caller and the posted task therefore race for one claim: the task runs only if it claims
// the call before the caller gives up; a caller that finds the task already running waits for
// it (work on the loop is short) and answers with its result.

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <utility>

namespace rp::sidecar {

template <class Poster, class Work>
auto call_on_loop(Poster& poster, Work work, std::chrono::milliseconds patience)
    -> std::optional<decltype(work())> {
    using Value = decltype(work());
    enum : int { pending, running, abandoned };
    struct Call {
        std::atomic<int> state{pending};
        std::promise<Value> promise;
    };
    auto call = std::make_shared<Call>();
    auto future = call->promise.get_future();
    poster.post([call, work = std::move(work)]() mutable {
        int expected = pending;
        if (!call->state.compare_exchange_strong(expected, running)) return;  // caller gave up
        try {
            call->promise.set_value(work());
        } catch (...) {
            call->promise.set_exception(std::current_exception());
        }
    });
    if (future.wait_for(patience) != std::future_status::ready) {
        int expected = pending;
        if (call->state.compare_exchange_strong(expected, abandoned)) return std::nullopt;
        future.wait();  // the loop took it up just now: its answer is the true one
    }
    return future.get();
}

}  // namespace rp::sidecar
