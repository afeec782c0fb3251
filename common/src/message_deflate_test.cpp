#include "roompush/message_deflate.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace rp {
namespace {

std::string_view bytes_of(const std::vector<unsigned char>& bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

TEST(MessageDeflate, RoundTripsAMessageWithoutTheFlushTail) {
    MessageCompressor compressor;
    MessageDecompressor decompressor;
    std::vector<unsigned char> packed;
    std::string text = R"({"type":"job.done","room":"r1","seq":7,"data":{"result":"ok"}})";
    text += std::string(300, 'x');
    ASSERT_TRUE(compressor.compress(text, packed));
    ASSERT_GE(packed.size(), 4u);
    EXPECT_LT(packed.size(), text.size());
    EXPECT_NE(bytes_of(packed).substr(packed.size() - 4), std::string_view("\x00\x00\xff\xff", 4));
    std::string back;
    ASSERT_TRUE(decompressor.decompress(bytes_of(packed), back, 1 << 20));
    EXPECT_EQ(back, text);
}

TEST(MessageDeflate, EachMessageStandsAlone) {
    // No context takeover: the second message's bytes read with a fresh decompressor, and are
    // the same bytes whatever was compressed before.
    MessageCompressor used, fresh;
    std::vector<unsigned char> first, second, alone;
    std::string text(200, 'a');
    ASSERT_TRUE(used.compress(text, first));
    ASSERT_TRUE(used.compress(text, second));
    ASSERT_TRUE(fresh.compress(text, alone));
    EXPECT_EQ(second, alone);
    std::string back;
    ASSERT_TRUE(MessageDecompressor().decompress(bytes_of(second), back, 1 << 20));
    EXPECT_EQ(back, text);
}

TEST(MessageDeflate, ReadsRfc7692Examples) {
    MessageDecompressor decompressor;
    std::string out;
    // 7.2.3.1: "Hello" compressed; 7.2.3.3: in a stored block; 7.2.3.4: with BFINAL set.
    const std::string_view compressed("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
    const std::string_view stored("\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00", 11);
    const std::string_view final_block("\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 8);
    for (std::string_view payload : {compressed, stored, final_block}) {
        ASSERT_TRUE(decompressor.decompress(payload, out, 100));
        EXPECT_EQ(out, "Hello");
    }
}

TEST(MessageDeflate, RefusesGarbageAndOverlongOutput) {
    MessageDecompressor decompressor;
    std::string out;
    EXPECT_FALSE(decompressor.decompress(std::string_view("\xff\xff\xff\xff", 4), out, 100));
    MessageCompressor compressor;
    std::vector<unsigned char> packed;
    ASSERT_TRUE(compressor.compress(std::string(100000, 'z'), packed));
    EXPECT_FALSE(decompressor.decompress(bytes_of(packed), out, 99999));
    ASSERT_TRUE(decompressor.decompress(bytes_of(packed), out, 100000));
    EXPECT_EQ(out.size(), 100000u);
    std::mt19937 random(11);
    for (int round = 0; round < 200; ++round) {
        std::string noise(1 + random() % 64, '\0');
        for (char& c : noise) c = static_cast<char>(random());
        decompressor.decompress(noise, out, 1 << 16);  // must not crash or hang
        EXPECT_LE(out.size(), std::size_t{1 << 16} + 16384);
    }
}

}  // namespace
}  // namespace rp
