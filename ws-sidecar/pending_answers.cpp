#include "pending_answers.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace rp::sidecar {

ControlResponse publish_timed_out() {
    return ControlResponse::failure(
        make_error("unavailable", "Redis did not answer within " +
                                      std::to_string(kSidecarAnswerDeadlineMs / 1000) +
                                      " s; send it again later, with the same id (it may "
                                      "have been published)"));
}

PendingAnswers::PendingAnswers(Wakeup wakeup) {
    if (wakeup == Wakeup::eventfd) ready_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

PendingAnswers::~PendingAnswers() {
    if (ready_fd_ >= 0) ::close(ready_fd_);
}

int64_t PendingAnswers::clock_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

PendingAnswers::Ticket PendingAnswers::expect(int64_t deadline_ms) {
    std::lock_guard lock(mutex_);
    slots_.push_back(Slot{std::nullopt, deadline_ms});
    return first_ + slots_.size() - 1;
}

void PendingAnswers::add(ControlResponse response) {
    std::lock_guard lock(mutex_);
    slots_.push_back(Slot{std::move(response), 0});
}

void PendingAnswers::fill(Ticket ticket, ControlResponse response) {
    {
        std::lock_guard lock(mutex_);
        if (ticket < first_ || ticket - first_ >= slots_.size()) return;  // answered late already
        Slot& slot = slots_[ticket - first_];
        if (slot.response) return;
        slot.response = std::move(response);
        // Only the first answer owed lets the connection write: later ones wait for it anyway.
        if (ticket != first_) return;
        first_known_.notify_all();
    }
    if (ready_fd_ >= 0) {
        uint64_t one = 1;
        (void)!::write(ready_fd_, &one, sizeof one);
    }
}

void PendingAnswers::take(std::vector<ControlResponse>& out, int64_t now_ms) {
    if (ready_fd_ >= 0) {
        uint64_t signals = 0;
        (void)!::read(ready_fd_, &signals, sizeof signals);
    }
    std::lock_guard lock(mutex_);
    while (!slots_.empty()) {
        Slot& slot = slots_.front();
        if (!slot.response && slot.deadline_ms > now_ms) break;
        out.push_back(slot.response ? std::move(*slot.response) : publish_timed_out());
        slots_.pop_front();
        ++first_;
    }
    if (slots_.empty()) refused_.reset();
}

void PendingAnswers::wait(int64_t now_ms) {
    std::unique_lock lock(mutex_);
    if (slots_.empty() || slots_.front().response) return;
    std::optional<int64_t> due = first_deadline_locked();
    if (!due || *due <= now_ms) return;
    first_known_.wait_for(lock, std::chrono::milliseconds(*due - now_ms),
                          [this] { return slots_.empty() || slots_.front().response; });
}

std::size_t PendingAnswers::owed() const {
    std::lock_guard lock(mutex_);
    return slots_.size();
}

std::optional<int64_t> PendingAnswers::first_deadline() const {
    std::lock_guard lock(mutex_);
    return first_deadline_locked();
}

std::optional<int64_t> PendingAnswers::first_deadline_locked() const {
    for (const Slot& slot : slots_) {
        if (!slot.response) return slot.deadline_ms;
    }
    return std::nullopt;
}

void PendingAnswers::refuse(const Error& error) {
    if (!refused_) refused_ = error;
}

}  // namespace rp::sidecar
