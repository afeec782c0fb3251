#include "answer_writer.h"

#include <sys/socket.h>

#include <cerrno>

#include "roompush/unix_socket.h"

namespace rp::sidecar {

void AnswerWriter::add(const ControlResponse& response) {
    std::lock_guard lock(mutex_);
    pending_.append(response.line) += '\n';
}

void AnswerWriter::write_now() {
    std::lock_guard lock(mutex_);
    (void)write(false);
}

bool AnswerWriter::write_all() {
    std::lock_guard lock(mutex_);
    return write(true);
}

// Called with mutex_ held.
bool AnswerWriter::write(bool wait) {
    while (!broken_ && written_ < pending_.size()) {
        std::string_view rest = std::string_view(pending_).substr(written_);
        if (wait) {
            broken_ = !rp::write_all(fd_, rest);
            written_ = pending_.size();
            break;
        }
        ssize_t sent = ::send(fd_, rest.data(), rest.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (sent <= 0) {
            broken_ = true;
            break;
        }
        written_ += static_cast<std::size_t>(sent);
    }
    if (written_ == pending_.size()) {
        pending_.clear();
        written_ = 0;
    }
    return !broken_;
}

}  // namespace rp::sidecar
