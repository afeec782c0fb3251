#include "json_scan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "roompush/json.h"

namespace {

using namespace std::string_literals;
using rp::json_scan::Escapes;
using rp::json_scan::kBesideCJson;
using rp::json_scan::kInsteadOfCJson;
using rp::json_scan::kUnsure;
using rp::json_scan::Rules;
using rp::json_scan::Scanner;

std::size_t value_end(const std::string& text, Rules rules = kInsteadOfCJson) {
    return Scanner(text, rules).skip_value(0, 0);
}

bool is_whole_value(const std::string& text, Rules rules = kInsteadOfCJson) {
    return value_end(text, rules) == text.size();
}

std::string nested(std::size_t depth, const std::string& inner = "1") {
    return std::string(depth, '[') + inner + std::string(depth, ']');
}

TEST(JsonScan, TakesStrictJson) {
    for (std::string text : {"null"s,
                             "true"s,
                             "false"s,
                             "0"s,
                             "-0"s,
                             "12345678901234567890"s,
                             "-1.5e+3"s,
                             "1E-2"s,
                             "0.25"s,
                             R"("")"s,
                             R"("a\"\\\/\b\f\n\r\t")"s,
                             "\"caf\xc3\xa9\""s,
                             "[]"s,
                             "{}"s,
                             "[ ]"s,
                             "{ }"s,
                             R"([1,"a",null,[],{}])"s,
                             R"({"a":{"b":[{"c":true}]},"d":false})"s,
                             " \t\n[ 1 ,\n 2 ]"s,
                             R"({ "a" : 1 , "b" : [ ] })"s}) {
        EXPECT_TRUE(is_whole_value(text)) << text;
        EXPECT_TRUE(rp::parse_json(text).ok()) << text;  // and cJSON reads it too
    }
}

// Structure too, not only tokens: where the scan stands instead of cJSON, nothing else checks it.
TEST(JsonScan, RefusesBrokenStructure) {
    for (std::string text : {""s,
                             "["s,
                             "]"s,
                             "{"s,
                             "}"s,
                             "[1"s,
                             "[1,"s,
                             "[1,]"s,
                             "[,1]"s,
                             "[1 2]"s,
                             "[1:2]"s,
                             "{1:2}"s,
                             R"({"a"})"s,
                             R"({"a":})"s,
                             R"({"a":1,})"s,
                             R"({"a" 1})"s,
                             R"({"a":1 "b":2})"s,
                             R"({,"a":1})"s,
                             "[}"s,
                             "{]"s,
                             R"([{"a":1]})"s,
                             R"({"a":[1}])"s,
                             ","s,
                             ":"s,
                             R"("a)"s,
                             R"("\)"s}) {
        EXPECT_EQ(value_end(text), kUnsure) << text;
        EXPECT_EQ(value_end(text, kBesideCJson), kUnsure) << text;
    }
}

TEST(JsonScan, RefusesWhatOnlyCJsonTakes) {
    for (std::string text : {"01"s,
                             "1."s,
                             "-.5"s,
                             ".5"s,
                             "+1"s,
                             "-"s,
                             "1e"s,
                             "1e+"s,
                             "1.e5"s,
                             "00"s,
                             "nul"s,
                             "True"s,
                             "NaN"s,
                             "Infinity"s,
                             "\"a\tb\""s,
                             "\"a\x01\""s,
                             "[1,\v2]"s,
                             "\x01[]"s,
                             "\"\\x\""s,
                             "\"\\u12\""s,
                             "\"\\u12g4\""s,
                             std::string("[\0]", 3),
                             std::string("\"a\0b\"", 5)}) {
        EXPECT_NE(value_end(text), text.size()) << text;
        EXPECT_NE(value_end(text, kBesideCJson), text.size()) << text;
    }
}

// A value ends where its JSON ends, and what follows is the caller's to judge; but a number or a
// literal must end where a token may: "01" or "1x" is not a 0 or a 1 with something after it.
TEST(JsonScan, EndsWhereTheValueEnds) {
    EXPECT_EQ(value_end("[1] [2]"), 3u);
    EXPECT_EQ(value_end(R"("a"b)"), 3u);
    EXPECT_EQ(value_end("{}}"), 2u);
    EXPECT_EQ(value_end("1 x"), 1u);
    EXPECT_EQ(value_end("1,"), 1u);
    EXPECT_EQ(value_end("true]"), 4u);
    for (std::string text : {"1x"s, "01"s, "truex"s, "null1"s, "1\""s, "1:"s, "0x1"s}) {
        EXPECT_EQ(value_end(text), kUnsure) << text;
    }
}

TEST(JsonScan, EscapesAsTheRulesSay) {
    std::string simple = R"("a\n\"b")";
    std::string unicode = R"("\u00e9\ud83d\ude00")";
    EXPECT_EQ(Scanner(simple, kBesideCJson).skip_string(0, Escapes::none), kUnsure);
    EXPECT_EQ(Scanner(simple, kBesideCJson).skip_string(0, Escapes::simple), simple.size());
    EXPECT_EQ(Scanner(unicode, kBesideCJson).skip_string(0, Escapes::simple), kUnsure);
    EXPECT_EQ(Scanner(unicode, kBesideCJson).skip_string(0, Escapes::unicode), unicode.size());
    // cJSON ends a string at U+0000: its text would say more than its value.
    EXPECT_EQ(Scanner(R"("a\u0000")", kBesideCJson).skip_string(0, Escapes::unicode), kUnsure);
    EXPECT_FALSE(is_whole_value(unicode));
    EXPECT_TRUE(is_whole_value(unicode, kBesideCJson));
}

TEST(JsonScan, ACarriageReturnIsSpaceOnlyWhenTheRulesSaySo) {
    EXPECT_FALSE(is_whole_value("[1,\r2]"));
    EXPECT_TRUE(is_whole_value("[1,\r2]", kBesideCJson));
    EXPECT_EQ(Scanner("\r 1", kInsteadOfCJson).skip_space(0), 0u);
    EXPECT_EQ(Scanner("\r 1", kBesideCJson).skip_space(0), 2u);
}

// cJSON's limit counts every container, the outermost too: 1000 deep is read, 1001 is not.
TEST(JsonScan, NestsNoDeeperThanCJson) {
    std::size_t limit = CJSON_NESTING_LIMIT;
    EXPECT_TRUE(rp::parse_json(nested(limit)).ok());
    EXPECT_FALSE(rp::parse_json(nested(limit + 1)).ok());
    EXPECT_TRUE(is_whole_value(nested(limit)));
    EXPECT_FALSE(is_whole_value(nested(limit + 1)));
    // Inside a container already, one level less.
    std::string inner = nested(limit - 1);
    EXPECT_EQ(Scanner(inner, kInsteadOfCJson).skip_value(0, 1), inner.size());
    EXPECT_EQ(Scanner(nested(limit), kInsteadOfCJson).skip_value(0, 1), kUnsure);
    // Objects and arrays mixed, past a word of bits.
    std::string mixed;
    for (int i = 0; i < 150; ++i) mixed += i % 3 == 0 ? R"({"k":)" : "[";
    mixed += "0";
    for (int i = 149; i >= 0; --i) mixed += i % 3 == 0 ? "}" : "]";
    EXPECT_TRUE(is_whole_value(mixed));
    EXPECT_FALSE(is_whole_value(mixed.substr(0, mixed.size() - 1) + "]"));
}

std::vector<std::pair<std::string, std::string>> members_of(const std::string& object,
                                                            std::size_t* end = nullptr) {
    Scanner scan(object, kInsteadOfCJson);
    rp::json_scan::MemberReader reader(scan, scan.skip_space(0));
    std::vector<std::pair<std::string, std::string>> members;
    while (auto member = reader.next()) members.emplace_back(member->key, member->value);
    if (end) *end = reader.end();
    return members;
}

TEST(JsonScan, ReadsAnObjectMemberByMember) {
    std::size_t end = 0;
    auto members = members_of(R"( { "a" : [1, {"x":2}] ,"b":"s", "":null } )", &end);
    ASSERT_EQ(members.size(), 3u);
    EXPECT_EQ(members[0], (std::pair<std::string, std::string>("a", R"([1, {"x":2}])")));
    EXPECT_EQ(members[1], (std::pair<std::string, std::string>("b", R"("s")")));
    EXPECT_EQ(members[2], (std::pair<std::string, std::string>("", "null")));
    EXPECT_EQ(end, 41u);

    EXPECT_TRUE(members_of("{}", &end).empty());
    EXPECT_EQ(end, 2u);
}

TEST(JsonScan, AMemberReaderStopsWhereItIsUnsure) {
    std::size_t end = 0;
    auto members = members_of(R"({"a":1,"b\n":2,"c":3})", &end);  // an escaped key
    EXPECT_EQ(members.size(), 1u);
    EXPECT_EQ(end, kUnsure);
    for (std::string object : {"[]"s, R"({"a":1,})"s, R"({"a":1)"s, R"({"a":01})"s, R"({"a" 1})"s,
                               R"({"a":1 "b":2})"s, "{\"a\":\"\t\"}"s}) {
        members_of(object, &end);
        EXPECT_EQ(end, kUnsure) << object;
    }
}

}  // namespace
