#include "control_server.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
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

ControlServer::ControlServer(Config config, SidecarMetrics& metrics, Dispatch dispatch)
    : config_(std::move(config)), metrics_(metrics), dispatch_(std::move(dispatch)) {}

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

// Answers every complete line the reader holds, in order. Blank lines are no requests; a line
// over the limit or one that does not decode is answered with its error by the dispatch, in its
// place. A `tail` that starts ends the request/response part of the connection: lines after it
// are neither answered nor counted.
ControlAnswers ControlServer::answer(LineReader& reader, AnswerWriter& writer) {
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
    if (requests.empty()) return {};
    ControlAnswers answers = dispatch_(std::move(requests), writer);
    metrics_.control_requests += answers.responses.size();
    for (const ControlResponse& response : answers.responses) {
        if (!response.ok) metrics_.control_errors++;
    }
    return answers;
}

void ControlServer::serve(Client& client) {
    LineReader reader(config_.max_line);
    AnswerWriter writer(client.fd.get());
    char buffer[65536];
    ControlAnswers answers;
    while (!answers.tail) {
        ssize_t got = ::read(client.fd.get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        reader.feed(std::string_view(buffer, static_cast<size_t>(got)));
        answers = answer(reader, writer);
        for (std::size_t i = answers.handed; i < answers.responses.size(); ++i) {
            writer.add(answers.responses[i]);
        }
        if (!writer.write_all()) break;
    }
    if (answers.tail) {
        stream_tail(client.fd.get(), *answers.tail);
        if (answers.on_tail_end) answers.on_tail_end();
    }
    client.done = true;
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
