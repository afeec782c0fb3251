#include "ws_engine.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "roompush/json.h"

namespace rp::sidecar {
namespace {

using namespace std::chrono_literals;

// A connection as the fake loop keeps it: what lws would allocate for it, and its request.
struct FakeConnection {
    WsConnection state{};  // zeroed, as libwebsockets gives it
    std::map<RequestHeader, std::string> headers;
    std::size_t announced = 0;
};

Wire* wire_of(FakeConnection& connection) { return reinterpret_cast<Wire*>(&connection); }
FakeConnection& fake_of(Wire* wire) { return *reinterpret_cast<FakeConnection*>(wire); }

// Records what the engine asks of the loop, one line per call.
struct FakePort : WsPort {
    std::vector<std::string> calls;
    std::vector<std::string> header_reads;
    std::vector<std::string> written;  // frames, as a client would read them

    void request_writeable(Wire*) override { calls.push_back("writeable"); }
    bool can_write_now(Wire*) override { return true; }
    bool write_frame(Wire*, Frame& frame) override {
        written.emplace_back(frame.text());
        return true;
    }
    bool write_frames(Wire*, unsigned char*, std::size_t) override { return true; }
    void close_soon(Wire*) override { calls.push_back("close_soon"); }
    void set_close(Wire*, CloseCode code, std::string reason) override {
        calls.push_back("close " + std::to_string(static_cast<int>(code)) + " " + reason);
    }
    void schedule_turn_end() override {}
    void cancel_turn_end() override {}
    std::string header(Wire* wire, RequestHeader which) override {
        header_reads.push_back(std::to_string(static_cast<int>(which)));
        auto found = fake_of(wire).headers.find(which);
        return found == fake_of(wire).headers.end() ? "" : found->second;
    }
    WsConnection* connection(Wire* wire) override { return &fake_of(wire).state; }
    std::size_t announced(Wire* wire) override { return fake_of(wire).announced; }
    void answer_now(Wire*, const HttpAnswer& answer) override {
        calls.push_back("answer " + std::to_string(answer.status) + " " + answer.body);
    }
    bool send_headers(Wire*, int status, const char* type, std::size_t length) override {
        calls.push_back("headers " + std::to_string(status) + " " + type + " " +
                        std::to_string(length));
        return true;
    }
    bool send_body(Wire*, const std::string& body) override {
        calls.push_back("body " + body);
        return true;
    }
    bool complete_transaction(Wire*) override { return false; }
    bool send_stream_headers(Wire*) override {
        calls.push_back("stream headers");
        return true;
    }
    bool send_stream_bytes(Wire*, const std::string& bytes) override {
        streamed += bytes;
        return true;
    }
    std::string streamed;
    std::vector<std::string> take() { return std::exchange(calls, {}); }
};

int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class Engine : public testing::Test {
protected:
    SidecarConfig config = [] {
        SidecarConfig c;
        c.max_client_frame = 64;
        return c;
    }();
    SidecarMetrics metrics;
    RoomRegistry registry{RegistryLimits{1 << 20, 8, HistoryLimits{100, 1 << 20, 60000}}, metrics};
    FakePort port;
    WsEngine engine{config, registry, metrics, port, 16};

    void TearDown() override {
        for (auto& connection : connections) engine.closed(&connection->state);
    }

    FakeConnection& open(const std::string& path, const std::string& peer = "") {
        connections.push_back(std::make_unique<FakeConnection>());
        FakeConnection& connection = *connections.back();
        connection.headers[RequestHeader::path] = path;
        if (!peer.empty()) connection.headers[RequestHeader::forwarded_for] = peer;
        engine.opened(wire_of(connection), &connection.state);
        return connection;
    }
    Reply send(FakeConnection& connection, std::string_view text, bool final = true,
               std::size_t announced = 0) {
        return engine.received(wire_of(connection), &connection.state,
                               Fragment{text, false, final, announced});
    }
    // The types (and codes, for errors) of what the session has queued, taken off the queue.
    std::vector<std::string> queued(FakeConnection& connection) {
        std::vector<std::string> out;
        Session* session = registry.find(connection.state.id);
        while (FramePtr frame = session->pop()) {
            auto json = parse_json(frame->text());
            std::string type = *require_string(json->get(), "type");
            if (type == "error") type += " " + *require_string(json->get(), "code");
            out.push_back(type);
        }
        return out;
    }
    std::string close_code(FakeConnection& connection) {
        auto close = registry.find(connection.state.id)->due_close();
        return close ? std::to_string(static_cast<int>(close->code)) : "none";
    }

    std::vector<std::unique_ptr<FakeConnection>> connections;
};

/* ---- a connection's life ----------------------------------------------------------------- */

TEST_F(Engine, AnOpenedConnectionIsASessionAndJoinsTheRoomOfItsPath) {
    FakeConnection& connection = open("/ws/rooms/A", "203.0.113.7");
    ASSERT_NE(connection.state.id, 0u);
    EXPECT_NE(connection.state.incoming, nullptr);
    EXPECT_EQ(registry.find(connection.state.id)->peer(), "203.0.113.7");
    EXPECT_TRUE(registry.is_member(connection.state.id, "A"));
    EXPECT_EQ(engine.scheduler().connections().at(connection.state.id), wire_of(connection));
    EXPECT_EQ(port.take(), (std::vector<std::string>{"writeable"}));
    EXPECT_EQ(queued(connection), (std::vector<std::string>{"subscribed"}));
}

TEST_F(Engine, APeerWithoutForwardedForIsLocal) {
    FakeConnection& connection = open("/ws");
    EXPECT_EQ(registry.find(connection.state.id)->peer(), "local");
}

TEST_F(Engine, FragmentsMakeOneCommand) {
    FakeConnection& connection = open("/ws");
    port.take();
    EXPECT_EQ(send(connection, R"({"op":"subscribe",)", false), Reply::go_on);
    EXPECT_TRUE(queued(connection).empty());
    EXPECT_EQ(send(connection, R"("room":"B"})", true), Reply::go_on);
    EXPECT_EQ(queued(connection), (std::vector<std::string>{"subscribed"}));
    EXPECT_EQ(port.take(), (std::vector<std::string>{"writeable", "writeable"}));
}

TEST_F(Engine, AFrameAnnouncingMoreThanMaxFrameGets1009AndTheRestIsIgnored) {
    FakeConnection& connection = open("/ws");
    port.take();
    send(connection, "{", true, 64);
    EXPECT_EQ(queued(connection), (std::vector<std::string>{"error frame_too_big"}));
    EXPECT_EQ(close_code(connection), "1009");
    EXPECT_EQ(port.take(), (std::vector<std::string>{"writeable"}));
    send(connection, R"({"op":"subscribe","room":"B"})");
    EXPECT_TRUE(queued(connection).empty());
    EXPECT_TRUE(port.take().empty()) << "nothing more after a refusal";
}

TEST_F(Engine, ABinaryFrameGets1003) {
    FakeConnection& connection = open("/ws");
    engine.received(wire_of(connection), &connection.state, Fragment{"\x01", true, true, 0});
    EXPECT_EQ(queued(connection), (std::vector<std::string>{"error binary_frame"}));
    EXPECT_EQ(close_code(connection), "1003");
}

TEST_F(Engine, AHeaderThatAnnouncedTooMuchAndThenNothingIsRefusedOnTheSecondCheck) {
    FakeConnection& quiet = open("/ws");
    FakeConnection& stalled = open("/ws");
    send(stalled, "{\"op\":", false, 0);
    stalled.announced = 70;  // 6 + 70 > 64, and 70 alone too
    quiet.announced = 58;    // 0 + 58 <= 64
    port.take();
    engine.refuse_oversized_frames();
    EXPECT_EQ(queued(stalled), (std::vector<std::string>{"error frame_too_big"}));
    EXPECT_EQ(close_code(stalled), "1009");
    EXPECT_TRUE(queued(quiet).empty());
    EXPECT_EQ(port.take(), (std::vector<std::string>{"writeable"}));
    engine.refuse_oversized_frames();
    EXPECT_TRUE(port.take().empty()) << "a closing connection is refused once";
}

TEST_F(Engine, TheWriteableCallbackSendsTheQueueThenTheClose) {
    FakeConnection& connection = open("/ws");
    send(connection, "{nope");
    port.take();
    EXPECT_EQ(engine.writeable(wire_of(connection), &connection.state), Reply::go_on);
    ASSERT_EQ(port.written.size(), 1u);
    EXPECT_NE(port.written[0].find("bad_json"), std::string::npos);
    EXPECT_EQ(engine.writeable(wire_of(connection), &connection.state), Reply::close);
    EXPECT_EQ(port.take(), (std::vector<std::string>{"writeable", "close 1008 bad_json"}));
}

// After the close frame lws awaits the client's, reading and dropping the rest of a refused
// frame; a writeable callback meanwhile must not hang up, or the socket closes with those bytes
// unread and nginx drops the error and close frames on their way to the client.
TEST_F(Engine, OnceTheCloseIsHandedToLibwebsocketsItsHandshakeIsLeftToRunItsCourse) {
    FakeConnection& connection = open("/ws");
    send(connection, "{", false, 5000);
    EXPECT_EQ(engine.writeable(wire_of(connection), &connection.state), Reply::go_on);
    EXPECT_EQ(engine.writeable(wire_of(connection), &connection.state), Reply::close);
    port.take();
    EXPECT_EQ(engine.writeable(wire_of(connection), &connection.state), Reply::go_on);
    EXPECT_TRUE(port.take().empty()) << "no second close";
    ASSERT_EQ(port.written.size(), 1u);
    EXPECT_NE(port.written[0].find("frame_too_big"), std::string::npos);
}

TEST_F(Engine, ACloseFromThePeerIsCheckedAgainstRfc6455) {
    FakeConnection& connection = open("/ws");
    EXPECT_EQ(engine.peer_closing(&connection.state, std::string_view("\x03\xe8", 2)),
              Reply::go_on);
    EXPECT_TRUE(connection.state.peer_closed);
    EXPECT_EQ(engine.peer_closing(&connection.state, ""), Reply::go_on);
    EXPECT_EQ(engine.peer_closing(&connection.state, "\x03"), Reply::close) << "one byte";
    EXPECT_EQ(engine.peer_closing(&connection.state, std::string_view("\x03\xed", 2)), Reply::close)
        << "1005 may not be sent";
}

TEST_F(Engine, APeerSilentForThePingIntervalThatIsClosedIsAPingTimeout) {
    FakeConnection& connection = open("/ws");
    connection.state.last_rx_ms = wall_ms() - int64_t{config.ping_interval_s} * 1000;
    SessionId id = connection.state.id;
    engine.closed(&connection.state);
    EXPECT_EQ(metrics.ping_timeouts, 1u);
    EXPECT_EQ(registry.find(id), nullptr);
    EXPECT_EQ(engine.scheduler().connections().count(id), 0u);
    EXPECT_EQ(connection.state.id, 0u);
    EXPECT_EQ(connection.state.incoming, nullptr);
}

TEST_F(Engine, AClosedConnectionThatSpokeRecentlyOrWasClosedOnPurposeIsNoPingTimeout) {
    FakeConnection& recent = open("/ws");
    recent.state.last_rx_ms = wall_ms() - int64_t{config.ping_interval_s} * 1000 + 5000;
    engine.closed(&recent.state);
    FakeConnection& by_peer = open("/ws");
    by_peer.state.last_rx_ms = 0;
    engine.peer_closing(&by_peer.state, "");
    engine.closed(&by_peer.state);
    FakeConnection& by_us = open("/ws");
    send(by_us, "{nope");
    by_us.state.last_rx_ms = 0;
    engine.closed(&by_us.state);
    EXPECT_EQ(metrics.ping_timeouts, 0u);
}

TEST_F(Engine, APongCountsAsHearingFromThePeer) {
    FakeConnection& connection = open("/ws");
    connection.state.last_rx_ms = 0;
    engine.pong(&connection.state);
    engine.closed(&connection.state);
    EXPECT_EQ(metrics.ping_timeouts, 0u);
}

/* ---- plain HTTP and the upgrade ---------------------------------------------------------- */

TEST_F(Engine, MetricsAreAnsweredWithHeadersNowAndTheBodyWhenWriteable) {
    FakeConnection connection;
    connection.headers[RequestHeader::path] = "/metrics";
    EXPECT_EQ(engine.http_request(wire_of(connection), &connection.state), Reply::go_on);
    ASSERT_NE(connection.state.http_body, nullptr);
    std::string body = *connection.state.http_body;
    EXPECT_NE(body.find("roompush_connections 0"), std::string::npos);
    EXPECT_EQ(port.take(), (std::vector<std::string>{"headers 200 text/plain; version=0.0.4 " +
                                                         std::to_string(body.size()),
                                                     "writeable"}));
    EXPECT_EQ(engine.http_writeable(wire_of(connection), &connection.state), Reply::go_on);
    EXPECT_EQ(port.take(), (std::vector<std::string>{"body " + body}));
    EXPECT_EQ(connection.state.http_body, nullptr);
    EXPECT_EQ(engine.http_writeable(wire_of(connection), &connection.state), Reply::close);
}

TEST_F(Engine, AnUnknownPathIsAnsweredAtOnceAndClosed) {
    FakeConnection connection;
    connection.headers[RequestHeader::path] = "/nope";
    EXPECT_EQ(engine.http_request(wire_of(connection), &connection.state), Reply::close);
    EXPECT_EQ(port.take(),
              (std::vector<std::string>{
                  R"(answer 404 {"error":{"code":"not_found","message":"nothing at /nope"}})"
                  "\n"}));
    EXPECT_EQ(connection.state.http_body, nullptr);
}

/* ---- event streams (GET /sse) ------------------------------------------------------------ */

TEST_F(Engine, AnEventStreamJoinsItsRoomAndWritesEventsWithTheirPosition) {
    FakeConnection connection;
    connection.headers[RequestHeader::path] = "/sse/rooms/A";
    Wire* wire = wire_of(connection);
    EXPECT_EQ(engine.http_request(wire, &connection.state), Reply::go_on);
    EXPECT_EQ(port.take(), (std::vector<std::string>{"stream headers", "writeable"}));
    ASSERT_TRUE(connection.state.sse);
    EXPECT_TRUE(registry.is_member(connection.state.id, "A"));
    auto published = registry.publish("A", "note", R"({"n":1})", "", 5);
    engine.scheduler().wake(published.wake);
    EXPECT_EQ(engine.http_writeable(wire, &connection.state), Reply::go_on);
    Session* session = registry.find(connection.state.id);
    std::string epoch = registry.detail("A")->epoch;
    EXPECT_NE(port.streamed.find("id: " + epoch + ":0\ndata: {\"type\":\"subscribed\""),
              std::string::npos)
        << port.streamed;
    EXPECT_NE(port.streamed.find("id: " + epoch + ":1\ndata: {\"type\":\"message\""),
              std::string::npos)
        << port.streamed;
    EXPECT_FALSE(session->has_pending());
    engine.http_closed(&connection.state);
    EXPECT_EQ(registry.session_count(), 0u);
    EXPECT_EQ(metrics.sse_opened.load(), 1u);
}

TEST_F(Engine, AQuietStreamGetsAHeartbeatAndABadRequestAJsonAnswer) {
    FakeConnection stream;
    stream.headers[RequestHeader::path] = "/sse/rooms/A";
    engine.http_request(wire_of(stream), &stream.state);
    engine.http_writeable(wire_of(stream), &stream.state);
    port.streamed.clear();
    engine.sse_heartbeat();
    engine.http_writeable(wire_of(stream), &stream.state);
    EXPECT_EQ(port.streamed, "") << "written just now: no heartbeat yet";
    engine.http_closed(&stream.state);

    FakeConnection bad;
    bad.headers[RequestHeader::path] = "/sse/rooms/A";
    bad.headers[RequestHeader::last_event_id] = "garbage";
    EXPECT_EQ(engine.http_request(wire_of(bad), &bad.state), Reply::close);
    std::vector<std::string> calls = port.take();
    ASSERT_FALSE(calls.empty());
    EXPECT_EQ(calls.back().substr(0, 11), "answer 400 ");
    EXPECT_NE(calls.back().find("bad_request"), std::string::npos);
    EXPECT_EQ(registry.session_count(), 0u);
}

TEST_F(Engine, WithoutAnAllowListTheOriginIsNotEvenRead) {
    FakeConnection connection;
    EXPECT_EQ(engine.confirm_upgrade(wire_of(connection)), Reply::go_on);
    EXPECT_TRUE(port.header_reads.empty());
}

TEST_F(Engine, AForeignOriginIsRefusedWith403AndCounted) {
    config.allowed_origins = {"https://a.example"};
    FakeConnection connection;
    connection.headers[RequestHeader::origin] = "https://evil.example";
    EXPECT_EQ(engine.confirm_upgrade(wire_of(connection)), Reply::refuse);
    std::vector<std::string> calls = port.take();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].rfind("answer 403 ", 0), 0u) << calls[0];
    EXPECT_EQ(metrics.ws_refused, 1u);
    connection.headers[RequestHeader::origin] = "https://a.example";
    EXPECT_EQ(engine.confirm_upgrade(wire_of(connection)), Reply::go_on);
}

/* ---- posted work and shutdown ------------------------------------------------------------ */

TEST_F(Engine, WhatPostedTasksWakeIsWrittenAfterThem) {
    FakeConnection& connection = open("/ws/rooms/A");
    engine.writeable(wire_of(connection), &connection.state);  // the `subscribed` frame
    port.written.clear();
    std::vector<std::string> order;
    engine.tasks().post([&] {
        engine.scheduler().wake(registry.publish("A", "e", "1", "", 0).wake);
        order.push_back("task, written: " + std::to_string(port.written.size()));
    });
    engine.woken();
    EXPECT_EQ(order, (std::vector<std::string>{"task, written: 0"}));
    ASSERT_EQ(port.written.size(), 1u);
    EXPECT_NE(port.written[0].find(R"("type":"message")"), std::string::npos);
}

TEST_F(Engine, AStopClosesEveryClientWith1001AndEndsWhenTheyAreGone) {
    FakeConnection& a = open("/ws");
    FakeConnection& b = open("/ws");
    port.take();
    engine.request_stop();
    EXPECT_FALSE(engine.shut_down(WsEngine::Clock::now()));
    engine.woken();
    EXPECT_EQ(close_code(a), "1001");
    EXPECT_EQ(close_code(b), "1001");
    EXPECT_EQ(port.take(), (std::vector<std::string>{"writeable", "writeable"}));
    FakeConnection& late = open("/ws");
    EXPECT_EQ(close_code(late), "1001") << "a connection that opens during the shutdown";
    EXPECT_FALSE(engine.shut_down(WsEngine::Clock::now()));
    EXPECT_TRUE(engine.shut_down(WsEngine::Clock::now() +
                                 std::chrono::milliseconds(config.shutdown_grace_ms) + 1s))
        << "the grace ran out";
    for (FakeConnection* connection : {&a, &b, &late}) engine.closed(&connection->state);
    EXPECT_TRUE(engine.shut_down(WsEngine::Clock::now()));
}

}  // namespace
}  // namespace rp::sidecar
