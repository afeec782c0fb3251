#include "redis_replies.h"

#include "roompush/redis_endpoint.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <deque>
#include <initializer_list>
#include <string>
#include <vector>

namespace rp::sidecar {
namespace {

// Replies built by hand, as hiredis would hand them over, owned by the fixture.
class Replies : public testing::Test {
protected:
    redisReply* str(const std::string& text) {
        strings_.push_back(text);
        redisReply* reply = make(REDIS_REPLY_STRING);
        reply->str = strings_.back().data();
        reply->len = strings_.back().size();
        return reply;
    }
    redisReply* num(long long value) {
        redisReply* reply = make(REDIS_REPLY_INTEGER);
        reply->integer = value;
        return reply;
    }
    redisReply* nil() { return make(REDIS_REPLY_NIL); }
    redisReply* arr(std::initializer_list<redisReply*> items) {
        arrays_.emplace_back(items);
        redisReply* reply = make(REDIS_REPLY_ARRAY);
        reply->element = arrays_.back().data();
        reply->elements = arrays_.back().size();
        return reply;
    }
    redisReply* entry(const std::string& id, const std::string& event, const std::string& data,
                      const std::string& ts) {
        return arr({str(id), arr({str("e"), str(event), str("d"), str(data), str("t"), str(ts)})});
    }

private:
    redisReply* make(int type) {
        replies_.emplace_back();
        redisReply* reply = &replies_.back();
        *reply = redisReply{};
        reply->type = type;
        return reply;
    }
    std::deque<redisReply> replies_;
    std::deque<std::string> strings_;
    std::deque<std::vector<redisReply*>> arrays_;
};

TEST_F(Replies, AGoodSnapshotParses) {
    auto snapshot = parse_snapshot(
        "R", arr({str("0123456789abcdef"), num(2),
                  arr({entry("1-0", "note", "{}", "5"), entry("2-0", "job.done", "[1]", "6")})}));
    ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
    EXPECT_EQ(snapshot->head, 2u);
    ASSERT_EQ(snapshot->entries.size(), 2u);
    EXPECT_EQ(snapshot->entries[1].event, "job.done");
    EXPECT_EQ(snapshot->entries[1].ts_ms, 6);
    EXPECT_EQ(snapshot->bad_entries, 0u);
}

TEST_F(Replies, WrongShapesAreErrors) {
    for (redisReply* reply :
         {nil(), num(1), str("OK"), arr({}), arr({str("0123456789abcdef")}),
          arr({num(1), num(2), arr({})}), arr({str("0123456789abcdef"), str("2"), arr({})}),
          arr({str("0123456789abcdef"), num(-1), arr({})}),
          arr({str("not an epoch"), num(2), arr({})}),
          arr({str("0123456789abcdef"), num(2), str("entries")})}) {
        auto snapshot = parse_snapshot("R", reply);
        ASSERT_FALSE(snapshot.ok());
        EXPECT_EQ(snapshot.error().code, "broker_bad_reply");
    }
}

TEST_F(Replies, BadEntriesAreLeftOutAndCounted) {
    auto snapshot = parse_snapshot(
        "R", arr({str("0123456789abcdef"), num(3),
                  arr({entry("1-1", "note", "{}", "5"),       // not a SEQ-0 id
                       entry("2-0", "bad event", "{}", "5"),  // event breaks the rule
                       entry("3-0", "note", "", "5"),         // no data
                       arr({str("4-0")}),                     // no fields
                       num(7),                                // not an entry at all
                       entry("9-0", "note", "{}", "5"),       // past the head
                       entry("3-0", "note", "{}", "x"),       // ts not a number
                       entry("3-0", "note", "{}", "5")})}));
    ASSERT_TRUE(snapshot.ok());
    EXPECT_EQ(snapshot->bad_entries, 7u);
    ASSERT_EQ(snapshot->entries.size(), 1u);
    EXPECT_EQ(snapshot->entries[0].seq, 3u);
}

TEST_F(Replies, ASentinelsMasterAddressIsChecked) {
    auto address = parse_master_address(arr({str("10.0.0.5"), str("6380")}));
    ASSERT_TRUE(address.ok()) << address.error().message;
    EXPECT_EQ(address->host, "10.0.0.5");
    EXPECT_EQ(address->port, 6380);
    for (redisReply* bad :
         {nil(), str("10.0.0.5:6380"), arr({str("h")}), arr({str("h"), num(6379)}),
          arr({str("h"), str("0")}), arr({str("h"), str("65536")}), arr({str("h"), str("-1")}),
          arr({str(""), str("6379")}), arr({str("h"), str("6379"), str("x")}),
          arr({str("h"), str("123456")})}) {
        auto refused = parse_master_address(bad);
        ASSERT_FALSE(refused.ok());
        EXPECT_EQ(refused.error().code, "broker_bad_reply");
    }
}

}  // namespace
}  // namespace rp::sidecar
