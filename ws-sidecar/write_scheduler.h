#pragma once
// Who is written when: the write-scheduling policy of the WebSocket loop, in plain C++.
//
// The numbers here are tuned against the benchmark (bench/RESULTS.md): what is written when,
// how often, and how many frames go into one write. Change them with a benchmark run of the old
// and the new binary side by side.
//
// - A publish made by posted tasks (the control socket, the broker) is written right after the
//   batch of tasks, each member's frames joined into one write (flush), instead of after another
//   poll() over every connection and a writeable callback per member.
// - Except a large audience while large audiences come thick and fast: that waits one turn of
//   the loop (defer on epoll; the writeable callback on lws' poll()), so that the next publishes
//   to the room join the same writes.
// - Everything else goes through the writeable callback (on_writeable): a close to send, a member
//   whose socket is full, frames beyond one coalesced write.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "message_deflater.h"
#include "room_registry.h"

namespace rp::sidecar {

// One WebSocket connection as the loop knows it (libwebsockets' wsi); opaque to the policies.
struct Wire;

// What the scheduler asks of the loop. ws_server.cpp does it with libwebsockets and libev;
// tests fake it.
class WritePort {
public:
    virtual ~WritePort() = default;
    // A writeable callback for the connection once its socket takes more (POLLOUT).
    virtual void request_writeable(Wire* wire) = 0;
    // libwebsockets would let a write through outside its writeable callback too: the peer has
    // sent no close, and nothing of the connection's own is left unsent.
    virtual bool can_write_now(Wire* wire) = 0;
    // One text frame from its shared buffer (the header goes into its headroom). False: failed.
    virtual bool write_frame(Wire* wire, Frame& frame) = 0;
    // `size` bytes of whole frames, headers included, written as they are (lws' raw write,
    // which needs no headroom). False: failed.
    virtual bool write_frames(Wire* wire, unsigned char* bytes, std::size_t size) = 0;
    // The connection negotiated permessage-deflate: its frames go compressed when that is
    // smaller (message_deflater.h), all of them through write_frames().
    virtual bool deflates(Wire* /*wire*/) { return false; }
    // A write outside the writeable callback failed: close the connection asynchronously
    // (there is no callback to refuse).
    virtual void close_soon(Wire* wire) = 0;
    // The close frame to send when the writeable callback hangs up.
    virtual void set_close(Wire* wire, CloseCode code, std::string reason) = 0;
    // epoll only: bring the loop's next turn at once and call flush_deferred() at its end.
    virtual void schedule_turn_end() = 0;
    virtual void cancel_turn_end() = 0;
};

class WriteScheduler {
public:
    using Clock = std::chrono::steady_clock;
    using Now = Clock::time_point (*)();

    // One coalesced write holds at most this much; also libwebsockets' tx_packet_size (plus one
    // header), so that it sends such a write whole.
    static constexpr std::size_t kCoalesceBytes = 32 * 1024;
    static constexpr std::size_t kMaxFrameHeader = kMaxFrameHeaderBytes;  // server to client
    // A publish to at most this many members is written at once (after its batch); a larger
    // audience too, unless another large one came less than kLargeAudienceBusy before.
    static constexpr std::size_t kWriteAtOnceMembers = 32;
    static constexpr auto kLargeAudienceBusy = std::chrono::milliseconds(20);

    // `headroom`: what the port's writes need in front of their bytes (LWS_PRE).
    WriteScheduler(RoomRegistry& registry, WritePort& port, std::size_t headroom,
                   Now now = Clock::now);

    // epoll: the loop's turns can be brought and ended on demand (schedule_turn_end).
    void set_turn_end_available(bool available) { turn_end_available_ = available; }
    // --ws-deflate: members whose port deflates() get compressed frames; `compressed` counts
    // the messages compressed.
    void enable_deflate(std::atomic<uint64_t>& compressed) {
        deflater_ = std::make_unique<MessageDeflater>(compressed);
    }

    // The WebSocket connections, by session.
    void connected(SessionId id, Wire* wire) { connections_[id] = wire; }
    void disconnected(SessionId id) { connections_.erase(id); }
    const std::unordered_map<SessionId, Wire*>& connections() const { return connections_; }
    // A session that is not a WebSocket (a control `tail`) is woken by calling `drain`.
    void attach_sink(SessionId id, std::function<void()> drain) { sinks_[id] = std::move(drain); }
    void detach_sink(SessionId id) { sinks_.erase(id); }

    // Around a batch of posted tasks: what they wake is written at end_batch().
    void begin_batch() { in_batch_ = true; }
    void end_batch();

    // These sessions (one publish's audience, say) have frames to write or a close to perform.
    void wake(const std::vector<SessionId>& ids);
    // The end of the turn schedule_turn_end() brought.
    void flush_deferred();
    // The connection's writeable callback: false hangs it up (with the close set_close() gave).
    bool on_writeable(Wire* wire, SessionId id);

private:
    void wake(SessionId id, bool at_once);
    void defer(SessionId id);
    void flush(std::vector<SessionId>& ids);
    void write_now(Wire* wire, Session& session);
    bool write_queued(Wire* wire, Session& session);
    bool write_alone(Wire* wire, DeflateForm form);

    RoomRegistry& registry_;
    WritePort& port_;
    std::size_t headroom_;
    Now now_;
    bool turn_end_available_ = false;
    std::unordered_map<SessionId, Wire*> connections_;
    std::unordered_map<SessionId, std::function<void()>> sinks_;
    bool in_batch_ = false;
    std::vector<SessionId> woken_;     // members a batch gave frames to, written after it
    std::vector<SessionId> deferred_;  // members of busy large audiences, written at turn end
    Clock::time_point last_large_audience_;
    std::vector<unsigned char>
        scratch_;  // where the frames of a member that fell behind are joined
    std::unique_ptr<MessageDeflater> deflater_;  // with --ws-deflate
};

}  // namespace rp::sidecar
