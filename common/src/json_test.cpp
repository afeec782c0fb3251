#include "roompush/json.h"

#include <gtest/gtest.h>

namespace {

TEST(Json, ParsesOneValueAndRejectsTrailingData) {
    EXPECT_TRUE(rp::parse_json(" {\"a\":1} \n").ok());
    auto trailing = rp::parse_json("{\"a\":1} x");
    ASSERT_FALSE(trailing.ok());
    EXPECT_EQ(trailing.error().code, "bad_json");
    EXPECT_FALSE(rp::parse_json("{\"a\":").ok());
    EXPECT_FALSE(rp::parse_json("").ok());
    EXPECT_FALSE(rp::parse_json(std::string_view()).ok()) << "no data at all: no memchr(nullptr)";
}

TEST(Json, RejectsNulBytes) {
    auto parsed = rp::parse_json(std::string("{\"a\":\"x\0y\"}", 11));
    ASSERT_FALSE(parsed.ok());
    EXPECT_NE(parsed.error().message.find("NUL"), std::string::npos);
}

TEST(Json, TypedAccessReportsWrongTypesAndMissingFields) {
    auto json = rp::parse_json(R"({"s":"x","n":3,"f":1.5,"b":true})");
    ASSERT_TRUE(json.ok());
    EXPECT_EQ(*rp::require_string(json->get(), "s"), "x");
    EXPECT_EQ(*rp::require_integer(json->get(), "n"), 3);
    EXPECT_EQ(rp::require_integer(json->get(), "f").error().code, "wrong_type");
    EXPECT_EQ(rp::require_string(json->get(), "n").error().code, "wrong_type");
    EXPECT_EQ(rp::require_string(json->get(), "zz").error().code, "missing_field");
    auto absent = rp::get_string(json->get(), "zz");
    ASSERT_TRUE(absent.ok());
    EXPECT_FALSE(absent->has_value());
}

TEST(Json, BuildsAndPrintsCompactly) {
    auto object = rp::make_object();
    rp::set_string(object.get(), "room", "A");
    rp::set_number(object.get(), "seq", 4);
    rp::set_number(object.get(), "seq", 5);
    EXPECT_EQ(rp::to_json(object.get()), R"({"room":"A","seq":5})");
}

}  // namespace
