#pragma once
// Where a room's messages get their seq and where they are kept: in this process (memory) or in
// Redis, shared by every sidecar (docs/scaling.md). The control socket and the rooms talk to
// this interface only.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "roompush/control_codec.h"
#include "roompush/error.h"

namespace rp::sidecar {

// One message as the shared broker keeps it; `data` is JSON text.
struct BrokerEntry {
    uint64_t seq = 0;
    int64_t ts_ms = 0;
    std::string event;
    std::string data;
    std::string from;  // a browser's message: its sender (JSON text); empty for the server's
};

// The `from` a message is sent with: the entry's, "{}" when that is not JSON a sidecar wrote.
std::string_view sender_of(const BrokerEntry& entry);

// A live message from another (or this) node.
struct BrokerMessage {
    std::string room;
    std::string epoch;
    BrokerEntry entry;
};

// A room as the shared broker has it: its epoch, its head seq and the retained messages after
// the seq asked for, oldest first.
struct RoomSnapshot {
    std::string room;
    std::string epoch;
    uint64_t head = 0;
    std::vector<BrokerEntry> entries;
    bool load = false;            // the answer to a load (the retained tail), not to a fill
    std::size_t bad_entries = 0;  // stream entries that did not parse and were left out
};

struct HistoryPage {
    std::string epoch;
    uint64_t seq = 0;
    std::vector<std::string> messages;  // `message` JSON objects
};

// A visible member of a room joined or left on another node (presence, docs/websocket.md).
struct PresenceChange {
    std::string room;
    std::string node;
    std::string type;    // join | leave
    std::string member;  // its JSON object
};

// Where a shared broker's answers go; called on the event-loop thread.
struct BrokerListener {
    std::function<void(BrokerMessage)> message;
    std::function<void(RoomSnapshot)> snapshot;  // the answer to fetch()
    std::function<void()> resubscribed;          // pub/sub was (re)established
    // A fetch that Redis refused (not one that waits for a connection): room, load?, why.
    std::function<void(const std::string&, bool, const Error&)> fetch_failed;
    std::function<void(PresenceChange)> presence;  // another node's join or leave
};

class Broker {
public:
    virtual ~Broker() = default;

    // False for the memory broker: the registry is the whole truth and publishes run on the loop.
    virtual bool shared() const = 0;
    virtual Status start(BrokerListener listener) = 0;
    virtual void stop() = 0;

    // Any thread except the loop's; blocks its caller until the message has its seq.
    virtual Result<PublishAck> publish(const ControlRequest& request, int64_t now_ms) = 0;
    // The same without blocking: `done` is called once, on a broker thread (or on the caller's
    // when refused at once). Publishes submitted one after the other are sent to Redis in that
    // order, many at a time (shared brokers; the default simply calls publish()).
    using PublishDone = std::function<void(Result<PublishAck>)>;
    virtual void publish_async(const ControlRequest& request, int64_t now_ms, PublishDone done) {
        done(publish(request, now_ms));
    }
    // Any thread except the loop's; shared brokers only.
    virtual Result<std::optional<HistoryPage>> history(const std::string& room, uint64_t since,
                                                       std::size_t limit) = 0;
    // Loop thread, shared brokers only: the retained tail (no `after`) or what followed `after`;
    // the answer comes to listener.snapshot, once Redis can give it.
    virtual void fetch(const std::string& room, std::optional<uint64_t> after) = 0;
    // Loop thread, shared brokers: the room's last member here left; its live messages are no
    // longer needed on this node.
    virtual void forget(const std::string& room) { (void)room; }
    // Any thread: this node's members, as JSON, for the cluster view (shared brokers only).
    virtual void report_members(std::string json) = 0;
    // Any thread except the loop's: every live node's last report.
    virtual Result<std::vector<std::string>> cluster_reports() = 0;
    // Any thread, never blocks: tells the other nodes (shared brokers; a no-op in memory).
    virtual void announce_presence(const std::string& room, const std::string& type,
                                   const std::string& member) {
        (void)room, (void)type, (void)member;
    }
};

}  // namespace rp::sidecar
