#include "frame_assembler.h"

namespace rp::sidecar {

FrameAssembler::Outcome FrameAssembler::add(const Fragment& fragment, std::size_t limit) {
    if (fragment.binary) return Outcome::binary;
    if (text_.size() + fragment.bytes.size() + fragment.announced > limit) {
        text_.clear();  // refused from the length the frame announces, not once it has arrived
        return Outcome::too_big;
    }
    text_.append(fragment.bytes.data(), fragment.bytes.size());
    return fragment.final && fragment.announced == 0 ? Outcome::message : Outcome::partial;
}

std::string FrameAssembler::take() {
    std::string message;
    message.swap(text_);  // the buffer goes with the message: an idle connection keeps none
    return message;
}

bool FrameAssembler::refuse_if_over(std::size_t announced, std::size_t limit) {
    if (text_.size() + announced <= limit) return false;
    text_.clear();
    return true;
}

}  // namespace rp::sidecar
