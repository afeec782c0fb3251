#include "broker_url.h"

#include <gtest/gtest.h>

namespace rp::sidecar {
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

}  // namespace
}  // namespace rp::sidecar
