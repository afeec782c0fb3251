#pragma once
// The control socket's NDJSON protocol (docs/protocol.md), both directions, in one place:
// the sidecar decodes requests and encodes responses; pushctl and the app do the reverse.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roompush/error.h"
#include "roompush/json.h"

namespace rp {

// The version docs/protocol.md describes (its title says it; a test holds the two together).
inline constexpr int kControlProtocolVersion = 1;
inline constexpr std::size_t kDefaultMaxControlLine = 1 << 20;
// `history` without a `limit` answers at most this many messages.
inline constexpr std::size_t kDefaultHistoryLimit = 1000;
inline constexpr std::size_t kMaxEventNameLength = 64;
inline constexpr std::size_t kMaxIdempotencyKeyLength = 200;

inline constexpr std::size_t kMaxTailRooms = 64;
// The longest the sidecar takes to answer a request it accepted: a publish waiting for Redis
// is answered `unavailable` by then. A client waits longer than that (kControlCallTimeoutMs),
// so that it hears the answer rather than giving up on a connection that works.
inline constexpr int kSidecarAnswerDeadlineMs = 5000;
inline constexpr int kControlCallTimeoutMs = kSidecarAnswerDeadlineMs + 2000;

enum class ControlOp { publish, rooms, room, history, tail, stats, kick, reload };
const char* op_name(ControlOp op);

struct ControlRequest {
    ControlOp op = ControlOp::rooms;
    std::string room;                // publish, room, history, kick; tail (one room)
    std::vector<std::string> rooms;  // tail: every room to follow (room or rooms)
    std::string event;               // publish
    std::string id;                  // publish: idempotency key, may be empty
    std::string data;                // publish: any JSON value, as the JSON text that was sent
    std::optional<uint64_t> since;   // history, tail
    std::optional<uint64_t> limit;   // history
    uint64_t member = 0;             // kick: the member id `room` lists
    bool prometheus = false;         // stats: {"format":"prometheus"} answers {"ok","text"}
    bool cluster = false;            // rooms, room: every node's members (Redis broker)
    // publish from a browser (the WebSocket `publish` command): its sender as a JSON object,
    // set by the sidecar; never read from the control socket.
    std::string from;

    bool operator==(const ControlRequest&) const = default;
};

struct PublishAck {
    uint64_t seq = 0;
    uint64_t delivered = 0;
    bool duplicate = false;  // the id was seen: acked with the original seq, not re-sent
};

struct RoomSummary {
    std::string room;
    uint64_t members = 0;
    uint64_t seq = 0;
    uint64_t retained = 0;
};

// [A-Za-z0-9._:-]{1,64}, like room ids but shorter.
Status check_event_name(std::string_view event);
// A publish's room, event, id and data from `object`, parsed from `text` (whose data is kept
// as it was written). The WebSocket `publish` command has the same fields.
Status decode_publish_fields(const cJSON* object, std::string_view text, ControlRequest& request);

// --- sidecar side ---
// One response as the sidecar sends it. `ok` is a field, so that whoever counts the errors need
// not read it back out of the text; `line` is the bytes on the wire, without the newline. The
// default is the plain {"ok":true}.
struct ControlResponse {
    bool ok = true;
    std::string line = R"({"ok":true})";

    // An encoded {"ok":true,...} line (encode_publish_response and the like).
    static ControlResponse success(std::string line) { return {true, std::move(line)}; }
    // {"ok":false,"error":{"code":C,"message":M}}
    static ControlResponse failure(const Error& error);
    // A line some other encoder made, with `ok` read from it as a client reads it (by parsing).
    // For encoders that answer either way in text (cluster_view.h); prefer the two above.
    static ControlResponse parsed(std::string line);

    bool operator==(const ControlResponse&) const = default;
};

// Validates the whole line with cJSON. A publish's `data` is the value's text exactly as it
// stands in the line (find_member_text), so it is passed on without being printed again; when
// the text is unusual, cJSON's compact printing of the value instead. A plain publish line, the
// common case, is read without building a cJSON tree (scan_publish, which leaves anything cJSON
// might judge otherwise to cJSON), to the same request. A publish whose data is not valid UTF-8
// (which cJSON does not check) is invalid_utf8, by either path.
Result<ControlRequest> decode_request(std::string_view line);
std::string encode_error_response(const Error& error);
std::string encode_publish_response(const PublishAck& ack);
// reload: {"ok":true,"applied":[options],"restart_needed":[options]}
std::string encode_reload_response(const std::vector<std::string>& applied,
                                   const std::vector<std::string>& restart_needed);
std::string encode_rooms_response(const std::vector<RoomSummary>& rooms);

// --- client side ---
std::string encode_publish_request(std::string_view room, std::string_view event, const cJSON* data,
                                   std::string_view id);
// The same with `data` as JSON text (pushctl's argument, file or line), which goes into the
// request as it is written when it is plain JSON on one line (is_verbatim_json, once the
// whitespace around it is trimmed), else as cJSON prints it (a pretty-printed file); bad_json
// when it is not JSON at all, invalid_utf8 when it is JSON but not UTF-8.
Result<std::string> encode_publish_request_text(std::string_view room, std::string_view event,
                                                std::string_view data, std::string_view id);
// Any request given as fields; `fields` is a JSON object without "op".
std::string encode_request(ControlOp op, const cJSON* fields);
// The response object when it says ok:true; its error when ok:false; "bad_response" when the
// line is not a control response at all (wrong socket?).
Result<JsonPtr> decode_response(std::string_view line);
Result<PublishAck> decode_publish_response(const cJSON* response);
Result<std::vector<RoomSummary>> decode_rooms_response(const cJSON* response);

}  // namespace rp
