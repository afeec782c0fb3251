#include "roompush/json_text.h"

#include <gtest/gtest.h>

#include <string>

#include "roompush/json.h"

namespace {

using namespace std::string_literals;

std::optional<std::string> data_of(const std::string& line) {
    auto text = rp::find_member_text(line, "data");
    if (!text) return std::nullopt;
    return std::string(*text);
}

// Whatever the scanner finds must be what cJSON finds, or the fallback would have been right.
void expect_same_as_cjson(const std::string& line) {
    auto parsed = rp::parse_json(line);
    ASSERT_TRUE(parsed.ok()) << line;
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(parsed->get(), "data");
    auto text = rp::find_member_text(line, "data");
    if (!text) return;
    ASSERT_NE(item, nullptr) << line;
    auto reparsed = rp::parse_json(*text);
    ASSERT_TRUE(reparsed.ok()) << line;
    EXPECT_TRUE(cJSON_Compare(reparsed->get(), item, true)) << line;
}

TEST(JsonText, FindsTheValueAsWritten) {
    EXPECT_EQ(data_of(R"({"op":"publish","data":{"a":1}})"), R"({"a":1})");
    EXPECT_EQ(data_of(R"({"data":null})"), "null");
    EXPECT_EQ(data_of(R"({"data":true,"x":false})"), "true");
    EXPECT_EQ(data_of(R"({"x":false,"data":false})"), "false");
    EXPECT_EQ(data_of(R"({"data":"text"})"), R"("text")");
    EXPECT_EQ(data_of(R"({"data":[]})"), "[]");
}

TEST(JsonText, TrimsTheWhitespaceAroundTheValueOnly) {
    EXPECT_EQ(data_of(" \t{ \"data\" \r\n:  [ 1 , {\"a\" : 2} ]  \n} "), "[ 1 , {\"a\" : 2} ]");
    EXPECT_EQ(data_of("{\"data\":\t7\t}"), "7");
}

// cJSON re-formatted these (1.2345678901234567e+19, 100); they now arrive as sent.
TEST(JsonText, NumbersKeepTheirDigits) {
    EXPECT_EQ(data_of(R"({"data":12345678901234567890})"), "12345678901234567890");
    EXPECT_EQ(data_of(R"({"data":1.0e2})"), "1.0e2");
    EXPECT_EQ(data_of(R"({"data":[-0,-0.5E-3,0.25e+10,1E2]})"), "[-0,-0.5E-3,0.25e+10,1E2]");
    EXPECT_EQ(data_of(R"({"data":{"n":12345678901234567890,"f":1.0e2}})"),
              R"({"n":12345678901234567890,"f":1.0e2})");
}

TEST(JsonText, TheFirstOfDuplicateKeysAsCJsonTakesIt) {
    EXPECT_EQ(data_of(R"({"data":1,"data":2})"), "1");
    expect_same_as_cjson(R"({"data":1,"data":2})");
    EXPECT_EQ(data_of(R"({"x":{"data":1},"y":["data"],"z":"data","data":2})"), "2");
    expect_same_as_cjson(R"({"x":{"data":1},"y":["data"],"z":"data","data":2})");
}

TEST(JsonText, BracketsAndQuotesInsideStringsAreSkipped) {
    std::string line =
        R"({"x":"]}\"{[","y":{"a":["}",{"b":"\\"}]},"data":{"s":"}{][\"\\","a":[[],{}]}})";
    EXPECT_EQ(data_of(line), R"({"s":"}{][\"\\","a":[[],{}]})");
    expect_same_as_cjson(line);
}

TEST(JsonText, EscapesStayAsTheyWere) {
    EXPECT_EQ(data_of(R"({"data":"a\u00e9\ud83d\ude00\/\b\f\n\r\t"})"),
              R"("a\u00e9\ud83d\ude00\/\b\f\n\r\t")");
    EXPECT_EQ(data_of("{\"data\":\"caf\xc3\xa9\"}"), "\"caf\xc3\xa9\"");
}

// cJSON ends a string at U+0000, and a raw CR would split an NDJSON answer for some readers:
// both go to cJSON's printing instead.
TEST(JsonText, AnEscapedNulOrARawCrIsLeftToCJson) {
    EXPECT_EQ(data_of(R"({"data":"a\u0000b"})"), std::nullopt);
    EXPECT_EQ(data_of(R"({"k\u0000x":1,"data":2})"), std::nullopt);
    EXPECT_EQ(data_of("{\"data\":[1,\r2]}"), std::nullopt);
    EXPECT_EQ(data_of(R"({"data":"a\u0001b"})"), R"("a\u0001b")");
    EXPECT_EQ(data_of("{\"data\":[1,\n2]}"), "[1,\n2]");
}

TEST(JsonText, MissingIsNotFound) {
    EXPECT_EQ(data_of("{}"), std::nullopt);
    EXPECT_EQ(data_of(R"({"op":"publish","room":"A"})"), std::nullopt);
    EXPECT_EQ(data_of(R"({"Data":1})"), std::nullopt);
    EXPECT_EQ(data_of(R"([{"data":1}])"), std::nullopt);
    EXPECT_EQ(data_of(R"("data")"), std::nullopt);
}

// An escaped key could spell "data" for cJSON; one after the member does not matter.
TEST(JsonText, AnEscapedKeyBeforeTheMemberIsLeftToCJson) {
    EXPECT_EQ(data_of(R"({"d\u0061ta":1,"data":2})"), std::nullopt);
    EXPECT_EQ(data_of(R"({"a\"b":1,"data":2})"), std::nullopt);
    EXPECT_EQ(data_of(R"({"data":2,"d\u0061ta":1})"), "2");
    EXPECT_EQ(data_of(R"({"x":{"d\u0061ta":1},"data":2})"), "2");
}

// cJSON accepts these; the text is not strict JSON, so cJSON's printing of the value is used.
TEST(JsonText, WhatOnlyCJsonAcceptsIsLeftToIt) {
    for (std::string line : {R"({"data":01})"s, R"({"data":1.})"s, R"({"data":-.5})"s,
                             R"({"data":[1,-01]})"s, "{\"data\":\"a\tb\"}"s, "{\"data\":[1,\v2]}"s,
                             "{\"data\":\x01 3}"s, "\xef\xbb\xbf{\"data\":1}"s}) {
        if (!rp::parse_json(line).ok()) continue;  // fine either way: the scanner is not asked
        EXPECT_EQ(data_of(line), std::nullopt) << line;
    }
    // Something unusual before the member stops the scan too; after it, it does not.
    EXPECT_EQ(data_of("{\"x\":\"a\tb\",\"data\":1}"), std::nullopt);
    EXPECT_EQ(data_of("{\"data\":1,\"x\":\"a\tb\"}"), "1");
}

TEST(JsonText, NumbersOutsideJsonsGrammarAreUnsure) {
    for (const char* number : {"-", "+1", "1e", "1e+", "1.e5", ".5", "00", "0x1", "1_0", "Infinity",
                               "NaN", "nul", "truex"}) {
        std::string line = std::string("{\"data\":") + number + "}";
        EXPECT_EQ(data_of(line), std::nullopt) << line;
    }
}

// Cut short or not JSON at all: nullopt, and no read past the end (ASan would see it).
TEST(JsonText, NeverReadsPastTheEnd) {
    std::string line = R"({"x":[{"y":"\u00e9\"]"}],"data":{"n":-1.5e+3,"s":"\\"}})";
    for (std::size_t size = 0; size < line.size(); ++size) {
        std::string cut = line.substr(0, size);
        auto text = rp::find_member_text(cut, "data");
        if (text) {
            EXPECT_GE(text->data(), cut.data());
            EXPECT_LE(text->data() + text->size(), cut.data() + cut.size());
        }
    }
    EXPECT_EQ(data_of(R"({"data":"\u12)"), std::nullopt);
    EXPECT_EQ(data_of(R"({"data":"\)"), std::nullopt);
    EXPECT_EQ(data_of(R"({"data":[1,2)"), std::nullopt);
    EXPECT_EQ(data_of(R"({"data")"), std::nullopt);
    EXPECT_EQ(data_of(""), std::nullopt);
}

TEST(JsonText, VerbatimJsonIsStrictAndBare) {
    for (const char* text :
         {"null", "0", "-1.5e+3", R"("a\u00e9")", R"({"a":[1,{"b":"]"}]})",
          "\"caf\xc3\xa9 \xe2\x82\xac\"", R"({ "a" : [ 1 , 2 ] })", "12345678901234567890"}) {
        EXPECT_TRUE(rp::is_verbatim_json(text)) << text;
    }
    for (std::string text :
         {""s, " 1"s, "1 "s, "01"s, "\x01{}"s, "{}\x01"s, "\"a\tb\""s, "[1 2]"s, "{]"s, "[1,]"s,
          "{\"a\"}"s, "nul"s, "1 2"s, "{} {}"s, "[[]"s, "\xef\xbb\xbf{}"s, std::string("[\0]", 3),
          "\"caf\xe9\""s, "[\"\xed\xa0\x80\"]"s}) {
        EXPECT_FALSE(rp::is_verbatim_json(text)) << text;
    }
}

TEST(JsonText, AgreesWithCJsonOnATable) {
    for (const char* line :
         {R"({"data":{"a":[1,2,{"b":null}],"c":"x"}})", R"({ "data" : [ ] , "data" : 1 })",
          R"({"id":"k","data":"\"}","room":"A"})", R"({"data":{"data":{"data":1}}})",
          R"({"z":[[[["]"]]]],"data":[[["["]]]})", R"({"data":-0.0e-0})"}) {
        expect_same_as_cjson(line);
        EXPECT_NE(data_of(line), std::nullopt) << line;
    }
}

}  // namespace
