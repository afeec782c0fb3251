#pragma once
// The FastCGI side: accept threads that turn libfcgi requests into HttpRequest and write back
// HttpResponse. Only fcgi_server.cpp sees <fcgiapp.h>.

#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

#include "http_types.h"

namespace rp::app {

class FcgiServer {
public:
    using Handler = std::function<HttpResponse(HttpRequest&)>;

    FcgiServer(int listen_fd, std::size_t threads, Handler handler);
    ~FcgiServer();

    void start();
    // Releases every accepting thread and waits for requests in hand to finish.
    void stop();

private:
    void serve();

    int listen_fd_;
    std::size_t thread_count_;
    Handler handler_;
    std::vector<std::thread> threads_;
};

}  // namespace rp::app
