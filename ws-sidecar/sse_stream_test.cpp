#include "sse_stream.h"

#include <gtest/gtest.h>

#include "ws_codec.h"

namespace rp::sidecar {
namespace {

constexpr const char* kEpoch = "0123456789abcdef";

TEST(SseRequest, OneRoomFromThePathWithItsResume) {
    auto request =
        parse_sse_request("/sse/rooms/A", "since=4&epoch=0123456789abcdef&token=t", "", 8);
    ASSERT_TRUE(request.ok()) << request.error().message;
    EXPECT_EQ(request->rooms, std::vector<std::string>{"A"});
    EXPECT_FALSE(request->multi);
    EXPECT_EQ(request->token, "t");
    EXPECT_EQ(request->resume.at("A").since, 4u);
    EXPECT_EQ(request->resume.at("A").epoch, kEpoch);
}

TEST(SseRequest, LastEventIdWinsOverTheQuery) {
    auto request = parse_sse_request("/sse/rooms/A", "since=4&epoch=old", "0123456789abcdef:9", 8);
    ASSERT_TRUE(request.ok()) << request.error().message;
    EXPECT_EQ(request->resume.at("A").since, 9u);
    EXPECT_EQ(request->resume.at("A").epoch, kEpoch);
}

TEST(SseRequest, SeveralRoomsResumeEachFromTheirId) {
    auto request = parse_sse_request("/sse", "rooms=A,B,C", "A=e1:3 B=e2:7 Z=e9:1", 8);
    ASSERT_TRUE(request.ok()) << request.error().message;
    EXPECT_TRUE(request->multi);
    EXPECT_EQ(request->rooms, (std::vector<std::string>{"A", "B", "C"}));
    EXPECT_EQ(request->resume.size(), 2u) << "C starts live; Z is not asked for";
    EXPECT_EQ(request->resume.at("B").since, 7u);
}

TEST(SseRequest, HostileRequestsAreRefusedWithACode) {
    struct Case {
        const char* path;
        const char* query;
        const char* id;
        const char* code;
    };
    for (const Case& c : std::vector<Case>{
             {"/sse/rooms/a b", "", "", "invalid_room"},
             {"/sse", "", "", "bad_request"},
             {"/sse", "rooms=", "", "bad_request"},
             {"/sse", "rooms=A,,B", "", "invalid_room"},
             {"/sse", "rooms=A,B,C", "", "too_many_rooms"},
             {"/sse/rooms/A", "since=x", "", "bad_since"},
             {"/sse/rooms/A", "", "nocolon", "bad_request"},
             {"/sse/rooms/A", "", "e:notanumber", "bad_request"},
             {"/sse/rooms/A", "", "e\x01:3", "bad_request"},
             {"/sse", "rooms=A", "A", "bad_request"},
         }) {
        auto request = parse_sse_request(c.path, c.query, c.id, 2);
        ASSERT_FALSE(request.ok()) << c.path << "?" << c.query << " id " << c.id;
        EXPECT_EQ(request.error().code, c.code) << c.path << "?" << c.query << " id " << c.id;
    }
    std::string long_id(kMaxLastEventIdBytes + 1, '1');
    EXPECT_FALSE(parse_sse_request("/sse/rooms/A", "", long_id, 2).ok());
}

TEST(SseStream, MessagesAndSubscribedCarryTheirPosition) {
    SseStream stream(false);
    EXPECT_EQ(
        stream.event(encode_subscribed("A", 3, kEpoch)),
        std::string("id: ") + kEpoch + ":3\ndata: " + encode_subscribed("A", 3, kEpoch) + "\n\n");
    std::string message = encode_message({"A", 4, kEpoch, "note", R"({"a":1})", 5});
    EXPECT_EQ(stream.event(message),
              std::string("id: ") + kEpoch + ":4\ndata: " + message + "\n\n");
    EXPECT_EQ(stream.event(encode_reset("A", kEpoch)),
              "data: " + encode_reset("A", kEpoch) + "\n\n")
        << "a reset moves nothing: the next message says where the stream is";
}

TEST(SseStream, AResumedRoomsSubscribedDoesNotSkipTheReplayStillToCome) {
    SseStream stream(false);
    stream.start_at("A", JoinRequest{3, kEpoch, false});
    EXPECT_EQ(stream.event(encode_subscribed("A", 5, kEpoch)).substr(0, 6), "data: ")
        << "no id: a reconnect now must still ask for 4 and 5";
    std::string replayed = stream.event(encode_message({"A", 4, kEpoch, "note", "1", 5}));
    EXPECT_EQ(replayed.substr(0, replayed.find('\n')), std::string("id: ") + kEpoch + ":4");
}

TEST(SseStream, SeveralRoomsNameEveryPositionAndDataKeepsItsLines) {
    SseStream stream(true);
    stream.event(encode_subscribed("B", 2, kEpoch));
    std::string event =
        stream.event(encode_message({"A", 9, kEpoch, "note", "{\n\"a\":1\r\n}", 5}));
    EXPECT_EQ(event.substr(0, event.find('\n')),
              std::string("id: A=") + kEpoch + ":9 B=" + kEpoch + ":2");
    EXPECT_NE(event.find("\"data\":{\ndata: \"a\":1\ndata: },\"ts\":5}\n\n"), std::string::npos)
        << event;
    EXPECT_EQ(event.find('\r'), std::string::npos);
}

}  // namespace
}  // namespace rp::sidecar
