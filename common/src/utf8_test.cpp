#include "roompush/utf8.h"

#include <gtest/gtest.h>

#include <string>

#include "utf8_reference.h"

namespace {

const std::string kFffd = "\xEF\xBF\xBD";

using rp::utf8_reference::is_valid;

TEST(Utf8, AcceptsAsciiAndEveryLengthOfCharacter) {
    for (std::string good :
         {"", "plain ascii, longer than one word of eight", "\xC3\xA9", "\xE2\x82\xAC",
          "\xF0\x9D\x84\x9E", "caf\xC3\xA9 \xE2\x82\xAC 5", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80",
          "\xED\x9F\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"}) {
        EXPECT_TRUE(rp::is_valid_utf8(good)) << good;
        EXPECT_EQ(rp::repair_utf8(good), good);
    }
    EXPECT_TRUE(rp::is_valid_utf8(std::string("a\0b", 3)));  // NUL is a character
}

TEST(Utf8, RefusesOverlongsSurrogatesTooBigAndStrayBytes) {
    for (std::string bad : {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF",
                            "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF",   // overlong
                            "\xED\xA0\x80", "\xED\xBF\xBF",           // U+D800, U+DFFF
                            "\xF4\x90\x80\x80", "\xF5\x80\x80\x80",   // above U+10FFFF
                            "\xF8\x88\x80\x80\x80", "\xFF", "\xFE",   // never UTF-8
                            "\x80", "\xBF", "a\x80z", "\xC3\x28"}) {  // stray, broken
        EXPECT_FALSE(rp::is_valid_utf8(bad)) << testing::PrintToString(bad);
    }
}

TEST(Utf8, RefusesASequenceCutShortAtTheEnd) {
    for (std::string cut : {"\xC3", "\xE2\x82", "\xE2", "\xF0\x9D\x84", "\xF0\x9D", "\xF0"}) {
        EXPECT_FALSE(rp::is_valid_utf8("text " + cut)) << testing::PrintToString(cut);
        EXPECT_EQ(rp::repair_utf8("text " + cut), "text " + kFffd);  // one maximal subpart
    }
}

TEST(Utf8, FindsTheFirstIllFormedByteWhereverItIs) {
    // Every place in and around the eight-byte words of the ASCII scan.
    for (std::size_t at = 0; at < 40; ++at) {
        std::string text(40, 'x');
        text[at] = '\xFF';
        EXPECT_EQ(rp::find_invalid_utf8(text), at);
        text[at] = '\x7F';
        EXPECT_EQ(rp::find_invalid_utf8(text), std::string::npos);
    }
    EXPECT_EQ(rp::find_invalid_utf8("\xC3\xA9\xC3\xA9\xC3\xA9 ok \xC3"), 10u);
}

// Unicode 15, section 3.9, Table 3-8: U+FFFD for maximal subparts.
TEST(Utf8, RepairReplacesEachMaximalSubpartOnce) {
    EXPECT_EQ(rp::repair_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
              "a" + kFffd + kFffd + kFffd + "b" + kFffd + "c" + kFffd + kFffd + "d");
    // A lead byte whose second byte is out of its narrow range starts no subpart of 2: each
    // byte is one replacement (as TextDecoder, and Python's "replace", do).
    EXPECT_EQ(rp::repair_utf8("\xE0\x80\x80"), kFffd + kFffd + kFffd);
    EXPECT_EQ(rp::repair_utf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);
    EXPECT_EQ(rp::repair_utf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);
    EXPECT_EQ(rp::repair_utf8("\xC0\xAF"), kFffd + kFffd);
    EXPECT_EQ(rp::repair_utf8("\xF0\x9F\x98!"), kFffd + "!");
    EXPECT_EQ(rp::repair_utf8("\xE2\x82\xE2\x82\xAC"), kFffd + "\xE2\x82\xAC");
    EXPECT_EQ(rp::repair_utf8("caf\xE9 \xC3\xA9 \xFF\xFE"),
              "caf" + kFffd + " \xC3\xA9 " + kFffd + kFffd);
}

TEST(Utf8, AgreesWithADecodingReferenceOnEveryShortSequence) {
    std::string text(3, '\0');
    for (unsigned first = 0; first < 256; ++first) {
        for (unsigned second = 0; second < 256; ++second) {
            for (unsigned third : {0x00u, 0x41u, 0x80u, 0x9Fu, 0xA0u, 0xBFu, 0xC0u, 0xFFu}) {
                text[0] = static_cast<char>(first);
                text[1] = static_cast<char>(second);
                text[2] = static_cast<char>(third);
                for (std::size_t length = 1; length <= 3; ++length) {
                    std::string_view part(text.data(), length);
                    ASSERT_EQ(rp::is_valid_utf8(part), is_valid(part))
                        << testing::PrintToString(std::string(part));
                    ASSERT_TRUE(rp::is_valid_utf8(rp::repair_utf8(part)));
                }
            }
        }
    }
}

TEST(Utf8, AgreesWithTheReferenceOnFourByteSequences) {
    std::string text(4, '\x80');
    for (unsigned lead = 0xF0; lead < 0x100; ++lead) {
        for (unsigned second = 0x70; second < 0xD0; ++second) {
            for (unsigned last : {0x7Fu, 0x80u, 0xBFu, 0xC0u}) {
                text[0] = static_cast<char>(lead);
                text[1] = static_cast<char>(second);
                text[3] = static_cast<char>(last);
                ASSERT_EQ(rp::is_valid_utf8(text), is_valid(text)) << testing::PrintToString(text);
            }
        }
    }
}

TEST(Utf8, PrefixNeverCutsACharacter) {
    std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E";  // a é € 𝄞: 1 + 2 + 3 + 4 bytes
    EXPECT_EQ(rp::utf8_prefix(text, 100), text);
    EXPECT_EQ(rp::utf8_prefix(text, 1), "a");
    EXPECT_EQ(rp::utf8_prefix(text, 2), "a");
    EXPECT_EQ(rp::utf8_prefix(text, 3), "a\xC3\xA9");
    EXPECT_EQ(rp::utf8_prefix(text, 5), "a\xC3\xA9");
    EXPECT_EQ(rp::utf8_prefix(text, 9), "a\xC3\xA9\xE2\x82\xAC");
    EXPECT_EQ(rp::utf8_prefix(text, 0), "");
    EXPECT_EQ(rp::utf8_prefix("abc", 2), "ab");
}

TEST(Utf8, CheckSaysWhatAndWhy) {
    EXPECT_TRUE(rp::check_utf8("\xE2\x82\xAC", "the body").ok());
    auto status = rp::check_utf8("\xE2\x82", "the body");
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code, "invalid_utf8");
    EXPECT_EQ(status.error().message.rfind("the body is not valid UTF-8", 0), 0u);
    EXPECT_NE(status.error().message.find("browser"), std::string::npos);
}

}  // namespace
