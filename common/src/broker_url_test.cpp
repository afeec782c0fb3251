#include "roompush/broker_url.h"

#include <gtest/gtest.h>

namespace rp {
namespace {

TEST(BrokerUrl, MemoryIsTheDefaultKind) {
    auto url = parse_broker_url("memory");
    ASSERT_TRUE(url.ok());
    EXPECT_FALSE(url->redis());
}

TEST(BrokerUrl, RedisTcpWithPortAndDb) {
    auto url = parse_broker_url("redis://127.0.0.1:6380/3");
    ASSERT_TRUE(url.ok()) << url.error().message;
    EXPECT_EQ(url->kind, BrokerUrl::Kind::redis_tcp);
    EXPECT_EQ(url->host, "127.0.0.1");
    EXPECT_EQ(url->port, 6380);
    EXPECT_EQ(url->db, 3);
    EXPECT_EQ(url->describe(), "redis://127.0.0.1:6380/3");
}

TEST(BrokerUrl, RedisTcpDefaults) {
    auto url = parse_broker_url("redis://redis.internal");
    ASSERT_TRUE(url.ok());
    EXPECT_EQ(url->port, 6379);
    EXPECT_EQ(url->db, 0);
}

TEST(BrokerUrl, UnixSocketWithDb) {
    auto url = parse_broker_url("unix:/run/redis/redis.sock?db=2");
    ASSERT_TRUE(url.ok()) << url.error().message;
    EXPECT_EQ(url->kind, BrokerUrl::Kind::redis_unix);
    EXPECT_EQ(url->path, "/run/redis/redis.sock");
    EXPECT_EQ(url->db, 2);
    EXPECT_EQ(parse_broker_url("unix:///tmp/r.sock")->path, "/tmp/r.sock");
}

TEST(BrokerUrl, RefusesWhatItCannotUse) {
    for (const char* text :
         {"", "redis", "redis://", "redis://:6379", "redis://host:0", "redis://host:65536",
          "redis://host:port", "redis://host/16", "redis://host/-1", "redis://host/x",
          "redis://user:secret@host", "rediss://host", "http://host", "unix:", "unix:relative.sock",
          "unix:/r.sock?db=99", "unix:/r.sock?timeout=1", "redis://ho st", "Memory"}) {
        auto url = parse_broker_url(text);
        ASSERT_FALSE(url.ok()) << text;
        EXPECT_EQ(url.error().code, "invalid_broker");
        EXPECT_EQ(url.error().message.find('\n'), std::string::npos);
    }
}

TEST(BrokerUrl, NeverEchoesAPassword) {
    auto url = parse_broker_url("redis://:hunter2@host");
    ASSERT_FALSE(url.ok());
    EXPECT_NE(url.error().message.find("--broker-password-file"), std::string::npos);
    EXPECT_EQ(url.error().message.find("hunter2"), std::string::npos);
}

TEST(BrokerUrl, SentinelNamesWhereToAskAndTheMaster) {
    auto url = parse_broker_url("sentinel://10.0.0.1:26380,10.0.0.2,sentinel.internal:5000/main/2");
    ASSERT_TRUE(url.ok()) << url.error().message;
    EXPECT_EQ(url->kind, BrokerUrl::Kind::sentinel);
    ASSERT_EQ(url->sentinels.size(), 3u);
    EXPECT_EQ(url->sentinels[0], std::make_pair(std::string("10.0.0.1"), 26380));
    EXPECT_EQ(url->sentinels[1], std::make_pair(std::string("10.0.0.2"), 26379));
    EXPECT_EQ(url->sentinels[2], std::make_pair(std::string("sentinel.internal"), 5000));
    EXPECT_EQ(url->master, "main");
    EXPECT_EQ(url->db, 2);
    EXPECT_TRUE(url->redis());
    EXPECT_EQ(url->describe(),
              "sentinel://10.0.0.1:26380,10.0.0.2:26379,sentinel.internal:5000/main/2");
}

TEST(BrokerUrl, RefusesBadSentinelUrls) {
    for (const char* text :
         {"sentinel://", "sentinel://h:26379", "sentinel://h:26379/", "sentinel:///m",
          "sentinel://h:0/m", "sentinel://h,/m", "sentinel://,h/m", "sentinel://h/m/16",
          "sentinel://h/m/x", "sentinel://h/bad name", "sentinel://:pw@h/m",
          "sentinel://h1,h2,h3,h4,h5,h6,h7,h8,h9,h10,h11,h12,h13,h14,h15,h16,h17/m"}) {
        auto url = parse_broker_url(text);
        ASSERT_FALSE(url.ok()) << text;
        EXPECT_EQ(url.error().code, "invalid_broker") << text;
        EXPECT_EQ(url.error().message.find("pw"), std::string::npos) << text;
    }
}

TEST(BrokerSpec, OneUrlOrSeveralRedisShards) {
    auto memory = parse_broker_spec("memory");
    ASSERT_TRUE(memory.ok());
    EXPECT_FALSE(memory->redis());
    auto shards = parse_broker_spec("  redis://a:6379 \tunix:/r.sock sentinel://s/m ");
    ASSERT_TRUE(shards.ok()) << shards.error().message;
    ASSERT_EQ(shards->shards.size(), 3u);
    EXPECT_TRUE(shards->redis());
    EXPECT_EQ(shards->describe(), "redis://a:6379/0 unix:/r.sock?db=0 sentinel://s:26379/m/0");
    for (const char* text : {"", "   ", "memory memory", "redis://a memory",
                             "redis://a redis://a:6379", "redis://a nonsense"}) {
        auto spec = parse_broker_spec(text);
        ASSERT_FALSE(spec.ok()) << text;
        EXPECT_EQ(spec.error().code, "invalid_broker") << text;
    }
}

}  // namespace
}  // namespace rp
