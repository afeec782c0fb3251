#pragma once
// One serialized WebSocket message, shared by every member it is sent to. The bytes carry
// headroom in front for the frame header that libwebsockets writes in place (LWS_PRE), so a
// publish to a thousand members is one allocation and no copies.
//
// A frame is one block: its reference count, its size, the headroom and the payload. A
// std::shared_ptr to a vector was two blocks, and retained history drops each frame long after
// it was written, when both blocks have left the cache: freeing one cold block instead of two
// was a measurable part of a publish to a room whose history is full.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

namespace rp::sidecar {

inline constexpr std::size_t kFrameHeadroom = 16;  // checked against LWS_PRE in ws_server.cpp

class Frame {
public:
    Frame(const Frame&) = delete;
    Frame& operator=(const Frame&) = delete;

    // Writable because libwebsockets writes the header into the headroom; the header is the same
    // for every member, so sharing stays correct.
    unsigned char* payload() { return bytes() + kFrameHeadroom; }
    std::size_t size() const { return size_; }
    std::string_view text() const {
        return {reinterpret_cast<const char*>(this + 1) + kFrameHeadroom, size_};
    }

private:
    friend class FramePtr;
    friend class MessageDeflater;
    explicit Frame(std::size_t size) : size_(static_cast<uint32_t>(size)) {}
    ~Frame();
    unsigned char* bytes() { return reinterpret_cast<unsigned char*>(this + 1); }

    // Frames are shared with a control `tail`'s thread too (TailStream): the count is atomic.
    std::atomic<std::size_t> references_{1};
    uint32_t size_;  // a message is far below 4 GiB (--max-frame, the control line's limit)
    // The loop's alone (message_deflater.h): the payload compressed for the members that
    // negotiated permessage-deflate, made once, the first time one of them is written to.
    bool deflate_tried_ = false;
    Frame* deflated_ = nullptr;  // null: not tried yet, or not smaller
};

// A counted reference to a Frame, used like std::shared_ptr<Frame>.
class FramePtr {
public:
    FramePtr() = default;
    FramePtr(std::nullptr_t) {}
    FramePtr(const FramePtr& other) : frame_(other.frame_) { retain(); }
    FramePtr(FramePtr&& other) noexcept : frame_(std::exchange(other.frame_, nullptr)) {}
    FramePtr& operator=(FramePtr other) noexcept {
        std::swap(frame_, other.frame_);
        return *this;
    }
    ~FramePtr() { release(); }

    // A new frame holding a copy of `payload` after the headroom.
    static FramePtr make(std::string_view payload) {
        void* block = ::operator new(sizeof(Frame) + kFrameHeadroom + payload.size());
        FramePtr made;
        made.frame_ = new (block) Frame(payload.size());
        if (!payload.empty()) std::memcpy(made.frame_->payload(), payload.data(), payload.size());
        return made;
    }

    // Takes over the reference that release_ownership() gave up.
    void adopt(Frame* frame) {
        release();
        frame_ = frame;
    }
    Frame* release_ownership() { return std::exchange(frame_, nullptr); }

    Frame* get() const { return frame_; }
    Frame* operator->() const { return frame_; }
    Frame& operator*() const { return *frame_; }
    explicit operator bool() const { return frame_ != nullptr; }
    friend bool operator==(const FramePtr& a, const FramePtr& b) { return a.frame_ == b.frame_; }

private:
    void retain() {
        if (frame_ != nullptr) frame_->references_.fetch_add(1, std::memory_order_relaxed);
    }
    void release() {
        if (frame_ == nullptr || frame_->references_.fetch_sub(1, std::memory_order_acq_rel) != 1) {
            return;
        }
        frame_->~Frame();
        ::operator delete(static_cast<void*>(frame_));
    }

    Frame* frame_ = nullptr;
};

inline FramePtr make_frame(std::string_view payload) { return FramePtr::make(payload); }

inline Frame::~Frame() {
    FramePtr owned;  // the compressed form's one reference
    owned.adopt(deflated_);
}

}  // namespace rp::sidecar
