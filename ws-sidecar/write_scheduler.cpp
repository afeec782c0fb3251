#include "write_scheduler.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace rp::sidecar {

WriteScheduler::WriteScheduler(RoomRegistry& registry, WritePort& port, std::size_t headroom,
                               Now now)
    : registry_(registry), port_(port), headroom_(headroom), now_(now) {}

/* ---------------------------------------------------------------------------------------------
 * When: at once, one turn later, or when the socket is writeable
 * ------------------------------------------------------------------------------------------- */

// An audience is written right after the batch of tasks that gave it frames (see flush),
// except a large one while large audiences come thick and fast: that waits one turn of the
// loop, so that the next publishes to the room join the same writes (and nginx then forwards
// several frames per read). Writing every publish at once to each member of a busy
// 1,000-member room made fanout through nginx ~50 % dearer per delivery; at a few publishes a
// second there is nothing to join, and writing at once is the quicker path. On lws' poll() loop
// the wait is the writeable pass; on epoll asking for POLLOUT costs two epoll_ctl() calls per
// member per write, so the loop's next turn is brought at once and the members written at its
// end instead (defer).
void WriteScheduler::wake(const std::vector<SessionId>& ids) {
    bool at_once = in_batch_;
    if (at_once && ids.size() > kWriteAtOnceMembers) {
        auto now = now_();
        at_once = now - last_large_audience_ >= kLargeAudienceBusy;
        last_large_audience_ = now;
    }
    for (SessionId id : ids) wake(id, at_once);
}

void WriteScheduler::wake(SessionId id, bool at_once) {
    auto found = connections_.find(id);
    if (found != connections_.end()) {
        if (at_once) {
            woken_.push_back(id);
        } else if (turn_end_available_) {
            defer(id);
        } else {
            port_.request_writeable(found->second);
        }
        return;
    }
    auto sink = sinks_.find(id);
    if (sink != sinks_.end()) sink->second();
}

void WriteScheduler::end_batch() {
    in_batch_ = false;
    flush(woken_);
}

// The loop's next turn is brought at once (it does not wait for I/O) and the deferred members are
// written at its end, once what it found is handled: by then more publishes may have joined them.
void WriteScheduler::defer(SessionId id) {
    if (deferred_.empty()) port_.schedule_turn_end();
    deferred_.push_back(id);
}

// Nothing flush() calls defers again (write_now falls back to POLLOUT), so `deferred_` is
// written and cleared in place and keeps its capacity from turn to turn.
void WriteScheduler::flush_deferred() {
    port_.cancel_turn_end();
    flush(deferred_);
}

/* ---------------------------------------------------------------------------------------------
 * Writing outside the writeable callback
 * ------------------------------------------------------------------------------------------- */

// What a batch of publishes queued goes out now, each member's frames joined into one write,
// instead of after another poll() over every connection and a writeable callback per member:
// with one message per room that round trip was most of the loop's work per delivery. The
// writeable callback stays the path for everything else: a close to send, a member whose
// socket is full (libwebsockets holds the unsent rest; we add nothing to it), frames beyond one
// coalesced write.
void WriteScheduler::flush(std::vector<SessionId>& ids) {
    // A member gets one id per publish of the batch; one write takes all of its frames.
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (SessionId id : ids) {
        auto found = connections_.find(id);
        if (found == connections_.end()) continue;  // closed by an earlier task of the batch
        Session* session = registry_.find(id);
        // A member whose queue overflowed has nothing pending but a 1013 to send.
        if (session != nullptr && (session->has_pending() || session->closing())) {
            write_now(found->second, *session);
        }
    }
    ids.clear();
}

// Writes outside the writeable callback only when libwebsockets would let a write through there
// too: an open connection with nothing of its own left unsent. A failed write closes the
// connection asynchronously (there is no callback to return -1 from).
void WriteScheduler::write_now(Wire* wire, Session& session) {
    if (session.closing() || !port_.can_write_now(wire)) {
        port_.request_writeable(wire);
        return;
    }
    if (!write_queued(wire, session)) {
        port_.close_soon(wire);
        return;
    }
    if (session.has_pending()) port_.request_writeable(wire);
}

/* ---------------------------------------------------------------------------------------------
 * The writeable callback, and what one write holds
 * ------------------------------------------------------------------------------------------- */

bool WriteScheduler::on_writeable(Wire* wire, SessionId id) {
    Session* session = registry_.find(id);
    if (session == nullptr) return false;
    if (auto close = session->due_close()) {
        // A close frame has room for a reason of 123 bytes.
        port_.set_close(wire, close->code, close->reason.substr(0, 120));
        return false;
    }
    if (session->has_pending() && !write_queued(wire, *session)) return false;
    if (session->has_pending() || session->closing()) port_.request_writeable(wire);
    return true;
}

// One frame goes out from its shared buffer as it is (lws writes the header into the headroom).
// A member that has fallen behind gets its queued frames, up to kCoalesceBytes, in one write():
// the headers are made here and the payloads copied once into the scratch buffer. A copy of a
// few hundred bytes costs far less than a poll round trip and a syscall per frame, and nginx
// then reads and forwards them in one go as well. A member that negotiated permessage-deflate
// gets each frame in the form the deflater gives (compressed once per message, or as it is);
// its frames never go through lws' own text writes, which would compress them again, per
// connection.
bool WriteScheduler::write_queued(Wire* wire, Session& session) {
    bool deflate = deflater_ != nullptr && port_.deflates(wire);
    auto form_of = [&](Frame& frame) {
        return deflate ? deflater_->form(frame) : DeflateForm{&frame, false};
    };
    DeflateForm next = form_of(*session.peek());
    if (session.queued_frames() == 1 || next.frame->size() + kMaxFrameHeader > kCoalesceBytes) {
        FramePtr frame = session.pop();
        return deflate ? write_alone(wire, next) : port_.write_frame(wire, *frame);
    }
    if (scratch_.empty()) scratch_.resize(headroom_ + kCoalesceBytes);
    unsigned char* out = scratch_.data() + headroom_;
    std::size_t used = 0;
    while (true) {
        std::size_t size = next.frame->size();
        if (used + size + kMaxFrameHeader > kCoalesceBytes) break;
        used += encode_text_frame_header(out + used, size, next.compressed);
        std::memcpy(out + used, next.frame->text().data(), size);
        used += size;
        session.pop();
        Frame* after = session.peek();
        if (after == nullptr) break;
        next = form_of(*after);
    }
    return port_.write_frames(wire, out, used);
}

// A frame of a deflate member, alone: its header goes into the headroom of the buffer it is
// in, which every member is sent the same header from.
bool WriteScheduler::write_alone(Wire* wire, DeflateForm form) {
    unsigned char header[kMaxFrameHeader];
    std::size_t length = encode_text_frame_header(header, form.frame->size(), form.compressed);
    unsigned char* start = form.frame->payload() - length;
    std::memcpy(start, header, length);
    return port_.write_frames(wire, start, length + form.frame->size());
}

}  // namespace rp::sidecar
