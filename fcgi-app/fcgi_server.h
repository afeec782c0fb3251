#pragma once
// The FastCGI side: accept threads that turn libfcgi requests into HttpRequest and write back
// HttpResponse. Only fcgi_server.cpp sees <fcgiapp.h>.

#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

#include "http_types.h"
#include "roompush/unix_socket.h"

namespace rp::app {

class FcgiServer {
public:
    using Handler = std::function<HttpResponse(HttpRequest&)>;

    FcgiServer(int listen_fd, std::size_t threads, Handler handler);
    ~FcgiServer();

    Status start();
    // Releases every accepting thread and waits for requests in hand to finish. The listening
    // socket stays as it is: under socket activation it is systemd's, and the connections
    // waiting in its backlog belong to the next instance.
    void stop();

private:
    void serve();
    bool wait_for_connection(int fd) const;

    int listen_fd_;
    UniqueFd stop_fd_;  // an eventfd, readable once stop() was called
    std::size_t thread_count_;
    Handler handler_;
    std::vector<std::thread> threads_;
};

}  // namespace rp::app
