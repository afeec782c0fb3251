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

ControlServer::ControlServer(std::string path, mode_t mode, std::size_t max_line,
                             std::size_t max_clients, PeerPolicy policy, SidecarMetrics& metrics,
                             Handler handler, BatchHandler batch_handler)
    : path_(std::move(path)),
      mode_(mode),
      max_line_(max_line),
      max_clients_(max_clients),
      policy_(std::move(policy)),
      metrics_(metrics),
      handler_(std::move(handler)),
      batch_handler_(std::move(batch_handler)) {}

ControlServer::~ControlServer() { stop(); }

Status ControlServer::start() {
    auto fd = listen_unix(path_, SocketAccess{mode_, std::nullopt}, 64);
    if (!fd) return fd.error();
    listen_fd_ = std::move(*fd);
    accept_thread_ = std::thread([this] { accept_loop(); });
    log_info("control_listening").kv("socket", path_);
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
    for (auto& client : clients) ::shutdown(client->fd.get(), SHUT_RDWR);
    for (auto& client : clients) client->thread.join();
    if (listen_fd_.valid()) {
        listen_fd_.reset();
        ::unlink(path_.c_str());
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
            refuse(fd, make_error("peer_not_allowed",
                                  "this user may not use the control socket (see --control-allow-uid)"));
            continue;
        }
        std::lock_guard lock(clients_mutex_);
        if (clients_.size() >= max_clients_) {
            refuse(fd, make_error("too_many_clients", "the control socket already serves " +
                                                          std::to_string(max_clients_) +
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
            refuse(client->fd.release(), make_error("too_many_clients", "no thread for another connection"));
            continue;
        }
        clients_.push_back(std::move(client));
    }
}

bool ControlServer::peer_allowed(int fd) const {
    if (policy_.uids.empty() && policy_.gids.empty()) return true;
    ucred credentials{};
    socklen_t length = sizeof credentials;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return false;
    for (uid_t uid : policy_.uids) {
        if (uid == credentials.uid) return true;
    }
    for (gid_t gid : policy_.gids) {
        if (gid == credentials.gid) return true;
    }
    return false;
}

void ControlServer::refuse(int fd, const Error& error) {
    log_warn("control_refused").kv("code", error.code).kv("peer", describe_peer(fd));
    (void)write_all(fd, encode_error_response(error) + "\n");
    ::close(fd);
}

// Answers every complete line the reader holds, in order, as one string of response lines. The
// requests between errors are carried out as one batch; a `tail` ends the batch (and the
// request/response part of the connection).
std::string ControlServer::answer_batch(LineReader& reader, std::shared_ptr<TailStream>& stream,
                                        std::function<void()>& on_end) {
    std::vector<std::string> responses;
    std::vector<ControlRequest> batch;
    std::vector<std::size_t> slots;  // where each batched request's response goes
    auto run_batch = [&] {
        if (batch.empty()) return;
        std::vector<std::string> lines = batch_handler_(std::move(batch));
        for (std::size_t i = 0; i < slots.size(); ++i) {
            responses[slots[i]] = i < lines.size() ? std::move(lines[i]) : std::string();
            if (responses[slots[i]].rfind("{\"ok\":false", 0) == 0) metrics_.control_errors++;
        }
        batch.clear();
        slots.clear();
    };
    while (auto item = reader.next()) {
        if (item->kind == LineReader::Item::Kind::line && item->text.empty()) continue;
        metrics_.control_requests++;
        if (item->kind == LineReader::Item::Kind::too_long) {
            metrics_.control_errors++;
            responses.push_back(encode_error_response(make_error(
                "line_too_long", "request line is longer than " + std::to_string(max_line_) + " bytes")));
            continue;
        }
        auto request = decode_request(item->text);
        if (!request) {
            metrics_.control_errors++;
            responses.push_back(encode_error_response(request.error()));
            continue;
        }
        if (request->op != ControlOp::tail) {
            slots.push_back(responses.size());
            responses.emplace_back();
            batch.push_back(std::move(*request));
            continue;
        }
        run_batch();  // what came before the tail is answered before it
        Outcome outcome = handler_(std::move(*request));
        if (outcome.line.rfind("{\"ok\":false", 0) == 0) metrics_.control_errors++;
        stream = std::move(outcome.stream);
        on_end = std::move(outcome.on_stream_end);
        responses.push_back(std::move(outcome.line));
        if (stream) break;  // the rest of the connection is the tail
    }
    run_batch();
    std::string out;
    for (const std::string& line : responses) {
        out += line;
        out += '\n';
    }
    return out;
}

void ControlServer::serve(Client& client) {
    LineReader reader(max_line_);
    char buffer[65536];
    std::shared_ptr<TailStream> stream;
    std::function<void()> on_end;
    while (!stream) {
        ssize_t got = ::read(client.fd.get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        reader.feed(std::string_view(buffer, static_cast<size_t>(got)));
        std::string responses = answer_batch(reader, stream, on_end);
        if (!responses.empty() && !write_all(client.fd.get(), responses)) break;
    }
    if (stream) {
        stream_tail(client.fd.get(), *stream);
        if (on_end) on_end();
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
            out += encode_error_response(make_error(batch.reason, "the tail ended: " + batch.reason)) + "\n";
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
