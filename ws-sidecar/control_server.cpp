#include "control_server.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "roompush/log.h"

namespace rp::sidecar {
namespace {

std::string describe_peer(int fd) {
    ucred credentials{};
    socklen_t length = sizeof credentials;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return "unknown";
    return "uid=" + std::to_string(credentials.uid) + ",pid=" + std::to_string(credentials.pid);
}

}  // namespace

ControlServer::ControlServer(Config config, SidecarMetrics& metrics, Dispatch dispatch,
                             Pipeline pipeline)
    : config_(std::move(config)),
      metrics_(metrics),
      dispatch_(std::move(dispatch)),
      pipeline_(std::move(pipeline)) {}

ControlServer::~ControlServer() { stop(); }

Status ControlServer::start() {
    auto fd = listen_unix(config_.path, SocketAccess{config_.mode, std::nullopt}, 64);
    if (!fd) return fd.error();
    listen_fd_ = std::move(*fd);
    accept_thread_ = std::thread([this] { accept_loop(); });
    log_info("control_listening").kv("socket", config_.path);
    return ok_status();
}

void ControlServer::stop() {
    if (stopping_.exchange(true)) return;
    if (listen_fd_.valid()) ::shutdown(listen_fd_.get(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::list<std::unique_ptr<Client>> clients;
    {
        std::lock_guard lock(clients_mutex_);
        clients.swap(clients_);
    }
    // Reading stops, writing does not: a request already carried out (a publish the rooms got)
    // is still answered. Cut both ways, its answer was lost, the app sent it again to the next
    // sidecar, and with the memory broker (whose ids die with it) members got it twice.
    for (auto& client : clients) ::shutdown(client->fd.get(), SHUT_RD);
    for (auto& client : clients) client->thread.join();
    if (listen_fd_.valid()) {
        listen_fd_.reset();
        ::unlink(config_.path.c_str());
    }
}

void ControlServer::accept_loop() {
    while (!stopping_) {
        int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (stopping_) return;
            if (errno == EINTR || errno == ECONNABORTED) continue;
            // Out of descriptors or memory is a moment, not the end: the control socket must
            // come back once the load drops.
            log_error("control_accept_failed").kv("error", std::strerror(errno));
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        reap_finished_clients();
        if (!peer_allowed(fd)) {
            refuse(fd, make_error(
                           "peer_not_allowed",
                           "this user may not use the control socket (see --control-allow-uid)"));
            continue;
        }
        std::lock_guard lock(clients_mutex_);
        if (clients_.size() >= config_.max_clients) {
            refuse(fd, make_error("too_many_clients", "the control socket already serves " +
                                                          std::to_string(config_.max_clients) +
                                                          " connections"));
            continue;
        }
        log_info("control_connected").kv("peer", describe_peer(fd));
        auto client = std::make_unique<Client>();
        client->fd = UniqueFd(fd);
        Client& ref = *client;
        try {
            ref.thread = std::thread([this, &ref] { serve(ref); });
        } catch (const std::system_error&) {
            refuse(client->fd.release(),
                   make_error("too_many_clients", "no thread for another connection"));
            continue;
        }
        clients_.push_back(std::move(client));
    }
}

bool ControlServer::peer_allowed(int fd) const {
    const PeerPolicy& policy = config_.peers;
    if (policy.uids.empty() && policy.gids.empty()) return true;
    ucred credentials{};
    socklen_t length = sizeof credentials;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return false;
    for (uid_t uid : policy.uids) {
        if (uid == credentials.uid) return true;
    }
    for (gid_t gid : policy.gids) {
        if (gid == credentials.gid) return true;
    }
    return false;
}

void ControlServer::refuse(int fd, const Error& error) {
    log_warn("control_refused").kv("code", error.code).kv("peer", describe_peer(fd));
    (void)write_all(fd, encode_error_response(error) + "\n");
    ::close(fd);
}

// Every complete line the reader holds, decoded, in order. Blank lines are no requests; a line
// over the limit or one that does not decode keeps its place with its error, which the dispatch
// answers there.
std::vector<Result<ControlRequest>> ControlServer::decode_lines(LineReader& reader) const {
    std::vector<Result<ControlRequest>> requests;
    while (auto item = reader.next()) {
        if (item->kind == LineReader::Item::Kind::too_long) {
            requests.emplace_back(make_error(
                "line_too_long",
                "request line is longer than " + std::to_string(config_.max_line) + " bytes"));
        } else if (!item->text.empty()) {
            requests.push_back(decode_request(item->text));
        }
    }
    return requests;
}

void ControlServer::count(const std::vector<ControlResponse>& responses) {
    metrics_.control_requests += responses.size();
    for (const ControlResponse& response : responses) {
        if (!response.ok) metrics_.control_errors++;
    }
}

// Reads, answers and writes until the client hangs up or a `tail` takes the connection over.
// A read of publishes that the pipeline takes (a shared broker) is not waited for: their answers
// are written as Redis gives them, in order, while the next reads come in; any other read waits
// until nothing is owed, so that it is carried out after everything before it.
void ControlServer::serve(Client& client) {
    int fd = client.fd.get();
    LineReader reader(config_.max_line);
    AnswerWriter writer(fd);
    std::shared_ptr<PendingAnswers> pending = answers_owed();
    char buffer[65536];
    ControlAnswers answers;
    bool writable = true;
    while (!answers.tail && (writable = await_request(fd, pending.get(), writer))) {
        ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        reader.feed(std::string_view(buffer, static_cast<size_t>(got)));
        std::vector<Result<ControlRequest>> requests = decode_lines(reader);
        if (requests.empty()) continue;
        if (pending && pipeline_(requests, pending)) {
            if (!(writable = write_known(*pending, writer))) break;
            continue;
        }
        if (pending && !(writable = settle(*pending, writer))) break;
        // A `tail` that starts ends the request/response part of the connection: lines after it
        // are neither answered nor counted.
        answers = dispatch_(std::move(requests), writer);
        count(answers.responses);
        for (std::size_t i = answers.handed; i < answers.responses.size(); ++i) {
            writer.add(answers.responses[i]);
        }
        if (!(writable = writer.write_all())) break;
    }
    if (pending) {
        // Reading has stopped; a publish Redis ran is still answered (ControlServer::stop),
        // unless the client is gone.
        if (writable) writable = settle(*pending, writer);
        if (!writable) metrics_.control_requests += pending->owed();
    }
    if (answers.tail) {
        stream_tail(fd, *answers.tail);
        if (answers.on_tail_end) answers.on_tail_end();
    }
    client.done = true;
}

// The connection's answers owed, when it pipelines (a shared broker): none without an eventfd
// to wake it (out of descriptors), and the connection then waits for each read's answers.
std::shared_ptr<PendingAnswers> ControlServer::answers_owed() {
    if (!pipeline_) return nullptr;
    auto pending = std::make_shared<PendingAnswers>(PendingAnswers::Wakeup::eventfd);
    if (pending->ready_fd() >= 0) return pending;
    log_warn("control_not_pipelined").kv("error", std::strerror(errno));
    return nullptr;
}

// Until the client has sent more (true) or writing failed (false), writing the answers owed as
// they become known. With kMaxOwedAnswers owed, the client is not read until some are answered.
bool ControlServer::await_request(int fd, PendingAnswers* pending, AnswerWriter& writer) {
    while (pending != nullptr && pending->owed() > 0) {
        std::optional<int64_t> due = pending->first_deadline();
        int64_t left = due ? *due - PendingAnswers::clock_ms() : 0;
        int timeout = static_cast<int>(std::clamp<int64_t>(left, 0, INT32_MAX));
        bool may_read = pending->owed() < kMaxOwedAnswers;
        pollfd ready[2] = {{pending->ready_fd(), POLLIN, 0}, {fd, POLLIN, 0}};
        int polled = ::poll(ready, may_read ? 2 : 1, timeout);
        if (polled < 0 && errno != EINTR) return false;
        if (!write_known(*pending, writer)) return false;
        if (may_read && polled > 0 && ready[1].revents != 0) return true;
    }
    return true;
}

// The answers known now, in order, written. False when the client is gone.
bool ControlServer::write_known(PendingAnswers& pending, AnswerWriter& writer) {
    std::vector<ControlResponse> known;
    pending.take(known, PendingAnswers::clock_ms());
    if (known.empty()) return true;
    count(known);
    for (const ControlResponse& response : known) writer.add(response);
    return writer.write_all();
}

// Until nothing is owed, writing the answers as they become known. False when the client is gone.
bool ControlServer::settle(PendingAnswers& pending, AnswerWriter& writer) {
    while (pending.owed() > 0) {
        pending.wait(PendingAnswers::clock_ms());
        if (!write_known(pending, writer)) return false;
    }
    return true;
}

// Writes the followed frames as lines until the client hangs up, the stream ends, or the server
// stops. Anything the client sends now is ignored.
void ControlServer::stream_tail(int fd, TailStream& stream) {
    while (!stopping_) {
        TailStream::Batch batch = stream.wait(std::chrono::milliseconds(200));
        std::string out;
        for (const FramePtr& frame : batch.frames) {
            out += frame->text();
            out += '\n';
        }
        if (batch.ended) {
            out +=
                encode_error_response(make_error(batch.reason, "the tail ended: " + batch.reason)) +
                "\n";
        }
        if (!out.empty() && !write_all(fd, out)) return;
        if (batch.ended) return;
        pollfd peer{fd, POLLIN | POLLRDHUP, 0};
        if (::poll(&peer, 1, 0) > 0) {
            if (peer.revents & (POLLRDHUP | POLLHUP | POLLERR)) return;
            char discard[4096];
            if (::read(fd, discard, sizeof discard) <= 0) return;
        }
    }
}

void ControlServer::reap_finished_clients() {
    std::lock_guard lock(clients_mutex_);
    for (auto it = clients_.begin(); it != clients_.end();) {
        if ((*it)->done) {
            (*it)->thread.join();
            it = clients_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace rp::sidecar
