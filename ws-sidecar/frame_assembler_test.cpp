#include "frame_assembler.h"

#include <gtest/gtest.h>

namespace rp::sidecar {
namespace {

using Outcome = FrameAssembler::Outcome;

Fragment text(std::string_view bytes, bool final, std::size_t announced = 0) {
    return Fragment{bytes, false, final, announced};
}

TEST(FrameAssembler, AWholeFrameIsAMessageAtOnce) {
    FrameAssembler assembler;
    EXPECT_EQ(assembler.add(text(R"({"op":"subscribe"})", true), 4096), Outcome::message);
    EXPECT_EQ(assembler.take(), R"({"op":"subscribe"})");
    EXPECT_EQ(assembler.size(), 0u);
}

TEST(FrameAssembler, FragmentsAreJoinedUntilTheFinalOne) {
    FrameAssembler assembler;
    EXPECT_EQ(assembler.add(text("{\"op\":", false), 4096), Outcome::partial);
    EXPECT_EQ(assembler.add(text("\"subscribe\",", false), 4096), Outcome::partial);
    EXPECT_EQ(assembler.add(text("\"room\":\"A\"}", true), 4096), Outcome::message);
    EXPECT_EQ(assembler.take(), R"({"op":"subscribe","room":"A"})");
}

// libwebsockets hands a frame longer than its receive buffer over in pieces, each flagged final
// (the frame is), with the bytes still to come in `announced`: only the last piece ends it.
TEST(FrameAssembler, AFinalFrameWithPayloadStillAnnouncedIsNotYetAMessage) {
    FrameAssembler assembler;
    EXPECT_EQ(assembler.add(text("abc", true, 3), 4096), Outcome::partial);
    EXPECT_EQ(assembler.add(text("def", true, 0), 4096), Outcome::message);
    EXPECT_EQ(assembler.take(), "abcdef");
}

TEST(FrameAssembler, AMessageOfExactlyTheLimitIsTaken) {
    FrameAssembler assembler;
    std::string payload(16, 'x');
    EXPECT_EQ(assembler.add(text(std::string_view(payload).substr(0, 6), false), 16),
              Outcome::partial);
    EXPECT_EQ(assembler.add(text(std::string_view(payload).substr(6), true), 16), Outcome::message);
    EXPECT_EQ(assembler.take(), payload);
}

TEST(FrameAssembler, AFrameAnnouncingMoreThanTheLimitIsRefusedAtItsFirstBytes) {
    FrameAssembler assembler;
    // 10 bytes have arrived, the header announced 7 more: 17 > 16, refused now.
    EXPECT_EQ(assembler.add(text("0123456789", true, 7), 16), Outcome::too_big);
    EXPECT_EQ(assembler.size(), 0u);
}

TEST(FrameAssembler, FragmentsThatTogetherPassTheLimitAreRefusedAndForgotten) {
    FrameAssembler assembler;
    EXPECT_EQ(assembler.add(text("0123456789", false), 16), Outcome::partial);
    EXPECT_EQ(assembler.add(text("0123456", false), 16), Outcome::too_big);
    EXPECT_EQ(assembler.size(), 0u) << "a refused message holds no memory";
    // What follows starts afresh.
    EXPECT_EQ(assembler.add(text("{}", true), 16), Outcome::message);
    EXPECT_EQ(assembler.take(), "{}");
}

TEST(FrameAssembler, ABinaryFrameIsReportedAndNotKept) {
    FrameAssembler assembler;
    EXPECT_EQ(assembler.add(Fragment{"\x00\x01", true, true, 0}, 4096), Outcome::binary);
    EXPECT_EQ(assembler.size(), 0u);
    // Binary wins over size: a huge binary frame is a binary frame (1003), not a big one (1009).
    EXPECT_EQ(assembler.add(Fragment{"x", true, false, 1 << 20}, 4096), Outcome::binary);
}

TEST(FrameAssembler, AHeaderThatAnnouncedTooMuchAndThenNothingIsRefusedByTheCheck) {
    FrameAssembler assembler;
    EXPECT_EQ(assembler.add(text("0123", false), 16), Outcome::partial);
    EXPECT_FALSE(assembler.refuse_if_over(12, 16)) << "4 kept + 12 announced = the limit";
    EXPECT_EQ(assembler.size(), 4u);
    EXPECT_TRUE(assembler.refuse_if_over(13, 16));
    EXPECT_EQ(assembler.size(), 0u);
    EXPECT_FALSE(assembler.refuse_if_over(16, 16));
}

}  // namespace
}  // namespace rp::sidecar
