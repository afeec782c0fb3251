#pragma once
// The control socket: a Unix-domain NDJSON server (docs/protocol.md). It owns its own threads so
// that a slow or hostile client never blocks the WebSocket event loop: it reads and decodes
// lines, counts requests and errors, writes the answers and follows a `tail`; what a request
// does is the dispatch's business (control_dispatch.h).

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

#include "answer_writer.h"
#include "pending_answers.h"
#include "roompush/control_codec.h"
#include "roompush/error.h"
#include "roompush/line_reader.h"
#include "roompush/unix_socket.h"
#include "sidecar_metrics.h"
#include "tail_stream.h"

namespace rp::sidecar {

// What the requests of one read come to: a response per request, in order, and, when the last
// one was a `tail` that started, the stream the rest of the connection follows.
struct ControlAnswers {
    std::vector<ControlResponse> responses;
    std::shared_ptr<TailStream> tail;
    std::function<void()> on_tail_end;  // called once the tail's connection is done
    // The leading responses already given to the connection's AnswerWriter (answer_writer.h).
    std::size_t handed = 0;
};

class ControlServer {
public:
    // Who may connect, checked with SO_PEERCRED: a peer whose uid or gid is listed. Both empty:
    // whoever the socket's file mode lets in.
    struct PeerPolicy {
        std::vector<uid_t> uids;
        std::vector<gid_t> gids;
    };
    struct Config {
        std::string path;
        mode_t mode = 0660;
        std::size_t max_line = kDefaultMaxControlLine;
        std::size_t max_clients = 64;
        PeerPolicy peers;
    };
    // Every request of one read, decoded (or the error its line got), blank lines left out:
    // answered together, so that a pipelined batch costs one hand-over to the event loop
    // (control_dispatch.h). Called from a connection thread; it may block. The dispatch may
    // hand answers to the connection's writer as they become known (ControlAnswers::handed).
    using Dispatch =
        std::function<ControlAnswers(std::vector<Result<ControlRequest>>, AnswerWriter&)>;

    // A read's publishes given to a shared broker without waiting for their answers, which
    // come to the connection's PendingAnswers; false: not such a read (control_dispatch.h).
    using Pipeline = std::function<bool(std::vector<Result<ControlRequest>>&,
                                        const std::shared_ptr<PendingAnswers>&)>;
    // The answers one connection may owe before it is no longer read (checked before each read,
    // so one read can take it past).
    static constexpr std::size_t kMaxOwedAnswers = 4096;

    ControlServer(Config config, SidecarMetrics& metrics, Dispatch dispatch,
                  Pipeline pipeline = {});
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
    std::vector<Result<ControlRequest>> decode_lines(LineReader& reader) const;
    void count(const std::vector<ControlResponse>& responses);
    std::shared_ptr<PendingAnswers> answers_owed();
    bool await_request(int fd, PendingAnswers* pending, AnswerWriter& writer);
    bool write_known(PendingAnswers& pending, AnswerWriter& writer);
    bool settle(PendingAnswers& pending, AnswerWriter& writer);
    void stream_tail(int fd, TailStream& stream);
    void reap_finished_clients();
    void refuse(int fd, const Error& error);
    bool peer_allowed(int fd) const;

    Config config_;
    SidecarMetrics& metrics_;
    Dispatch dispatch_;
    Pipeline pipeline_;
    UniqueFd listen_fd_;
    std::thread accept_thread_;
    std::atomic<bool> stopping_{false};
    std::mutex clients_mutex_;
    std::list<std::unique_ptr<Client>> clients_;
};

}  // namespace rp::sidecar
