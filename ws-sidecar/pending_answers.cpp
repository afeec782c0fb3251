#include "pending_answers.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <system_error>

namespace rp::sidecar {

ControlResponse publish_timed_out() {
    return ControlResponse::failure(
        make_error("unavailable", "Redis did not answer within " +
                                      std::to_string(kSidecarAnswerDeadlineMs / 1000) +
                                      " s; send it again later, with the same id (it may "
                                      "have been published)"));
}

PendingAnswers::PendingAnswers() : ready_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (ready_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

PendingAnswers::~PendingAnswers() { ::close(ready_fd_); }

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
    bool first_known = false;
    {
        std::lock_guard lock(mutex_);
        if (ticket < first_ || ticket - first_ >= slots_.size()) return;  // answered late already
        Slot& slot = slots_[ticket - first_];
        if (slot.response) return;
        slot.response = std::move(response);
        first_known = ticket == first_;
    }
    // Only the first answer owed lets the connection write: later ones wait for it anyway.
    if (first_known) {
        uint64_t one = 1;
        (void)!::write(ready_fd_, &one, sizeof one);
    }
}

void PendingAnswers::take(std::vector<ControlResponse>& out, int64_t now_ms) {
    uint64_t signals = 0;
    (void)!::read(ready_fd_, &signals, sizeof signals);
    std::lock_guard lock(mutex_);
    while (!slots_.empty()) {
        Slot& slot = slots_.front();
        if (!slot.response && slot.deadline_ms > now_ms) break;
        out.push_back(slot.response ? std::move(*slot.response) : publish_timed_out());
        slots_.pop_front();
        ++first_;
    }
}

void PendingAnswers::wait(int64_t now_ms) const {
    std::optional<int64_t> due = first_deadline();
    if (!due) return;
    pollfd ready{ready_fd_, POLLIN, 0};
    (void)::poll(&ready, 1, static_cast<int>(std::clamp<int64_t>(*due - now_ms, 0, INT32_MAX)));
}

std::size_t PendingAnswers::owed() const {
    std::lock_guard lock(mutex_);
    return slots_.size();
}

std::optional<int64_t> PendingAnswers::first_deadline() const {
    std::lock_guard lock(mutex_);
    for (const Slot& slot : slots_) {
        if (!slot.response) return slot.deadline_ms;
    }
    return std::nullopt;
}

}  // namespace rp::sidecar
