#include "write_scheduler.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "roompush/message_deflate.h"

namespace rp::sidecar {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kHeadroom = 16;

Wire* wire_of(SessionId id) { return reinterpret_cast<Wire*>(static_cast<uintptr_t>(id) << 4); }
SessionId id_of(Wire* wire) { return reinterpret_cast<uintptr_t>(wire) >> 4; }

// A permessage-deflate payload as a client inflates it.
std::string inflated(const unsigned char* bytes, std::size_t size) {
    MessageDecompressor decompressor;
    std::string out;
    std::string_view payload(reinterpret_cast<const char*>(bytes), size);
    return decompressor.decompress(payload, out, 1 << 16) ? out : "!";
}

// The text frames in `bytes`, as a client reads them: a compressed one (RSV1) as "Z(text)"; "!"
// for anything else.
std::vector<std::string> parse_frames(const unsigned char* bytes, std::size_t size) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < size) {
        bool compressed = bytes[at] == 0xc1;
        if ((bytes[at] != 0x81 && !compressed) || at + 2 > size) return {"!"};
        std::size_t length = bytes[at + 1];
        at += 2;
        if (length == 126 || length == 127) {
            std::size_t width = length == 126 ? 2 : 8;
            length = 0;
            for (std::size_t i = 0; i < width; ++i) length = length << 8 | bytes[at + i];
            at += width;
        }
        if (at + length > size) return {"!"};
        if (compressed) {
            out.push_back("Z(" + inflated(bytes + at, length) + ")");
        } else {
            out.emplace_back(reinterpret_cast<const char*>(bytes) + at, length);
        }
        at += length;
    }
    return out;
}

// Records what the scheduler asks of the loop, one line per call.
struct FakePort : WritePort {
    std::vector<std::string> calls;
    std::vector<SessionId> busy;       // can_write_now is false for these
    std::vector<SessionId> deflating;  // negotiated permessage-deflate
    bool fail_writes = false;

    void request_writeable(Wire* wire) override { log("writeable", wire); }
    bool can_write_now(Wire* wire) override {
        return std::find(busy.begin(), busy.end(), id_of(wire)) == busy.end();
    }
    bool write_frame(Wire* wire, Frame& frame) override {
        log("frame", wire, std::string(frame.text()));
        return !fail_writes;
    }
    bool deflates(Wire* wire) override {
        return std::find(deflating.begin(), deflating.end(), id_of(wire)) != deflating.end();
    }
    bool write_frames(Wire* wire, unsigned char* bytes, std::size_t size) override {
        // A joined write's headroom is ours to write (ASan checks); a deflate member's frame
        // alone is written from its shared buffer, header first.
        if (!deflates(wire)) std::fill(bytes - kHeadroom, bytes, 0xee);
        std::string joined;
        for (const std::string& frame : parse_frames(bytes, size))
            joined += (joined.empty() ? "" : "+") + frame;
        log("frames", wire, joined);
        return !fail_writes;
    }
    void close_soon(Wire* wire) override { log("close_soon", wire); }
    void set_close(Wire* wire, CloseCode code, std::string reason) override {
        log("close", wire, std::to_string(static_cast<int>(code)) + " " + reason);
    }
    void schedule_turn_end() override { calls.push_back("turn_end"); }
    void cancel_turn_end() override { calls.push_back("cancel_turn_end"); }

    void log(const char* what, Wire* wire, const std::string& detail = "") {
        calls.push_back(std::string(what) + " " + std::to_string(id_of(wire)) +
                        (detail.empty() ? "" : " " + detail));
    }
    std::vector<std::string> take() { return std::exchange(calls, {}); }
};

WriteScheduler::Clock::time_point fake_now{std::chrono::hours(1)};
WriteScheduler::Clock::time_point fake_clock() { return fake_now; }

class Scheduler : public testing::Test {
protected:
    SidecarMetrics metrics;
    RoomRegistry registry{RegistryLimits{1 << 20, 8, HistoryLimits{100, 1 << 20, 60000}}, metrics};
    FakePort port;
    WriteScheduler scheduler{registry, port, kHeadroom, fake_clock};

    // A connected WebSocket session with `frames` queued.
    SessionId member(std::vector<std::string> frames = {"m"}) {
        SessionId id = registry.add_session("peer", 0);
        scheduler.connected(id, wire_of(id));
        for (const std::string& frame : frames) registry.send(id, make_frame(frame));
        return id;
    }
    std::vector<SessionId> audience(std::size_t size) {
        std::vector<SessionId> ids;
        for (std::size_t i = 0; i < size; ++i) ids.push_back(member());
        return ids;
    }
    // Each member of `ids` gets one more frame, then is woken as one publish's audience.
    void publish(const std::vector<SessionId>& ids, const std::string& text = "m") {
        FramePtr frame = make_frame(text);
        for (SessionId id : ids) registry.send(id, frame);
        scheduler.wake(ids);
    }
    static std::vector<std::string> each(const std::vector<SessionId>& ids,
                                         const std::string& call) {
        std::vector<std::string> out;
        for (SessionId id : ids) out.push_back(call + " " + std::to_string(id) + " m");
        return out;
    }
};

/* ---- when -------------------------------------------------------------------------------- */

TEST_F(Scheduler, ASmallAudienceOfABatchIsWrittenRightAfterTheBatch) {
    SessionId a = member({});
    SessionId b = member({});
    scheduler.begin_batch();
    publish({a, b}, "one");
    publish({b}, "two");
    EXPECT_TRUE(port.calls.empty()) << "nothing is written while the batch runs";
    scheduler.end_batch();
    EXPECT_EQ(port.take(), (std::vector<std::string>{"frame 1 one", "frames 2 one+two"}))
        << "one write per member, each member's frames joined";
}

TEST_F(Scheduler, OutsideABatchOnPollMembersWaitForTheWriteableCallback) {
    SessionId a = member({});
    publish({a});
    EXPECT_EQ(port.take(), (std::vector<std::string>{"writeable 1"}));
}

TEST_F(Scheduler, OutsideABatchOnEpollMembersAreWrittenAtTheEndOfTheNextTurn) {
    scheduler.set_turn_end_available(true);
    SessionId a = member({});
    SessionId b = member({});
    publish({a, b});
    publish({a});
    EXPECT_EQ(port.take(), (std::vector<std::string>{"turn_end"}))
        << "one turn brought, no POLLOUT";
    scheduler.flush_deferred();
    EXPECT_EQ(port.take(),
              (std::vector<std::string>{"cancel_turn_end", "frames 1 m+m", "frame 2 m"}));
    scheduler.flush_deferred();
    EXPECT_EQ(port.take(), (std::vector<std::string>{"cancel_turn_end"})) << "written once";
}

TEST_F(Scheduler, TheFirstLargeAudienceIsWrittenAtOnce) {
    std::vector<SessionId> ids = audience(WriteScheduler::kWriteAtOnceMembers + 1);
    for (SessionId id : ids) registry.find(id)->pop();
    scheduler.begin_batch();
    publish(ids);
    scheduler.end_batch();
    EXPECT_EQ(port.take(), each(ids, "frame"));
}

TEST_F(Scheduler, AnAudienceOfExactlyTheAtOnceSizeIsAlwaysWrittenAtOnce) {
    std::vector<SessionId> ids = audience(WriteScheduler::kWriteAtOnceMembers);
    for (SessionId id : ids) registry.find(id)->pop();
    for (int round = 0; round < 3; ++round) {
        scheduler.begin_batch();
        publish(ids);
        scheduler.end_batch();
        EXPECT_EQ(port.take(), each(ids, "frame")) << "round " << round;
    }
}

TEST_F(Scheduler, ALargeAudienceSoonAfterAnotherWaitsOneTurnOnEpoll) {
    scheduler.set_turn_end_available(true);
    std::vector<SessionId> ids = audience(WriteScheduler::kWriteAtOnceMembers + 1);
    for (SessionId id : ids) registry.find(id)->pop();
    scheduler.begin_batch();
    publish(ids);
    scheduler.end_batch();
    port.take();

    fake_now += WriteScheduler::kLargeAudienceBusy - 1ms;
    scheduler.begin_batch();
    publish(ids);
    scheduler.end_batch();
    EXPECT_EQ(port.take(), (std::vector<std::string>{"turn_end"}));
    scheduler.flush_deferred();
    std::vector<std::string> expected{"cancel_turn_end"};
    for (const std::string& write : each(ids, "frame")) expected.push_back(write);
    EXPECT_EQ(port.take(), expected);
}

TEST_F(Scheduler, ALargeAudienceSoonAfterAnotherWaitsForTheWriteableCallbackOnPoll) {
    std::vector<SessionId> ids = audience(WriteScheduler::kWriteAtOnceMembers + 1);
    for (SessionId id : ids) registry.find(id)->pop();
    scheduler.begin_batch();
    publish(ids);
    fake_now += 5ms;
    publish(ids);
    scheduler.end_batch();
    std::vector<std::string> expected;
    for (SessionId id : ids) expected.push_back("writeable " + std::to_string(id));
    for (SessionId id : ids) expected.push_back("frames " + std::to_string(id) + " m+m");
    EXPECT_EQ(port.take(), expected)
        << "the second publish asks for POLLOUT; the batch's end then writes both frames";
}

TEST_F(Scheduler, LargeAudiencesAreWrittenAtOnceAgainWhenTheyComeLessOften) {
    std::vector<SessionId> ids = audience(WriteScheduler::kWriteAtOnceMembers + 1);
    for (SessionId id : ids) registry.find(id)->pop();
    for (auto gap : {0ms, 10ms, 10ms, 20ms, 25ms}) {
        fake_now += gap;
        scheduler.begin_batch();
        publish(ids);
        scheduler.end_batch();
        std::vector<std::string> calls = port.take();
        ASSERT_FALSE(calls.empty());
        bool at_once = gap != 10ms;  // each large audience restarts the busy time, 20 ms
        EXPECT_EQ(calls.front().rfind(at_once ? "frame " : "writeable", 0), 0u)
            << "after " << gap.count() << " ms: " << calls.front();
        if (!at_once) {
            for (SessionId id : ids) registry.find(id)->pop();  // as the writeable pass would
        }
    }
}

TEST_F(Scheduler, ASinkIsDrainedAtOnceEvenInABatch) {
    SessionId tail = registry.add_session("control:tail", 0);
    int drained = 0;
    scheduler.attach_sink(tail, [&] { ++drained; });
    scheduler.begin_batch();
    scheduler.wake({tail});
    EXPECT_EQ(drained, 1);
    scheduler.end_batch();
    EXPECT_EQ(drained, 1);
    scheduler.detach_sink(tail);
    scheduler.wake({tail});
    EXPECT_EQ(drained, 1);
    EXPECT_TRUE(port.calls.empty());
}

/* ---- writing outside the callback ------------------------------------------------------- */

TEST_F(Scheduler, AMemberClosedDuringTheBatchIsSkipped) {
    SessionId a = member({});
    SessionId b = member({});
    scheduler.begin_batch();
    publish({a, b});
    scheduler.disconnected(a);
    registry.remove_session(a);
    scheduler.end_batch();
    EXPECT_EQ(port.take(), (std::vector<std::string>{"frame 2 m"}));
}

TEST_F(Scheduler, AMemberWithNothingToWriteIsLeftAlone) {
    SessionId a = member({});
    scheduler.begin_batch();
    scheduler.wake({a});
    scheduler.end_batch();
    EXPECT_TRUE(port.calls.empty());
}

TEST_F(Scheduler, AClosingMemberIsLeftToTheWriteableCallback) {
    SessionId a = member({});
    registry.find(a)->request_close(CloseCode::try_again_later, "slow consumer", false);
    scheduler.begin_batch();
    scheduler.wake({a});
    scheduler.end_batch();
    EXPECT_EQ(port.take(), (std::vector<std::string>{"writeable 1"}));
}

TEST_F(Scheduler, AMemberLwsCannotWriteNowIsLeftToTheWriteableCallback) {
    SessionId a = member({});
    port.busy.push_back(a);
    scheduler.begin_batch();
    publish({a});
    scheduler.end_batch();
    EXPECT_EQ(port.take(), (std::vector<std::string>{"writeable 1"}));
    EXPECT_TRUE(registry.find(a)->has_pending());
}

TEST_F(Scheduler, AFailedWriteClosesTheConnectionSoon) {
    SessionId a = member({});
    port.fail_writes = true;
    scheduler.begin_batch();
    publish({a});
    scheduler.end_batch();
    EXPECT_EQ(port.take(), (std::vector<std::string>{"frame 1 m", "close_soon 1"}));
}

// A member far behind (its queue over one coalesced write) gets one write now, however many
// publishes of the batch woke it, and the rest when its socket takes more.
TEST_F(Scheduler, AMemberFarBehindGetsOneWriteNowAndTheRestOnPollout) {
    SessionId a = member({});
    scheduler.begin_batch();
    for (int i = 0; i < 40; ++i) publish({a}, std::string(1000, 'x'));
    scheduler.end_batch();
    std::vector<std::string> calls = port.take();
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].rfind("frames 1 ", 0), 0u);
    EXPECT_EQ(calls[1], "writeable 1");
    EXPECT_EQ(registry.find(a)->queued_frames(), 8u);
}

/* ---- what one write holds ---------------------------------------------------------------- */

TEST_F(Scheduler, OneQueuedFrameGoesOutFromItsSharedBuffer) {
    SessionId a = member({"only"});
    EXPECT_TRUE(scheduler.on_writeable(wire_of(a), a));
    EXPECT_EQ(port.take(), (std::vector<std::string>{"frame 1 only"}));
}

TEST_F(Scheduler, QueuedFramesAreJoinedUpToTheCoalescingSizeAndTheRestWaits) {
    // Frames of 1,000 bytes take 1,004 with their headers: 32 of them fit in 32 KiB, not 33.
    std::vector<std::string> frames;
    for (int i = 0; i < 40; ++i)
        frames.push_back(std::string(1000, static_cast<char>('a' + i % 26)));
    SessionId a = member(frames);
    EXPECT_TRUE(scheduler.on_writeable(wire_of(a), a));
    std::vector<std::string> calls = port.take();
    ASSERT_EQ(calls.size(), 2u);
    std::string joined;
    for (int i = 0; i < 32; ++i) joined += (i ? "+" : "") + frames[i];
    EXPECT_EQ(calls[0], "frames 1 " + joined);
    EXPECT_EQ(calls[1], "writeable 1") << "8 frames are left for the next callback";
    EXPECT_EQ(registry.find(a)->queued_frames(), 8u);
    EXPECT_TRUE(scheduler.on_writeable(wire_of(a), a));
    EXPECT_EQ(port.take().size(), 1u) << "the last 8 in one write, nothing more asked";
}

TEST_F(Scheduler, JoinedFramesFillTheBufferExactly) {
    // A frame joins while what is used, the frame and the largest header (10 bytes) fit: the
    // second one here is the largest that still does.
    std::size_t first = 125;
    std::size_t second =
        WriteScheduler::kCoalesceBytes - (2 + first) - WriteScheduler::kMaxFrameHeader;
    SessionId a = member({std::string(first, 'x'), std::string(second, 'y')});
    EXPECT_TRUE(scheduler.on_writeable(wire_of(a), a));
    std::vector<std::string> calls = port.take();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0], "frames 1 " + std::string(first, 'x') + "+" + std::string(second, 'y'));
}

TEST_F(Scheduler, AFrameTooLargeToJoinGoesOutAloneFromItsBuffer) {
    std::string large(WriteScheduler::kCoalesceBytes - WriteScheduler::kMaxFrameHeader + 1, 'L');
    SessionId a = member({large, "small"});
    EXPECT_TRUE(scheduler.on_writeable(wire_of(a), a));
    EXPECT_EQ(port.take(), (std::vector<std::string>{"frame 1 " + large, "writeable 1"}));
    EXPECT_TRUE(scheduler.on_writeable(wire_of(a), a));
    EXPECT_EQ(port.take(), (std::vector<std::string>{"frame 1 small"}));
}

TEST_F(Scheduler, AFrameOfTheLargestJoinableSizeIsJoined) {
    std::string large(WriteScheduler::kCoalesceBytes - WriteScheduler::kMaxFrameHeader, 'L');
    SessionId a = member({large, "small"});
    EXPECT_TRUE(scheduler.on_writeable(wire_of(a), a));
    EXPECT_EQ(port.take(), (std::vector<std::string>{"frames 1 " + large, "writeable 1"}))
        << "the large one fills the write; the small one waits";
}

TEST(FrameHeader, TheLengthTakesOneTwoOrEightBytes) {
    unsigned char out[WriteScheduler::kMaxFrameHeader];
    EXPECT_EQ(encode_text_frame_header(out, 125), 2u);
    EXPECT_EQ(out[0], 0x81);
    EXPECT_EQ(out[1], 125);
    EXPECT_EQ(encode_text_frame_header(out, 126), 4u);
    EXPECT_EQ(out[1], 126);
    EXPECT_EQ(out[2] << 8 | out[3], 126);
    EXPECT_EQ(encode_text_frame_header(out, 0xffff), 4u);
    EXPECT_EQ(out[2] << 8 | out[3], 0xffff);
    EXPECT_EQ(encode_text_frame_header(out, 0x10000), 10u);
    EXPECT_EQ(out[1], 127);
    EXPECT_EQ(out[7], 0x01);
    EXPECT_EQ(out[8], 0x00);
    EXPECT_EQ(out[9], 0x00);
}

/* ---- the writeable callback -------------------------------------------------------------- */

/* ---- permessage-deflate ----------------------------------------------------------------- */

TEST_F(Scheduler, DeflateMembersShareOneCompressedFormAndTheOthersGetThePlainFrame) {
    scheduler.enable_deflate(metrics.ws_deflated);
    std::string text = "{\"type\":\"message\",\"data\":\"" + std::string(300, 'a') + "\"}";
    SessionId first = member({});
    SessionId second = member({});
    SessionId plain = member({});
    port.deflating = {first, second};
    scheduler.begin_batch();
    publish({first, second, plain}, text);
    scheduler.end_batch();
    std::string one = std::to_string(first), two = std::to_string(second);
    EXPECT_EQ(port.take(),
              (std::vector<std::string>{"frames " + one + " Z(" + text + ")",
                                        "frames " + two + " Z(" + text + ")",
                                        "frame " + std::to_string(plain) + " " + text}));
    EXPECT_EQ(metrics.ws_deflated.load(), 1u) << "compressed once, for both";
}

TEST_F(Scheduler, JoinedFramesOfADeflateMemberEachTakeTheirOwnForm) {
    scheduler.enable_deflate(metrics.ws_deflated);
    std::string longer(200, 'b');
    SessionId id = member({"short", longer});
    port.deflating = {id};
    EXPECT_TRUE(scheduler.on_writeable(wire_of(id), id));
    EXPECT_EQ(port.take()[0], "frames " + std::to_string(id) + " short+Z(" + longer + ")");
}

TEST_F(Scheduler, WithoutTheOptionNoMemberIsCompressed) {
    SessionId id = member({std::string(200, 'c')});
    port.deflating = {id};
    EXPECT_TRUE(scheduler.on_writeable(wire_of(id), id));
    EXPECT_EQ(port.take()[0], "frame " + std::to_string(id) + " " + std::string(200, 'c'));
}

TEST_F(Scheduler, ADueCloseIsSentWithItsReasonCutTo120Bytes) {
    SessionId a = member({});
    registry.find(a)->request_close(CloseCode::policy, std::string(200, 'r'), false);
    EXPECT_FALSE(scheduler.on_writeable(wire_of(a), a));
    EXPECT_EQ(port.take(), (std::vector<std::string>{"close 1 1008 " + std::string(120, 'r')}));
}

TEST_F(Scheduler, ACloseAfterTheQueueIsSentOnceItIsWritten) {
    SessionId a = member({"error"});
    registry.find(a)->request_close(CloseCode::policy, "bad_json", true);
    EXPECT_TRUE(scheduler.on_writeable(wire_of(a), a));
    EXPECT_EQ(port.take(), (std::vector<std::string>{"frame 1 error", "writeable 1"}));
    EXPECT_FALSE(scheduler.on_writeable(wire_of(a), a));
    EXPECT_EQ(port.take(), (std::vector<std::string>{"close 1 1008 bad_json"}));
}

TEST_F(Scheduler, AnUnknownSessionIsHungUp) {
    EXPECT_FALSE(scheduler.on_writeable(wire_of(99), 99));
    EXPECT_TRUE(port.calls.empty());
}

TEST_F(Scheduler, AFailedWriteInTheCallbackHangsUp) {
    SessionId a = member({"m", "n"});
    port.fail_writes = true;
    EXPECT_FALSE(scheduler.on_writeable(wire_of(a), a));
    EXPECT_EQ(port.take(), (std::vector<std::string>{"frames 1 m+n"}));
}

TEST_F(Scheduler, NothingQueuedNothingWritten) {
    SessionId a = member({});
    EXPECT_TRUE(scheduler.on_writeable(wire_of(a), a));
    EXPECT_TRUE(port.calls.empty());
}

}  // namespace
}  // namespace rp::sidecar
