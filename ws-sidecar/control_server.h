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
#include <vector>

#include "roompush/control_codec.h"
#include "roompush/error.h"
#include "roompush/line_reader.h"
#include "roompush/unix_socket.h"
#include "sidecar_metrics.h"
#include "tail_stream.h"

namespace rp::sidecar {

using LineReaderItem = LineReader::Item;

class ControlServer {
public:
    // What a request turns into: a response line and, for `tail`, the stream that follows it.
    struct Outcome {
        std::string line;
        std::shared_ptr<TailStream> stream;
        std::function<void()> on_stream_end;  // called once the stream's connection is done
    };
    // Called from a connection thread. It may block.
    using Handler = std::function<Outcome(ControlRequest request)>;
    // Every request that arrived in one read (none of them `tail`), carried out together: one
    // hand-over to the event loop for a whole pipelined batch instead of one per line. Returns
    // one response line per request, in order. Called from a connection thread; it may block.
    using BatchHandler = std::function<std::vector<std::string>(std::vector<ControlRequest>)>;

    // Who may connect, checked with SO_PEERCRED: a peer whose uid or gid is listed. Both empty:
    // whoever the socket's file mode lets in.
    struct PeerPolicy {
        std::vector<uid_t> uids;
        std::vector<gid_t> gids;
    };

    ControlServer(std::string path, mode_t mode, std::size_t max_line, std::size_t max_clients,
                  PeerPolicy policy, SidecarMetrics& metrics, Handler handler,
                  BatchHandler batch_handler);
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
    std::string answer_batch(LineReader& reader, std::shared_ptr<TailStream>& stream,
                             std::function<void()>& on_end);
    void stream_tail(int fd, TailStream& stream);
    void reap_finished_clients();
    void refuse(int fd, const Error& error);
    bool peer_allowed(int fd) const;

    std::string path_;
    mode_t mode_;
    std::size_t max_line_;
    std::size_t max_clients_;
    PeerPolicy policy_;
    SidecarMetrics& metrics_;
    Handler handler_;
    BatchHandler batch_handler_;
    UniqueFd listen_fd_;
    std::thread accept_thread_;
    std::atomic<bool> stopping_{false};
    std::mutex clients_mutex_;
    std::list<std::unique_ptr<Client>> clients_;
};

}  // namespace rp::sidecar
