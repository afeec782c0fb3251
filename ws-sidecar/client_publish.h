#pragma once
// Messages from browsers (docs/websocket.md, `publish`): whether a member may send one, and the
// publisher that takes an admitted one to the broker and its ack back to the sender.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "roompush/control_codec.h"
#include "roompush/error.h"
#include "session.h"
#include "token_bucket.h"

namespace rp::sidecar {

struct ClientPublishRules {
    bool tokens = false;      // rooms need tokens: their "publish" capability decides
    bool open_rooms = false;  // --client-publish: without tokens, every member may send
    std::size_t max_bytes = 2048;
    TokenRate rate;
    std::string_view node_id;  // names the connection in `from` across sidecars
};

// Events only the server sends (the jobs' own): a browser's message may not pass as one.
bool is_server_event(std::string_view event);

// The `from` of a browser's message: {"conn":"NODE/SESSION"} and, when its token named one,
// "user"; a presence member also has its token's "info" (a JSON object's text). JSON text.
std::string sender_json(std::string_view node_id, SessionId id, std::string_view user,
                        std::string_view info = {});

// Checks a publish in the order a client can act on: membership, the right to send, the event
// name, the size, then the rate (so that a refused message costs no budget). The admitted
// request carries its sender in `from`. Every refusal keeps the connection.
Result<ControlRequest> admit_client_publish(Session& session, bool member, ControlRequest request,
                                            const ClientPublishRules& rules, int64_t now_ms);

// What browsers ask of the broker. Takes admitted publishes to it: the ack (`published`) or the
// refusal (`error` with the room and id) reaches the session on the loop. With a shared broker
// also carries presence across nodes. Loop thread.
class ClientPublisher {
public:
    using Reports = Result<std::vector<std::string>>;
    virtual ~ClientPublisher() = default;
    // False when it cannot take more now; the caller refuses the publish (`unavailable`).
    virtual bool submit(SessionId id, ControlRequest request) = 0;
    // A visible member of this node joined or left (`type`): the other nodes hear it.
    virtual void presence_changed(const std::string& room, const char* type,
                                  const std::string& member) = 0;
    // Shared broker: every node's report (cluster_view.h) comes to `answer`, on the loop. False
    // with the memory broker (this node is the whole truth) or when it cannot take more now.
    virtual bool ask_cluster(std::function<void(Reports)> answer) = 0;
};

}  // namespace rp::sidecar
