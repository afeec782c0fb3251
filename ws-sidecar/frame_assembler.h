#pragma once
// A client's message joined from the fragments libwebsockets hands over, up to --max-frame.
//
// libwebsockets receives into a small buffer (see kRxBufferBytes in ws_server.cpp), so a client
// frame may arrive in several pieces even when it is not fragmented on the wire. The limit is
// checked against what the frame *announces* (its header's length), not what has arrived: a
// client that announces 1 GB is refused at its first bytes, not after it sent them.

#include <cstddef>
#include <string>
#include <string_view>

namespace rp::sidecar {

// One piece of a client frame, as libwebsockets reports it.
struct Fragment {
    std::string_view bytes;
    bool binary = false;        // the message is binary (the sidecar takes only text)
    bool final = false;         // the last fragment of its message
    std::size_t announced = 0;  // payload bytes its frame's header announced, not yet arrived
};

class FrameAssembler {
public:
    enum class Outcome {
        partial,  // kept; more is to come
        message,  // the message is whole: take() it
        binary,   // a binary frame: nothing kept
        too_big,  // it would pass the limit: what was kept is dropped
    };

    Outcome add(const Fragment& fragment, std::size_t limit);
    // The whole message after add() said `message`; the assembler is empty again.
    std::string take();
    // For a frame that announced its length and then sent nothing more (checked once a second):
    // true, and what was kept is dropped, when what is kept plus `announced` passes `limit`.
    bool refuse_if_over(std::size_t announced, std::size_t limit);
    std::size_t size() const { return text_.size(); }

private:
    std::string text_;
};

}  // namespace rp::sidecar
