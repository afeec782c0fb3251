#include "fcgi_server.h"

#include <fcgiapp.h>
#include <sys/socket.h>

#include <cstdlib>
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
    std::string head = "Status: " + std::to_string(response.status) + " " +
                       status_text(response.status) + "\r\n";
    for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
    head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n";
    FCGX_PutStr(head.data(), static_cast<int>(head.size()), raw.out);
    FCGX_PutStr(response.body.data(), static_cast<int>(response.body.size()), raw.out);
}

}  // namespace

FcgiServer::FcgiServer(int listen_fd, std::size_t threads, Handler handler)
    : listen_fd_(listen_fd), thread_count_(threads), handler_(std::move(handler)) {}

FcgiServer::~FcgiServer() { stop(); }

void FcgiServer::start() {
    FCGX_Init();
    for (std::size_t i = 0; i < thread_count_; ++i) threads_.emplace_back([this] { serve(); });
}

void FcgiServer::stop() {
    if (threads_.empty()) return;
    FCGX_ShutdownPending();
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes every thread blocked in accept()
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
}

void FcgiServer::serve() {
    FCGX_Request raw;
    FCGX_InitRequest(&raw, listen_fd_, 0);
    while (FCGX_Accept_r(&raw) == 0) {
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
