#include "message_deflater.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace rp::sidecar {
namespace {

TEST(MessageDeflater, AMessageIsCompressedOnceAndItsFormKept) {
    std::atomic<uint64_t> compressed{0};
    MessageDeflater deflater(compressed);
    FramePtr frame = make_frame(std::string(500, 'x'));
    DeflateForm first = deflater.form(*frame);
    DeflateForm again = deflater.form(*frame);
    EXPECT_TRUE(first.compressed);
    EXPECT_NE(first.frame, frame.get());
    EXPECT_LT(first.frame->size(), 50u);
    EXPECT_EQ(again.frame, first.frame);
    EXPECT_EQ(compressed.load(), 1u);
}

TEST(MessageDeflater, ShortOrIncompressibleMessagesGoAsTheyAre) {
    std::atomic<uint64_t> compressed{0};
    MessageDeflater deflater(compressed);
    FramePtr short_one = make_frame(std::string(MessageDeflater::kMinBytes - 1, 'x'));
    std::mt19937 random(7);
    std::string noise(400, '\0');
    for (char& c : noise) c = static_cast<char>(random());
    FramePtr noisy = make_frame(noise);
    for (FramePtr* frame : {&short_one, &noisy}) {
        DeflateForm form = deflater.form(**frame);
        EXPECT_FALSE(form.compressed);
        EXPECT_EQ(form.frame, frame->get());
    }
    EXPECT_EQ(compressed.load(), 0u);
}

TEST(MessageDeflater, OffersAreTakenOnlyAsTheDeflaterCanHonourThem) {
    EXPECT_TRUE(deflate_offer_acceptable("permessage-deflate"));
    EXPECT_TRUE(deflate_offer_acceptable("permessage-deflate; client_max_window_bits"));
    EXPECT_TRUE(
        deflate_offer_acceptable("permessage-deflate; client_max_window_bits=10; "
                                 "server_no_context_takeover; client_no_context_takeover"));
    EXPECT_TRUE(deflate_offer_acceptable("x-webkit-deflate-frame, permessage-deflate"));
    EXPECT_FALSE(deflate_offer_acceptable("permessage-deflate; server_max_window_bits=15"));
    EXPECT_FALSE(
        deflate_offer_acceptable("permessage-deflate, permessage-deflate; "
                                 "client_max_window_bits"));
    EXPECT_FALSE(deflate_offer_acceptable(""));
    EXPECT_FALSE(deflate_offer_acceptable("x-webkit-deflate-frame"));
    EXPECT_FALSE(deflate_offer_acceptable("permessage-deflate; server_max_window_bits=10"));
    EXPECT_FALSE(deflate_offer_acceptable("permessage-deflate; server_max_window_bits"));
    EXPECT_FALSE(deflate_offer_acceptable("permessage-deflate; server_no_context_takeover=1"));
    EXPECT_FALSE(deflate_offer_acceptable("permessage-deflate; unknown"));
    EXPECT_FALSE(deflate_offer_acceptable("permessage-deflate-x"));
}

TEST(MessageDeflater, ACompressedFrameHeaderHasRsv1) {
    unsigned char out[kMaxFrameHeaderBytes];
    EXPECT_EQ(encode_text_frame_header(out, 5, true), 2u);
    EXPECT_EQ(out[0], 0xc1);
    EXPECT_EQ(encode_text_frame_header(out, 5), 2u);
    EXPECT_EQ(out[0], 0x81);
}

}  // namespace
}  // namespace rp::sidecar
