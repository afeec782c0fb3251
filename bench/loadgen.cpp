// roompush-loadgen: the benchmark's load generator. One thread, epoll, loopback only. It opens
// WebSocket subscribers itself (handshake and frame parsing by hand, cheaply), publishes through
// roompush's control socket (pipelined NDJSON, the shared control codec; or through several, the
// nodes of a cluster, taking the publishes in turn), over HTTP (nchan's publisher location), or
// as a browser would (`publish` commands on a WebSocket of its own, a member of the rooms:
// ws:PATH), and measures deliveries, publish→receive latency from a timestamp inside each
// payload, loss, its own CPU and the server processes' CPU and memory.
// Every loop is bounded in count and in time; the whole run ends by --timeout at the latest.
// The result is one JSON object on stdout. One file (~900 lines) on purpose: a benchmark tool
// whose whole event loop, client protocols and accounting are read together when a figure looks
// wrong; it is not product code.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "proc_stats.h"
#include "roompush/control_codec.h"
#include "roompush/json.h"
#include "roompush/message_deflate.h"
#include "wire.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace rp::bench {
namespace {

// What browsers offer (Chromium, Firefox and python3-websockets send this or less).
constexpr const char* kDeflateOffer = "permessage-deflate; client_max_window_bits";
// Larger than any message the bench publishes: more is a fault in what the server sent.
constexpr std::size_t kMaxInflatedBytes = 1u << 24;

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

struct Options {
    std::string mode = "fanout";  // fanout | rate | idle | upload
    std::string ws;               // tcp:HOST:PORT or unix:PATH
    std::string ws_prefix = "/ws/rooms/";
    // control:PATH[,control:PATH...], http:HOST:PORT/PATH-PREFIX/ or ws:PATH (on --ws)
    std::string publish;
    std::string upload;  // tcp:HOST:PORT (POST /cad)
    std::string upload_file;
    std::string room_prefix = "bench";
    bool expect_subscribed = false;
    bool sse = false;      // subscribers read server-sent events (GET --ws-prefix ROOM) instead
    bool deflate = false;  // subscribers offer permessage-deflate
    std::string payload_shape = "pad";  // pad: "p":"xxx…"; job: a job.done result's figures
    int rooms = 1;
    int subs = 100;  // per room
    int messages = 1000;
    double rate = 0;    // rate mode: publishes per second
    int window = 64;    // unacknowledged publishes (or uploads in flight)
    int inflight = 64;  // published but not yet received by everyone, in messages
    int payload = 100;  // bytes of `data`
    int sources = 1;    // 127.0.0.1 .. 127.0.0.N as source addresses
    int connect_concurrency = 256;
    double hold_s = 2;
    double drain_s = 5;
    double timeout_s = 120;
    double connect_timeout_s = 30;
    std::vector<int> server_pids;
    int primary_pid = 0;       // also reported alone (the sidecar of a stack behind nginx)
    std::string latency_dump;  // every delivery's message index and latency, for analysis
};

struct Endpoint {
    bool unix_socket = false;
    std::string path;  // unix
    std::string host;  // tcp
    int port = 0;
    std::string prefix;  // http publisher: the path the room is appended to
};

Endpoint parse_endpoint(const std::string& spec) {
    Endpoint out;
    auto colon = spec.find(':');
    std::string scheme = spec.substr(0, colon);
    std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
    if (scheme == "unix" || scheme == "control") {
        out.unix_socket = true;
        out.path = rest;
        return out;
    }
    auto slash = rest.find('/');
    if (slash != std::string::npos) {
        out.prefix = rest.substr(slash);
        rest = rest.substr(0, slash);
    }
    auto port_at = rest.rfind(':');
    out.host = rest.substr(0, port_at);
    out.port = std::stoi(rest.substr(port_at + 1));
    return out;
}

enum class Kind { sub, control, http_pub, ws_pub, upload };
enum class State { connecting, handshake, open, closed };

struct Conn {
    Kind kind = Kind::sub;
    State state = State::connecting;
    int fd = -1;
    int room = 0;
    bool subscribed = false;
    bool want_out = false;
    uint32_t pending = 0;  // requests without a response yet
    uint64_t received = 0;
    std::vector<uint64_t> last_index;  // per publisher: the last message index received
    std::string in;
    std::string out;
};

struct Counters {
    uint64_t connected = 0, connect_failed = 0, closed_by_server = 0;
    uint64_t published = 0, acked = 0, publish_failed = 0;
    uint64_t received = 0, out_of_order = 0;
    uint64_t wire_bytes = 0;  // what subscribers read from their sockets
    uint64_t deflate_negotiated = 0, compressed_frames = 0, inflate_failed = 0;
    uint64_t uploads_sent = 0, uploads_accepted = 0, uploads_failed = 0, jobs_done = 0;
    uint64_t first_publish_ns = 0, last_publish_ns = 0, last_receive_ns = 0;
    std::vector<uint32_t> latency_us;
    std::vector<uint32_t> latency_index;  // the message of each latency, with --latency-dump
};

class LoadGen {
public:
    explicit LoadGen(Options options) : o_(std::move(options)) {}
    int run();

private:
    int open_socket(const Endpoint& endpoint, int index);
    void add(Conn conn);
    void watch(std::size_t index);
    void start_subscriber(int index);
    bool poll_once(int timeout_ms);
    void on_event(std::size_t index, uint32_t events);
    void on_connected(Conn& conn);
    void on_readable(Conn& conn);
    void on_sub_bytes(Conn& conn, std::string_view bytes);
    void on_frame(Conn& conn, const WsFrame& frame);
    void on_text(Conn& conn, std::string_view payload);
    void on_sse_bytes(Conn& conn, std::string_view bytes);
    void on_publisher_frame(Conn& conn, std::string_view payload);
    bool open_publishers();
    void on_control_bytes(Conn& conn);
    void on_http_bytes(Conn& conn);
    void flush(std::size_t index);
    void fail(Conn& conn);
    void publish_one();
    const std::string& publish_head(uint64_t room);
    std::string payload(uint64_t index);
    void send_upload(std::size_t index);
    bool subscribers_ready() const;
    void connect_all(uint64_t deadline);
    void run_load(uint64_t deadline);
    void close_subscribers();
    void report(const ProcSample& start, const ProcSample& connected, const ProcSample& before,
                const ProcSample& after, const ProcSample& closed, uint64_t client_cpu,
                double connect_s);

    Options o_;
    Endpoint ws_, pub_, upload_;
    int epoll_ = -1;
    std::vector<Conn> conns_;
    std::vector<std::size_t> publishers_;  // conns_ indices; message N goes through N mod size
    std::vector<std::size_t> uploaders_;
    int subs_total_ = 0, subs_started_ = 0, subs_pending_ = 0;
    Counters c_;
    std::string buffer_ = std::string(1 << 16, '\0');
    MessageCompressor compressor_;
    MessageDecompressor decompressor_;
    std::string inflated_;
    // The members of a room are sent the same compressed bytes (the server compresses once per
    // message): each is decompressed once here too, or the generator, not the server, would be
    // what a deflate fanout measures. A hit also shows the bytes were the same.
    struct ViewHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const {
            return std::hash<std::string_view>{}(text);
        }
    };
    std::unordered_map<std::string, std::string, ViewHash, std::equal_to<>> decompressed_;
    std::string deflate_command_;  // idle mode with --deflate: each member sends it once
    std::string upload_body_;
    std::vector<std::string> publish_heads_;  // per room: the control line before its data
    uint64_t primary_start_ = 0, primary_connected_ = 0, primary_cpu_us_ = 0, primary_wakeups_ = 0;
};

int LoadGen::open_socket(const Endpoint& endpoint, int index) {
    int fd = ::socket(endpoint.unix_socket ? AF_UNIX : AF_INET,
                      SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rc;
    if (endpoint.unix_socket) {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, endpoint.path.c_str(), sizeof address.sun_path - 1);
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    } else {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (o_.sources > 1) {  // spread the ephemeral ports over several loopback addresses
            ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            sockaddr_in source{};
            source.sin_family = AF_INET;
            source.sin_addr.s_addr = htonl(0x7f000001u + static_cast<uint32_t>(index % o_.sources));
            ::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source);
        }
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<uint16_t>(endpoint.port));
        ::inet_pton(AF_INET, endpoint.host.c_str(), &address.sin_addr);
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    }
    if (rc != 0 && errno != EINPROGRESS && errno != EAGAIN) {
        ::close(fd);
        return -1;
    }
    return fd;
}

void LoadGen::add(Conn conn) {
    conns_.push_back(std::move(conn));
    std::size_t index = conns_.size() - 1;
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT;  // EPOLLOUT reports the end of the connect
    event.data.u64 = index;
    conns_[index].want_out = true;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, conns_[index].fd, &event);
}

// EPOLLOUT only while there is something to write (or a connect to finish).
void LoadGen::watch(std::size_t index) {
    Conn& conn = conns_[index];
    bool want = conn.state == State::connecting || !conn.out.empty();
    if (want == conn.want_out || conn.fd < 0) return;
    conn.want_out = want;
    epoll_event event{};
    event.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    event.data.u64 = index;
    ::epoll_ctl(epoll_, EPOLL_CTL_MOD, conn.fd, &event);
}

void LoadGen::start_subscriber(int index) {
    Conn conn;
    conn.kind = Kind::sub;
    conn.room = index % o_.rooms;
    conn.fd = open_socket(ws_, index);
    ++subs_started_;
    if (conn.fd < 0) {
        ++c_.connect_failed;
        return;
    }
    ++subs_pending_;
    add(std::move(conn));
}

void LoadGen::fail(Conn& conn) {
    if (conn.fd >= 0) ::close(conn.fd);
    conn.fd = -1;
    if (conn.kind == Kind::sub && conn.state != State::open) {
        ++c_.connect_failed;
        --subs_pending_;
    } else if (conn.kind == Kind::sub) {
        ++c_.closed_by_server;
    }
    conn.state = State::closed;
}

void LoadGen::flush(std::size_t index) {
    Conn& conn = conns_[index];
    for (int round = 0; round < 64 && !conn.out.empty() && conn.fd >= 0; ++round) {
        ssize_t sent = ::send(conn.fd, conn.out.data(), conn.out.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) fail(conn);
            break;
        }
        conn.out.erase(0, static_cast<std::size_t>(sent));
    }
    watch(index);
}

void LoadGen::on_connected(Conn& conn) {
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(conn.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
        fail(conn);
        return;
    }
    if (conn.kind == Kind::sub && o_.sse) {
        // HTTP/1.0: nginx streams the body as it comes, without chunked encoding to undo.
        conn.out += "GET " + o_.ws_prefix + o_.room_prefix + std::to_string(conn.room) +
                    " HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
        conn.state = State::handshake;
    } else if (conn.kind == Kind::sub) {
        std::string path = o_.ws_prefix + o_.room_prefix + std::to_string(conn.room);
        conn.out += ws_handshake_request(path, "127.0.0.1", o_.deflate ? kDeflateOffer : "");
        conn.state = State::handshake;
    } else if (conn.kind == Kind::ws_pub) {
        conn.out += ws_handshake_request(pub_.path, "127.0.0.1");
        conn.state = State::handshake;
    } else {
        conn.state = State::open;
    }
}

void LoadGen::on_event(std::size_t index, uint32_t events) {
    Conn& conn = conns_[index];
    if (conn.fd < 0) return;
    if (conn.state == State::connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        on_connected(conn);
        if (conn.fd < 0) return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(conn);
    if (conn.fd >= 0) flush(index);
}

void LoadGen::on_readable(Conn& conn) {
    for (int round = 0; round < 16 && conn.fd >= 0; ++round) {
        ssize_t got = ::recv(conn.fd, buffer_.data(), buffer_.size(), 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && errno == EAGAIN) return;
        if (got <= 0) {
            fail(conn);
            return;
        }
        std::string_view bytes(buffer_.data(), static_cast<std::size_t>(got));
        if (conn.kind == Kind::sub) c_.wire_bytes += static_cast<uint64_t>(got);
        if (conn.kind == Kind::sub && o_.sse) {
            on_sse_bytes(conn, bytes);
        } else if (conn.kind == Kind::sub || conn.kind == Kind::ws_pub) {
            on_sub_bytes(conn, bytes);
        } else {
            conn.in.append(bytes);
            if (conn.kind == Kind::control)
                on_control_bytes(conn);
            else
                on_http_bytes(conn);
        }
        if (static_cast<std::size_t>(got) < buffer_.size()) return;
    }
}

void LoadGen::on_sub_bytes(Conn& conn, std::string_view bytes) {
    // Parse straight from the read buffer; only an incomplete tail is kept.
    std::string_view view = bytes;
    if (!conn.in.empty()) {
        conn.in.append(bytes);
        view = conn.in;
    }
    std::size_t used = 0;
    if (conn.state == State::handshake) {
        long end = ws_handshake_end(view);
        if (end < 0) {
            fail(conn);
            return;
        }
        if (end == 0) {
            if (conn.in.empty()) conn.in.assign(bytes);
            return;
        }
        used = static_cast<std::size_t>(end);
        conn.state = State::open;
        bool deflate = view.substr(0, used).find("permessage-deflate") != std::string_view::npos;
        if (deflate && conn.kind == Kind::sub) ++c_.deflate_negotiated;
        if (deflate && o_.mode == "idle") {
            // A command compressed, as a browser sends it: the server then holds what it
            // decompresses this member's messages with (the memory the idle figure measures).
            if (deflate_command_.empty()) {
                std::vector<unsigned char> packed;
                compressor_.compress("{\"op\":\"subscribe\",\"room\":\"" + o_.room_prefix + "0\"}",
                                     packed);
                deflate_command_ = ws_client_frame(
                    1,
                    std::string_view(reinterpret_cast<const char*>(packed.data()), packed.size()),
                    true);
            }
            conn.out += deflate_command_;
        }
        if (conn.kind == Kind::ws_pub) {
            // A browser's message needs a member: the publisher joins every room first.
            for (int room = 0; room < o_.rooms; ++room) {
                conn.out += ws_client_frame(1, "{\"op\":\"subscribe\",\"room\":\"" +
                                                   o_.room_prefix + std::to_string(room) + "\"}");
            }
        } else {
            --subs_pending_;
            ++c_.connected;
            if (!o_.expect_subscribed) conn.subscribed = true;
        }
    }
    for (int count = 0; count < 100000; ++count) {
        auto frame = parse_ws_frame(view.substr(used));
        if (!frame) break;
        on_frame(conn, *frame);
        used += frame->consumed;
        if (conn.fd < 0) return;
    }
    if (conn.in.empty()) {
        if (used < view.size()) conn.in.assign(view.substr(used));
    } else {
        conn.in.erase(0, used);
    }
}

void LoadGen::on_frame(Conn& conn, const WsFrame& frame) {
    if (frame.opcode == 9) {  // ping: answer at once
        conn.out += ws_client_frame(10, frame.payload);
        return;
    }
    if (frame.opcode == 8) {
        fail(conn);
        return;
    }
    if (frame.opcode != 1 && frame.opcode != 0) return;
    std::string_view text = frame.payload;
    if (frame.compressed) {
        ++c_.compressed_frames;
        auto known = decompressed_.find(frame.payload);
        if (known == decompressed_.end()) {
            if (!decompressor_.decompress(frame.payload, inflated_, kMaxInflatedBytes)) {
                ++c_.inflate_failed;
                fail(conn);
                return;
            }
            if (decompressed_.size() >= 4096) decompressed_.clear();
            known = decompressed_.emplace(std::string(frame.payload), inflated_).first;
        }
        text = known->second;
    }
    if (conn.kind == Kind::ws_pub) {
        on_publisher_frame(conn, text);
        return;
    }
    on_text(conn, text);
}

// A server-sent event stream: the response head, then events split at blank lines, each one
// data line holding a frame as a WebSocket would carry it (roompush's frames are one line).
void LoadGen::on_sse_bytes(Conn& conn, std::string_view bytes) {
    conn.in.append(bytes);
    std::size_t used = 0;
    if (conn.state == State::handshake) {
        std::size_t end = conn.in.find("\r\n\r\n");
        if (end == std::string::npos) return;
        if (conn.in.compare(0, 12, "HTTP/1.1 200") != 0) {
            fail(conn);
            return;
        }
        used = end + 4;
        conn.state = State::open;
        --subs_pending_;
        ++c_.connected;
        if (!o_.expect_subscribed) conn.subscribed = true;
    }
    for (int count = 0; count < 100000; ++count) {
        std::size_t end = conn.in.find("\n\n", used);
        if (end == std::string::npos) break;
        std::string_view event(conn.in.data() + used, end - used);
        std::size_t data = event.find("data: ");
        if (data != std::string_view::npos) on_text(conn, event.substr(data + 6));
        used = end + 2;
    }
    conn.in.erase(0, used);
}

void LoadGen::on_text(Conn& conn, std::string_view payload) {
    uint64_t now = now_ns();
    if (o_.mode == "upload") {
        if (payload.find("\"event\":\"job.done\"") == std::string_view::npos) {
            if (payload.find("\"type\":\"subscribed\"") != std::string_view::npos) {
                conn.subscribed = true;
            }
            return;
        }
        if (auto sent = find_number(payload, "\"itemId\":\"")) {
            ++c_.jobs_done;
            c_.latency_us.push_back(static_cast<uint32_t>((now - *sent) / 1000));
            c_.last_receive_ns = now;
        }
        return;
    }
    auto stamp = find_number(payload, "\"t\":");
    if (!stamp) {
        if (payload.find("\"type\":\"subscribed\"") != std::string_view::npos) {
            conn.subscribed = true;
        }
        return;
    }
    ++c_.received;
    ++conn.received;
    c_.last_receive_ns = now;
    c_.latency_us.push_back(static_cast<uint32_t>(now > *stamp ? (now - *stamp) / 1000 : 0));
    auto index = find_number(payload, "\"i\":");
    if (!o_.latency_dump.empty()) {  // one entry per latency; 0 when the index is missing
        c_.latency_index.push_back(static_cast<uint32_t>(index.value_or(0)));
    }
    if (index && *index > 0) {
        // Order is defined per publisher: message N went through publisher (N - 1) mod their
        // count, and several publishers' messages to one room interleave as the server ran them.
        std::size_t from = (*index - 1) % std::max<std::size_t>(publishers_.size(), 1);
        if (conn.last_index.size() <= from) conn.last_index.resize(from + 1, 0);
        if (*index <= conn.last_index[from]) ++c_.out_of_order;
        conn.last_index[from] = *index;
    }
}

// The browser-like publisher: its rooms' `subscribed`, an ack or a refusal per publish; the
// messages themselves, which it gets as a member, are not counted as deliveries.
void LoadGen::on_publisher_frame(Conn& conn, std::string_view payload) {
    if (payload.find("\"type\":\"published\"") != std::string_view::npos) {
        --conn.pending;
        ++c_.acked;
    } else if (payload.find("\"type\":\"error\"") != std::string_view::npos) {
        --conn.pending;
        ++c_.publish_failed;
    } else if (payload.find("\"type\":\"subscribed\"") != std::string_view::npos) {
        if (++conn.received == static_cast<uint64_t>(o_.rooms)) conn.subscribed = true;
    }
}

void LoadGen::on_control_bytes(Conn& conn) {
    std::size_t start = 0;
    for (std::size_t end; (end = conn.in.find('\n', start)) != std::string::npos; start = end + 1) {
        std::string_view line(conn.in.data() + start, end - start);
        --conn.pending;
        auto response = decode_response(line);
        if (response && decode_publish_response(response->get()))
            ++c_.acked;
        else
            ++c_.publish_failed;
    }
    conn.in.erase(0, start);
}

void LoadGen::on_http_bytes(Conn& conn) {
    std::size_t used = 0;
    for (int count = 0; count < 100000; ++count) {
        auto response = parse_http_response(std::string_view(conn.in).substr(used));
        if (!response) break;
        used += response->consumed;
        if (conn.pending > 0) --conn.pending;
        bool ok = response->status >= 200 && response->status < 300;
        if (conn.kind == Kind::http_pub) {
            ok ? ++c_.acked : ++c_.publish_failed;
        } else {
            ok ? ++c_.uploads_accepted : ++c_.uploads_failed;
        }
        if (response->status < 0) {
            fail(conn);
            return;
        }
    }
    conn.in.erase(0, used);
}

// --payload-shape job: what a job.done carries (docs/websocket.md), cad-inspect's figures of a
// part, varied per message, about 300 bytes whatever --payload says.
std::string job_done_data(uint64_t time, uint64_t index) {
    uint64_t a = 10 + index % 97, b = 20 + index % 89, c = 5 + index % 83;
    char id[17];
    std::snprintf(id, sizeof id, "%016llx",
                  static_cast<unsigned long long>(index * 0x9e3779b97f4a7c15ULL));
    return "{\"t\":" + std::to_string(time) + ",\"i\":" + std::to_string(index) + ",\"jobId\":\"" +
           id + "\",\"itemId\":\"" + std::to_string(index % 1000) +
           "\",\"status\":\"done\",\"result\":{\"format\":\"stl-binary\",\"name\":\"part " +
           std::to_string(index) + "\",\"triangles\":" + std::to_string(12 + index % 5000) +
           ",\"bbox\":{\"min\":[0,0,0],\"max\":[" + std::to_string(a) + "," + std::to_string(b) +
           "," + std::to_string(c) + "]},\"size\":[" + std::to_string(a) + "," + std::to_string(b) +
           "," + std::to_string(c) + "],\"area\":" + std::to_string(2 * (a * b + b * c + a * c)) +
           ",\"volume\":" + std::to_string(a * b * c) + ",\"preview\":\"/jobs/" + id +
           "/preview.svg\",\"previewSampled\":false}}";
}

std::string LoadGen::payload(uint64_t index) {
    if (o_.payload_shape == "job") return job_done_data(now_ns(), index);
    std::string text =
        "{\"t\":" + std::to_string(now_ns()) + ",\"i\":" + std::to_string(index) + ",\"p\":\"";
    int pad = o_.payload - static_cast<int>(text.size()) - 2;
    text.append(static_cast<std::size_t>(std::max(pad, 1)), 'x');
    text += "\"}";
    return text;
}

// The control line of a publish to `room` up to where its data goes. The shared codec builds it
// (once per room); per publish only the generator's own payload, JSON by construction, is
// appended. Printing the payload through cJSON per publish was ~40 % of the generator's CPU in
// the 1,000-room scenario, CPU the servers under test then lacked.
const std::string& LoadGen::publish_head(uint64_t room) {
    if (publish_heads_.empty()) publish_heads_.resize(static_cast<std::size_t>(o_.rooms));
    std::string& head = publish_heads_[room];
    if (head.empty()) {
        std::string name = o_.room_prefix + std::to_string(room);
        head = *encode_publish_request_text(name, "bench", "0", "");
        // The codec puts data last: the placeholder and the closing brace end the line.
        if (!head.ends_with(",\"data\":0}"))
            throw std::logic_error("unexpected publish line: " + head);
        head.resize(head.size() - 2);
    }
    return head;
}

void LoadGen::publish_one() {
    Conn& conn = conns_[publishers_[c_.published % publishers_.size()]];
    if (conn.fd < 0 || conn.state != State::open) return;
    if (conn.kind == Kind::ws_pub && !conn.subscribed) return;
    uint64_t index = c_.published + 1;
    uint64_t room = c_.published % static_cast<uint64_t>(o_.rooms);
    std::string body = payload(index);
    if (conn.kind == Kind::control) {
        conn.out += publish_head(room);
        conn.out += body;
        conn.out += "}\n";
    } else if (conn.kind == Kind::ws_pub) {
        conn.out += ws_client_frame(1, "{\"op\":\"publish\",\"room\":\"" + o_.room_prefix +
                                           std::to_string(room) +
                                           "\",\"event\":\"bench\",\"data\":" + body + "}");
    } else {
        conn.out +=
            "POST " + pub_.prefix + o_.room_prefix + std::to_string(room) +
            " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
    }
    ++conn.pending;
    ++c_.published;
    c_.last_publish_ns = now_ns();
    if (c_.first_publish_ns == 0) c_.first_publish_ns = c_.last_publish_ns;
}

// --publish: one target, or several control sockets (the nodes of a cluster: control:A,control:B),
// each with a pipelined connection of its own, taking the messages in turn. The window and the
// inflight limit count the publishes of all of them together.
bool LoadGen::open_publishers() {
    std::vector<std::string> specs;
    for (std::size_t start = 0; start <= o_.publish.size();) {
        std::size_t comma = std::min(o_.publish.find(',', start), o_.publish.size());
        specs.push_back(o_.publish.substr(start, comma - start));
        start = comma + 1;
    }
    auto is_control = [](const std::string& spec) { return spec.starts_with("control:"); };
    if (specs.size() > 1 && !std::all_of(specs.begin(), specs.end(), is_control)) {
        std::cerr << "loadgen: --publish: only control:PATH targets can be listed: " << o_.publish
                  << "\n";
        return false;
    }
    for (const std::string& spec : specs) {
        bool ws_publisher = spec.starts_with("ws:");
        pub_ = ws_publisher ? ws_ : parse_endpoint(spec);
        if (ws_publisher) pub_.path = spec.substr(3);  // the WebSocket path on --ws
        Conn conn;
        conn.kind = ws_publisher ? Kind::ws_pub : is_control(spec) ? Kind::control : Kind::http_pub;
        conn.fd = open_socket(ws_publisher ? ws_ : pub_, 0);
        if (conn.fd < 0) {
            std::cerr << "loadgen: --publish: cannot connect to " << spec << ": "
                      << std::strerror(errno) << "\n";
            return false;
        }
        add(std::move(conn));
        publishers_.push_back(conns_.size() - 1);
    }
    return true;
}

void LoadGen::send_upload(std::size_t index) {
    Conn& conn = conns_[index];
    const std::string boundary = "----roompushbench";
    std::string body =
        "--" + boundary + "\r\nContent-Disposition: form-data; name=\"roomId\"\r\n\r\n" +
        o_.room_prefix + "0\r\n--" + boundary +
        "\r\nContent-Disposition: form-data; name=\"itemId\"\r\n\r\n" + std::to_string(now_ns()) +
        "\r\n--" + boundary +
        "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"part.stl\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n" +
        upload_body_ + "\r\n--" + boundary + "--\r\n";
    conn.out +=
        "POST /cad HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=" +
        boundary + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    ++conn.pending;
    ++c_.uploads_sent;
    if (c_.first_publish_ns == 0) c_.first_publish_ns = now_ns();
    flush(index);
}

bool LoadGen::poll_once(int timeout_ms) {
    epoll_event events[256];
    int count = ::epoll_wait(epoll_, events, 256, timeout_ms);
    if (count < 0) return errno == EINTR;
    for (int i = 0; i < count; ++i) on_event(events[i].data.u64, events[i].events);
    return true;
}

bool LoadGen::subscribers_ready() const {
    if (subs_started_ < subs_total_ || subs_pending_ > 0) return false;
    for (const Conn& conn : conns_) {
        if (conn.kind == Kind::sub && conn.state == State::open && !conn.subscribed) return false;
    }
    return true;
}

void LoadGen::connect_all(uint64_t deadline) {
    for (uint64_t rounds = 0; rounds < 10000000 && now_ns() < deadline; ++rounds) {
        while (subs_started_ < subs_total_ && subs_pending_ < o_.connect_concurrency) {
            start_subscriber(subs_started_);
        }
        if (subs_started_ == subs_total_ && subs_pending_ == 0 && subscribers_ready()) return;
        poll_once(10);
    }
}

void LoadGen::run_load(uint64_t deadline) {
    const uint64_t expected_per_publish = static_cast<uint64_t>(o_.subs);
    const uint64_t total = static_cast<uint64_t>(o_.messages);
    uint64_t period_ns = o_.rate > 0 ? static_cast<uint64_t>(1e9 / o_.rate) : 0;
    uint64_t next_ns = now_ns();
    uint64_t drain_deadline = UINT64_MAX;
    std::size_t next_uploader = 0;
    for (uint64_t rounds = 0; rounds < 100000000; ++rounds) {
        uint64_t now = now_ns();
        if (now >= deadline || now >= drain_deadline) return;
        int timeout = 10;
        if (o_.mode == "upload") {
            uint64_t in_flight = c_.uploads_sent - c_.uploads_failed - c_.jobs_done;
            while (c_.uploads_sent < total && in_flight < static_cast<uint64_t>(o_.window)) {
                std::size_t index = uploaders_[next_uploader++ % uploaders_.size()];
                if (conns_[index].pending > 0 || conns_[index].fd < 0) break;
                send_upload(index);
                ++in_flight;
            }
            if (c_.uploads_sent == total && c_.jobs_done + c_.uploads_failed >= total) return;
            if (c_.uploads_sent == total && drain_deadline == UINT64_MAX) {
                drain_deadline = now + static_cast<uint64_t>(o_.drain_s * 1e9) * 4;
            }
        } else if (!publishers_.empty()) {
            for (std::size_t index : publishers_) {
                if (conns_[index].fd < 0) return;
            }
            if (period_ns > 0) {
                for (int burst = 0; burst < 1000 && c_.published < total && now >= next_ns;
                     ++burst) {
                    publish_one();
                    next_ns += period_ns;
                }
                if (c_.published < total) {
                    timeout = static_cast<int>(
                        std::min<uint64_t>(10, (next_ns - std::min(next_ns, now_ns())) / 1000000));
                }
            } else {
                for (int burst = 0; burst < 4096 && c_.published < total; ++burst) {
                    bool window_full = c_.published - c_.acked - c_.publish_failed >=
                                       static_cast<uint64_t>(o_.window);
                    bool behind = c_.published * expected_per_publish - c_.received >=
                                  static_cast<uint64_t>(o_.inflight) * expected_per_publish;
                    if (window_full || behind) break;
                    publish_one();
                }
                timeout = 1;
            }
            for (std::size_t index : publishers_) flush(index);
            uint64_t expected = c_.published * expected_per_publish;
            if (c_.published == total && c_.received >= expected &&
                c_.acked + c_.publish_failed >= total)
                return;
            if (c_.published == total && drain_deadline == UINT64_MAX) {
                drain_deadline = now + static_cast<uint64_t>(o_.drain_s * 1e9);
            }
        } else {
            return;
        }
        poll_once(timeout);
    }
}

void LoadGen::close_subscribers() {
    for (Conn& conn : conns_) {
        if (conn.fd >= 0) ::close(conn.fd);
        conn.fd = -1;
    }
}

double percentile(const std::vector<uint32_t>& sorted, double p) {
    if (sorted.empty()) return 0;
    std::size_t at = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[std::min(at, sorted.size() - 1)];
}

// One line per delivery: the message's index, then its publish->receive latency in µs.
void dump_latencies(const std::string& path, const Counters& counters) {
    FILE* out = std::fopen(path.c_str(), "w");
    if (out == nullptr) return;
    std::size_t count = std::min(counters.latency_us.size(), counters.latency_index.size());
    for (std::size_t i = 0; i < count; ++i) {
        std::fprintf(out, "%u %u\n", counters.latency_index[i], counters.latency_us[i]);
    }
    std::fclose(out);
}

void LoadGen::report(const ProcSample& start, const ProcSample& connected, const ProcSample& before,
                     const ProcSample& after, const ProcSample& closed, uint64_t client_cpu,
                     double connect_s) {
    if (!o_.latency_dump.empty()) dump_latencies(o_.latency_dump, c_);
    std::sort(c_.latency_us.begin(), c_.latency_us.end());
    bool upload = o_.mode == "upload";
    uint64_t deliveries = upload ? c_.jobs_done : c_.received;
    uint64_t expected =
        upload ? c_.uploads_accepted
               : (o_.mode == "idle" ? 0 : c_.published * static_cast<uint64_t>(o_.subs));
    uint64_t end_ns = std::max(c_.last_receive_ns, c_.last_publish_ns);
    double elapsed = c_.first_publish_ns && end_ns > c_.first_publish_ns
                         ? static_cast<double>(end_ns - c_.first_publish_ns) / 1e9
                         : 0;
    uint64_t server_cpu = after.cpu_us - before.cpu_us;
    uint64_t child_cpu = after.child_cpu_us - before.child_cpu_us;
    JsonPtr out = make_object();
    auto put = [&](const char* key, double value) { set_number(out.get(), key, value); };
    set_string(out.get(), "mode", o_.mode);
    put("rooms", o_.rooms);
    put("subs_per_room", o_.subs);
    put("connected", static_cast<double>(c_.connected));
    put("connect_failed", static_cast<double>(c_.connect_failed));
    put("closed_by_server", static_cast<double>(c_.closed_by_server));
    put("connect_s", connect_s);
    put("published", static_cast<double>(upload ? c_.uploads_sent : c_.published));
    put("acked", static_cast<double>(upload ? c_.uploads_accepted : c_.acked));
    put("publish_failed", static_cast<double>(upload ? c_.uploads_failed : c_.publish_failed));
    put("deliveries", static_cast<double>(deliveries));
    put("expected", static_cast<double>(expected));
    put("lost", static_cast<double>(expected > deliveries ? expected - deliveries : 0));
    put("out_of_order", static_cast<double>(c_.out_of_order));
    put("deflate_negotiated", static_cast<double>(c_.deflate_negotiated));
    put("compressed_frames", static_cast<double>(c_.compressed_frames));
    put("inflate_failed", static_cast<double>(c_.inflate_failed));
    put("wire_bytes_per_delivery",
        deliveries ? static_cast<double>(c_.wire_bytes) / static_cast<double>(deliveries) : 0);
    put("elapsed_s", elapsed);
    put("deliveries_per_s", elapsed > 0 ? static_cast<double>(deliveries) / elapsed : 0);
    put("publishes_per_s",
        elapsed > 0 ? static_cast<double>(upload ? c_.uploads_sent : c_.published) / elapsed : 0);
    put("latency_p50_us", percentile(c_.latency_us, 0.50));
    put("latency_p99_us", percentile(c_.latency_us, 0.99));
    put("latency_max_us", c_.latency_us.empty() ? 0 : c_.latency_us.back());
    put("client_cpu_us", static_cast<double>(client_cpu));
    put("client_cpu_pct",
        elapsed > 0 ? 100.0 * static_cast<double>(client_cpu) / 1e6 / elapsed : 0);
    put("client_cpu_us_per_delivery",
        deliveries ? static_cast<double>(client_cpu) / static_cast<double>(deliveries) : 0);
    put("server_cpu_us", static_cast<double>(server_cpu));
    put("server_cpu_us_per_delivery",
        deliveries ? static_cast<double>(server_cpu) / static_cast<double>(deliveries) : 0);
    // The programs the servers ran and reaped in the phase (upload: cad-inspect), apart.
    put("server_child_cpu_us_per_delivery",
        deliveries ? static_cast<double>(child_cpu) / static_cast<double>(deliveries) : 0);
    put("primary_cpu_us_per_delivery",
        deliveries ? static_cast<double>(primary_cpu_us_) / static_cast<double>(deliveries) : 0);
    // Wake-ups: every server thread's sleeps in the phase; those of all but the primary (nginx's
    // workers, in front of the sidecar) apart.
    // A thread that ended in the phase takes its count with it: never below 0.
    uint64_t wakeups = after.wakeups > before.wakeups ? after.wakeups - before.wakeups : 0;
    put("server_wakeups_per_delivery",
        deliveries ? static_cast<double>(wakeups) / static_cast<double>(deliveries) : 0);
    put("hop_wakeups_per_delivery",
        deliveries ? static_cast<double>(wakeups - std::min(wakeups, primary_wakeups_)) /
                         static_cast<double>(deliveries)
                   : 0);
    put("server_pss_kb_start", static_cast<double>(start.pss_kb));
    put("server_pss_kb_connected", static_cast<double>(connected.pss_kb));
    put("server_pss_kb_loaded", static_cast<double>(after.pss_kb));
    put("server_pss_kb_closed", static_cast<double>(closed.pss_kb));
    put("server_kb_per_conn",
        c_.connected ? (static_cast<double>(connected.pss_kb) - static_cast<double>(start.pss_kb)) /
                           static_cast<double>(c_.connected)
                     : 0);
    put("primary_kb_per_conn", c_.connected ? (static_cast<double>(primary_connected_) -
                                               static_cast<double>(primary_start_)) /
                                                  static_cast<double>(c_.connected)
                                            : 0);
    std::cout << to_json(out.get()) << std::endl;
}

int LoadGen::run() {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    uint64_t deadline = now_ns() + static_cast<uint64_t>(o_.timeout_s * 1e9);
    std::vector<pid_t> pids(o_.server_pids.begin(), o_.server_pids.end());
    if (!o_.ws.empty()) ws_ = parse_endpoint(o_.ws);
    if (o_.mode == "upload") {
        upload_ = parse_endpoint(o_.upload);
        FILE* file = std::fopen(o_.upload_file.c_str(), "rb");
        if (file == nullptr) {
            std::cerr << "loadgen: cannot read " << o_.upload_file << "\n";
            return 2;
        }
        char chunk[4096];
        for (std::size_t got; (got = std::fread(chunk, 1, sizeof chunk, file)) > 0;)
            upload_body_.append(chunk, got);
        std::fclose(file);
    }
    subs_total_ = o_.mode == "upload" ? 1 : o_.rooms * o_.subs;
    if (o_.mode == "upload") o_.rooms = 1;
    conns_.reserve(static_cast<std::size_t>(subs_total_) + 64);

    std::vector<pid_t> primary;
    if (o_.primary_pid > 0) primary.push_back(o_.primary_pid);
    ProcSample start = sample_processes(pids);
    primary_start_ = sample_processes(primary).pss_kb;
    uint64_t connect_start = now_ns();
    connect_all(
        std::min(deadline, connect_start + static_cast<uint64_t>(o_.connect_timeout_s * 1e9)));
    double connect_s = static_cast<double>(now_ns() - connect_start) / 1e9;
    if (!o_.publish.empty() && o_.mode != "idle" && o_.mode != "upload" && !open_publishers())
        return 2;
    if (o_.mode == "upload") {
        for (int i = 0; i < o_.window; ++i) {
            Conn conn;
            conn.kind = Kind::upload;
            conn.fd = open_socket(upload_, i);
            if (conn.fd < 0) continue;
            add(std::move(conn));
            uploaders_.push_back(conns_.size() - 1);
        }
    }
    // Let the publisher connect and the servers settle before the measured phase.
    for (int i = 0; i < 20; ++i) poll_once(10);
    ProcSample connected = sample_processes(pids);
    ProcSample primary_before = sample_processes(primary);
    primary_connected_ = primary_before.pss_kb;
    ProcSample before = connected;
    uint64_t client_before = self_cpu_us();
    if (o_.mode == "idle") {
        uint64_t until = std::min(deadline, now_ns() + static_cast<uint64_t>(o_.hold_s * 1e9));
        for (int rounds = 0; rounds < 1000000 && now_ns() < until; ++rounds) poll_once(50);
    } else {
        run_load(deadline);
    }
    uint64_t client_cpu = self_cpu_us() - client_before;
    ProcSample after = sample_processes(pids);
    ProcSample primary_after = sample_processes(primary);
    primary_cpu_us_ = primary_after.cpu_us - primary_before.cpu_us;
    primary_wakeups_ = primary_after.wakeups > primary_before.wakeups
                           ? primary_after.wakeups - primary_before.wakeups
                           : 0;
    close_subscribers();
    // Give the servers time to notice the closes and free what the connections held: the
    // sidecar gives its heap back when half its connections have gone, then again 2 s later
    // at the earliest, on a turn of its loop (the housekeeper brings one every second).
    uint64_t settle = now_ns() + 3500000000ULL;
    while (now_ns() < settle) ::usleep(100000);
    ProcSample closed = sample_processes(pids);
    report(start, connected, before, after, closed, client_cpu, connect_s);
    return 0;
}

}  // namespace
}  // namespace rp::bench

int main(int argc, char** argv) {
    rp::bench::Options o;
    CLI::App app{"roompush-loadgen: WebSocket fanout/latency/memory load generator (loopback)"};
    app.add_option("--mode", o.mode, "fanout | rate | idle | upload")
        ->check(CLI::IsMember({"fanout", "rate", "idle", "upload"}));
    app.add_option("--ws", o.ws, "subscribers connect here: tcp:HOST:PORT or unix:PATH");
    app.add_option("--ws-prefix", o.ws_prefix, "the WebSocket path; the room id is appended");
    app.add_option("--publish", o.publish,
                   "control:PATH (roompush; several, comma-separated, take the messages in "
                   "turn), http:HOST:PORT/PREFIX/ (nchan), or ws:PATH: publish commands on a "
                   "WebSocket to PATH on --ws, as a browser sends them");
    app.add_option("--upload", o.upload, "upload mode: tcp:HOST:PORT taking POST /cad");
    app.add_option("--upload-file", o.upload_file, "upload mode: the file to upload");
    app.add_option("--room-prefix", o.room_prefix, "rooms are PREFIX0, PREFIX1, ...");
    app.add_flag("--expect-subscribed", o.expect_subscribed,
                 "wait for roompush's subscribed frame");
    app.add_flag("--sse", o.sse,
                 "subscribers read server-sent events: GET WS-PREFIX ROOM on --ws (roompush's "
                 "/sse/rooms/)");
    app.add_flag("--deflate", o.deflate,
                 "subscribers offer permessage-deflate; in idle mode each then sends one "
                 "compressed command");
    app.add_option("--payload-shape", o.payload_shape,
                   "pad (\"p\":\"xxx…\" up to --payload) or job (a job.done's result figures)")
        ->check(CLI::IsMember({"pad", "job"}));
    app.add_option("--rooms", o.rooms)->check(CLI::Range(1, 100000));
    app.add_option("--subs", o.subs, "subscribers per room")->check(CLI::Range(0, 20000));
    app.add_option("--messages", o.messages, "publishes (or uploads)")
        ->check(CLI::Range(0, 10000000));
    app.add_option("--rate", o.rate, "rate mode: publishes per second");
    app.add_option("--window", o.window, "unacknowledged publishes / uploads in flight")
        ->check(CLI::Range(1, 100000));
    app.add_option("--inflight", o.inflight, "messages published but not yet received by all")
        ->check(CLI::Range(1, 1000000));
    app.add_option("--payload", o.payload, "bytes of data per message")
        ->check(CLI::Range(16, 65536));
    app.add_option("--sources", o.sources, "source addresses 127.0.0.1..N")
        ->check(CLI::Range(1, 250));
    app.add_option("--connect-concurrency", o.connect_concurrency)->check(CLI::Range(1, 10000));
    app.add_option("--hold", o.hold_s, "idle mode: seconds to hold the connections");
    app.add_option("--drain", o.drain_s, "seconds to wait for stragglers after the last publish");
    app.add_option("--connect-timeout", o.connect_timeout_s,
                   "seconds for every subscriber to connect");
    app.add_option("--timeout", o.timeout_s, "the whole run ends by then")
        ->check(CLI::Range(1.0, 3600.0));
    app.add_option("--server-pids", o.server_pids, "processes whose CPU and PSS are measured")
        ->delimiter(',');
    app.add_option("--primary-pid", o.primary_pid,
                   "one of them whose memory and CPU are also reported alone");
    app.add_option("--latency-dump", o.latency_dump, "write 'INDEX LATENCY_US' per delivery here");
    CLI11_PARSE(app, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    return rp::bench::LoadGen(o).run();
}
