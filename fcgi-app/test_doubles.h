#pragma once
// The stand-ins the app's unit tests share: a request body from memory, the sidecar's control
// socket, and the readers of a JSON response. One copy of each, so that a change to BodyReader,
// to the control protocol (docs/protocol.md) or to the error body is made in one place.
//
// Its own namespace, not `testing`: inside rp::app that name would hide GoogleTest's.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_types.h"
#include "roompush/control_codec.h"
#include "roompush/line_reader.h"
#include "roompush/unix_socket.h"

namespace rp::app::test_doubles {

// Stands in for the body libfcgi reads from nginx, so a handler can be fed any bytes without a
// FastCGI connection. Each read hands out at most `chunk` bytes (by default all that fits), so a
// test can make the handler join a body that comes in pieces; with `cut_off` the end is a
// transport error (-1), as when the client goes away mid-upload, instead of 0.
class StringBody : public BodyReader {
public:
    explicit StringBody(std::string data,
                        std::size_t chunk = std::numeric_limits<std::size_t>::max(),
                        bool cut_off = false)
        : data_(std::move(data)), chunk_(chunk), cut_off_(cut_off) {}
    ssize_t read(char* buffer, std::size_t capacity) override {
        if (pos_ == data_.size()) return cut_off_ ? -1 : 0;
        std::size_t n = std::min({capacity, chunk_, data_.size() - pos_});
        data_.copy(buffer, n, pos_);
        pos_ += n;
        return static_cast<ssize_t>(n);
    }
    // Whether the handler read (or drained) the whole body, as nginx needs it to.
    bool at_end() const { return pos_ == data_.size(); }

private:
    std::string data_;
    std::size_t chunk_;
    bool cut_off_;
    std::size_t pos_ = 0;
};

// Stands in for the sidecar's control socket, so PushSender can be tested against a real Unix
// socket without the sidecar's event loop: a thread that serves one client at a time, acks every
// publish with seq 1, 2, ... (refusing those whose event is "bad" with invalid_event) and
// remembers the acked requests in the order they came. Destroy it after its clients.
class FakeSidecar {
public:
    explicit FakeSidecar(const std::string& path) {
        auto fd = listen_unix(path, SocketAccess{0600, std::nullopt}, 8);
        EXPECT_TRUE(fd.ok());
        listener_ = std::move(*fd);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeSidecar() {
        ::shutdown(listener_.get(), SHUT_RDWR);
        thread_.join();
    }
    std::vector<ControlRequest> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    // The idempotency keys of the acked publishes, in order.
    std::vector<std::string> keys() {
        std::vector<std::string> ids;
        for (const ControlRequest& request : requests()) ids.push_back(request.id);
        return ids;
    }

private:
    void serve() {
        for (;;) {
            UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!client.valid()) return;
            LineReader reader(1 << 22);  // room for the largest push body (1 MiB) escaped
            char buffer[4096];
            ssize_t got;
            while ((got = ::read(client.get(), buffer, sizeof buffer)) > 0) {
                reader.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
                while (auto item = reader.next()) answer(client.get(), item->text);
            }
        }
    }
    void answer(int fd, const std::string& line) {
        auto request = decode_request(line);
        ASSERT_TRUE(request.ok());
        if (request->event == "bad") {
            (void)write_all(fd, encode_error_response(make_error("invalid_event", "no")) + "\n");
            return;
        }
        std::lock_guard lock(mutex_);
        requests_.push_back(*request);
        PublishAck ack;
        ack.seq = requests_.size();
        (void)write_all(fd, encode_publish_response(ack) + "\n");
    }

    UniqueFd listener_;
    std::thread thread_;
    std::mutex mutex_;
    std::vector<ControlRequest> requests_;
};

// Readers of an HttpResponse, for the assertions: tests check the stable error code
// ({"error":{"code":...}}, docs/http.md), not the message meant for people.

inline const cJSON* member(const cJSON* object, const char* key) {
    return cJSON_GetObjectItemCaseSensitive(object, key);
}

inline std::string header(const HttpResponse& response, const std::string& name) {
    for (const auto& [key, value] : response.headers) {
        if (key == name) return value;
    }
    return "";
}

inline std::string error_code(const HttpResponse& response) {
    auto body = parse_json(response.body);
    if (!body) return "<not json>";
    const cJSON* code = member(member(body->get(), "error"), "code");
    return cJSON_IsString(code) ? code->valuestring : "<no code>";
}

}  // namespace rp::app::test_doubles
