#pragma once
// The control socket: a Unix-domain NDJSON server (docs/protocol.md). It owns its own threads so
// that a slow or hostile client never blocks the WebSocket event loop; requests are carried out
// on the loop through the handler.

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "roompush/control_codec.h"
#include "roompush/error.h"
#include "roompush/unix_socket.h"

namespace rp::sidecar {

class ControlServer {
public:
    // Called from a connection thread; returns the response line. It may block.
    using Handler = std::function<std::string(ControlRequest request)>;

    ControlServer(std::string path, mode_t mode, std::size_t max_line, std::size_t max_clients,
                  Handler handler);
    ~ControlServer();

    Status start();
    void stop();

private:
    struct Client {
        UniqueFd fd;
        std::thread thread;
        std::atomic<bool> done{false};
    };

    void accept_loop();
    void serve(Client& client);
    void reap_finished_clients();
    void refuse(int fd, const Error& error);

    std::string path_;
    mode_t mode_;
    std::size_t max_line_;
    std::size_t max_clients_;
    Handler handler_;
    UniqueFd listen_fd_;
    std::thread accept_thread_;
    std::atomic<bool> stopping_{false};
    std::mutex clients_mutex_;
    std::list<std::unique_ptr<Client>> clients_;
};

}  // namespace rp::sidecar
