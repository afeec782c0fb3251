#include "fcgi_server.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "roompush/log.h"

namespace rp::app {
namespace {

class FcgiBody : public BodyReader {
public:
    explicit FcgiBody(FCGX_Stream* in) : in_(in) {}
    ssize_t read(char* buffer, std::size_t capacity) override {
        int got = FCGX_GetStr(buffer, static_cast<int>(capacity), in_);
        if (got < 0 || FCGX_GetError(in_) != 0) return -1;
        return got;
    }

private:
    FCGX_Stream* in_;
};

std::string param(FCGX_Request& request, const char* name) {
    const char* value = FCGX_GetParam(name, request.envp);
    return value ? value : "";
}

HttpRequest translate(FCGX_Request& raw, BodyReader& body) {
    HttpRequest request;
    request.method = param(raw, "REQUEST_METHOD");
    request.path = param(raw, "DOCUMENT_URI");
    if (request.path.empty()) {
        request.path = param(raw, "REQUEST_URI");
        request.path = request.path.substr(0, request.path.find('?'));
    }
    request.query = param(raw, "QUERY_STRING");
    request.content_type = param(raw, "CONTENT_TYPE");
    std::string length = param(raw, "CONTENT_LENGTH");
    if (!length.empty()) {
        char* end = nullptr;
        unsigned long long parsed = std::strtoull(length.c_str(), &end, 10);
        if (end != nullptr && *end == '\0') request.content_length = parsed;
    }
    request.prefer = param(raw, "HTTP_PREFER");
    request.remote_addr = param(raw, "REMOTE_ADDR");
    request.body = &body;
    return request;
}

void write_response(FCGX_Request& raw, const HttpResponse& response) {
    std::string head =
        "Status: " + std::to_string(response.status) + " " + status_text(response.status) + "\r\n";
    for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
    head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n";
    FCGX_PutStr(head.data(), static_cast<int>(head.size()), raw.out);
    FCGX_PutStr(response.body.data(), static_cast<int>(response.body.size()), raw.out);
}

}  // namespace

FcgiServer::FcgiServer(int listen_fd, std::size_t threads, Handler handler)
    : listen_fd_(listen_fd), thread_count_(threads), handler_(std::move(handler)) {}

FcgiServer::~FcgiServer() { stop(); }

// Threads wait in poll() on the listening socket and the stop eventfd, never in a blocking
// accept(): the listener is non-blocking, so a thread that loses the race for a connection gets
// EAGAIN from libfcgi's accept and polls again. (Waking blocked accepts with shutdown() would
// break the socket systemd keeps for the next instance: every later request would be refused.)
Status FcgiServer::start() {
    FCGX_Init();
    stop_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_fd_.valid())
        return make_error("start_failed", std::string("eventfd: ") + std::strerror(errno));
    int flags = ::fcntl(listen_fd_, F_GETFL);
    if (flags < 0 || ::fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK) != 0) {
        return make_error("start_failed", std::string("fcntl(O_NONBLOCK) on the FastCGI socket: ") +
                                              std::strerror(errno));
    }
    for (std::size_t i = 0; i < thread_count_; ++i) threads_.emplace_back([this] { serve(); });
    return ok_status();
}

void FcgiServer::stop() {
    if (threads_.empty()) return;
    uint64_t one = 1;
    ssize_t ignored = ::write(stop_fd_.get(), &one, sizeof one);
    (void)ignored;
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
}

// True when `fd` has something to read; false once stop() was called.
bool FcgiServer::wait_for_connection(int fd) const {
    pollfd watched[2] = {{fd, POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    while (true) {
        int ready = ::poll(watched, 2, -1);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0 || (watched[1].revents & POLLIN) != 0) return false;
        if (watched[0].revents != 0) return true;
    }
}

void FcgiServer::serve() {
    FCGX_Request raw;
    FCGX_InitRequest(&raw, listen_fd_, 0);
    // A connection nginx keeps open (fastcgi_keep_conn) is waited on like the listener.
    while (wait_for_connection(raw.ipcFd >= 0 ? raw.ipcFd : listen_fd_)) {
        if (int failed = FCGX_Accept_r(&raw); failed != 0) {
            // Another thread took the connection (EAGAIN), or it closed before its request
            // arrived: wait again. Anything else (out of descriptors) is worth a pause.
            if (-failed != EAGAIN && -failed != EWOULDBLOCK) {
                log_warn("accept_failed").kv("error", std::strerror(-failed > 0 ? -failed : EIO));
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            continue;
        }
        FcgiBody body(raw.in);
        HttpRequest request = translate(raw, body);
        HttpResponse response;
        try {
            response = handler_(request);
        } catch (const std::exception& error) {
            log_error("request_failed").kv("path", request.path).kv("error", error.what());
            response = error_response(500, make_error("internal", "internal error"));
        }
        write_response(raw, response);
        FCGX_Finish_r(&raw);
    }
    FCGX_Free(&raw, 0);
}

}  // namespace rp::app
