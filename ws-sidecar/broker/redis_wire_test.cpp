#include "redis_wire.h"

#include <gtest/gtest.h>

namespace rp::sidecar {
namespace {

TEST(RedisWire, PayloadRoundTrips) {
    BrokerMessage message{
        "room-1", "0123456789abcdef", {42, 1700000000000, "job.done", R"({"a":"x\ny"})"}};
    auto decoded = decode_pubsub_payload(encode_pubsub_payload(message));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->room, "room-1");
    EXPECT_EQ(decoded->epoch, "0123456789abcdef");
    EXPECT_EQ(decoded->entry.seq, 42u);
    EXPECT_EQ(decoded->entry.ts_ms, 1700000000000);
    EXPECT_EQ(decoded->entry.event, "job.done");
    EXPECT_EQ(decoded->entry.data, R"({"a":"x\ny"})");
}

TEST(RedisWire, ABrowsersMessageCarriesItsSender) {
    BrokerMessage message{"room-1",
                          "0123456789abcdef",
                          {7, 1700000000000, "chat", R"({"t":"a\nb"})", R"({"conn":"n/3"})"}};
    std::string payload = encode_pubsub_payload(message);
    EXPECT_EQ(payload.substr(0, 2), "2\n") << "version 1 stays the server's, as old nodes read it";
    auto decoded = decode_pubsub_payload(payload);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->entry.from, R"({"conn":"n/3"})");
    EXPECT_EQ(decoded->entry.data, R"({"t":"a\nb"})");
    message.entry.from.clear();
    EXPECT_EQ(encode_pubsub_payload(message).substr(0, 2), "1\n");
}

TEST(RedisWire, PresenceRoundTripsAndGarbageIsRefused) {
    PresenceChange change{"room-1", "node-a:7", "join", R"({"conn":"node-a:7/3","user":"a"})"};
    std::string payload = encode_presence_payload(change);
    EXPECT_TRUE(is_presence_payload(payload));
    EXPECT_FALSE(is_presence_payload("1\nroom"));
    auto decoded = decode_presence_payload(payload);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->member, change.member);
    EXPECT_EQ(decoded->type, "join");
    for (const char* bad :
         {"3\nr\nn\njoin\n", "3\nr\nn\nwave\n{}", "3\nbad room\nn\njoin\n{}", "3\nr\n\njoin\n{}",
          "3\nr\nn\njoin\n[1]", "3\nr\nn\njoin\n{\"a\":", "3\nr\nn\njoin\n{}\n{}", "3\nr\nn"}) {
        EXPECT_FALSE(decode_presence_payload(bad).ok()) << bad;
    }
}

TEST(RedisWire, GarbageIsRefused) {
    for (const char* payload :
         {"", "hello", "3\nr\n0123456789abcdef\n1\n0\ne\n{}", "2\nr\n0123456789abcdef\n1\n0\ne\n{}",
          "2\nr\n0123456789abcdef\n1\n0\ne\n\n{}", "2\nr\n0123456789abcdef\n1\n0\ne\n{}\n",
          "1\nbad room\n0123456789abcdef\n1\n0\ne\n{}", "1\nr\nNOTHEX\n1\n0\ne\n{}",
          "1\nr\n0123456789abcdef\n0\n0\ne\n{}", "1\nr\n0123456789abcdef\n-1\n0\ne\n{}",
          "1\nr\n0123456789abcdef\n1\nx\ne\n{}", "1\nr\n0123456789abcdef\n1\n0\nbad event\n{}",
          "1\nr\n0123456789abcdef\n1\n0\ne\n",
          "1\nr\n0123456789abcdef\n99999999999999999999999\n0\ne\n{}"}) {
        auto decoded = decode_pubsub_payload(payload);
        EXPECT_FALSE(decoded.ok()) << payload;
        if (!decoded.ok()) {
            EXPECT_EQ(decoded.error().code, "bad_broker_message");
        }
    }
}

TEST(RedisWire, StreamIdsCarryTheSeq) {
    EXPECT_EQ(seq_of_stream_id("17-0"), 17u);
    EXPECT_FALSE(seq_of_stream_id("0-0"));
    EXPECT_FALSE(seq_of_stream_id("17-1"));
    EXPECT_FALSE(seq_of_stream_id("17"));
    EXPECT_FALSE(seq_of_stream_id("x-0"));
}

}  // namespace
}  // namespace rp::sidecar
