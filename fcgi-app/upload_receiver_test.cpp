#include "upload_receiver.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace rp::app {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

// A multipart/form-data body with boundary "B0und"; a part is {name, filename or "", data}.
struct FormPart {
    std::string name;
    std::string filename;  // "" for a text field
    std::string data;
};

std::string form(const std::vector<FormPart>& parts) {
    std::string body;
    for (const FormPart& part : parts) {
        body += "--B0und\r\nContent-Disposition: form-data; name=\"" + part.name + "\"";
        if (!part.filename.empty()) body += "; filename=\"" + part.filename + "\"";
        body += "\r\n\r\n" + part.data + "\r\n";
    }
    return body + "--B0und--\r\n";
}

class UploadReceiverTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "rp-receiver-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        spool_path_ = dir_ + "/upload.part";
    }
    void TearDown() override { fs::remove_all(dir_); }

    // Parses the body through the receiver, in small chunks, then checks it is complete.
    Status receive(const std::vector<FormPart>& parts, UploadLimits limits = {1 << 20, 4096}) {
        if (fresh_) fs::remove(spool_path_);  // what the last call spooled
        receiver_ = std::make_unique<UploadReceiver>(spool_path_, limits);
        MultipartParser parser("B0und", {}, *receiver_);
        std::string body = form(parts);
        for (std::size_t i = 0; i < body.size(); i += 7) {
            if (auto fed = parser.feed(std::string_view(body).substr(i, 7)); !fed) return fed;
        }
        if (auto finished = parser.finish(); !finished) return finished;
        return receiver_->check_complete();
    }

    std::string spooled() const {
        std::ifstream file(spool_path_, std::ios::binary);
        std::stringstream text;
        text << file.rdbuf();
        return text.str();
    }

    std::string dir_;
    std::string spool_path_;
    std::unique_ptr<UploadReceiver> receiver_;
    bool fresh_ = true;
};

std::string code_of(const Status& status) { return status.ok() ? "ok" : status.error().code; }

TEST_F(UploadReceiverTest, AGoodUploadIsSpooledWithItsFields) {
    std::string data = "solid x\r\nfacet\0binary\r\n--B0un"s;
    data += std::string(100000, 'z');
    auto status = receive({{"roomId", "", "room.A"},
                           {"note", "", "ignored"},
                           {"itemId", "", "it\xc3\xa9m 7"},
                           {"file", "part.stl", data}});
    ASSERT_TRUE(status.ok()) << status.error().code << ": " << status.error().message;
    EXPECT_EQ(receiver_->room(), "room.A");
    EXPECT_EQ(receiver_->item(), "it\xc3\xa9m 7");
    EXPECT_EQ(receiver_->filename(), "part.stl");
    EXPECT_EQ(receiver_->file_size(), data.size());
    EXPECT_EQ(spooled(), data);
}

TEST_F(UploadReceiverTest, ItemIdIsOptional) {
    ASSERT_TRUE(receive({{"roomId", "", "A"}, {"file", "f", "x"}}).ok());
    EXPECT_EQ(receiver_->item(), "");
}

TEST_F(UploadReceiverTest, AVeryLongFileNameIsCut) {
    ASSERT_TRUE(receive({{"roomId", "", "A"}, {"file", std::string(400, 'n'), "x"}}).ok());
    EXPECT_EQ(receiver_->filename(), std::string(255, 'n'));
}

TEST_F(UploadReceiverTest, MissingFields) {
    EXPECT_EQ(code_of(receive({{"file", "f", "x"}})), "missing_field");
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}})), "missing_field");
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"file", "f", ""}})), "empty_file");
}

TEST_F(UploadReceiverTest, InvalidRoomAndItem) {
    EXPECT_EQ(code_of(receive({{"roomId", "", "a/b"}, {"file", "f", "x"}})), "invalid_room");
    EXPECT_EQ(code_of(receive({{"roomId", "", ""}, {"file", "f", "x"}})), "invalid_room");
    EXPECT_EQ(code_of(receive({{"roomId", "", std::string(129, 'a')}, {"file", "f", "x"}})),
              "invalid_room");
    EXPECT_EQ(code_of(receive({{"roomId", "", std::string(128, 'a')}, {"file", "f", "x"}})), "ok");
    EXPECT_EQ(
        code_of(receive(
            {{"roomId", "", "A"}, {"itemId", "", std::string(129, 'i')}, {"file", "f", "x"}})),
        "invalid_item");
    EXPECT_EQ(
        code_of(receive(
            {{"roomId", "", "A"}, {"itemId", "", std::string(128, 'i')}, {"file", "f", "x"}})),
        "ok");
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"itemId", "", "a\tb"}, {"file", "f", "x"}})),
              "invalid_item");
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"itemId", "", "a\x7f"}, {"file", "f", "x"}})),
              "invalid_item");
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"itemId", "", "\xc3("}, {"file", "f", "x"}})),
              "invalid_item");
}

TEST_F(UploadReceiverTest, FileFieldsMustBeOneFileNamedFile) {
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"file", "a", "x"}, {"file", "b", "y"}})),
              "too_many_files");
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"upload", "a", "x"}})), "unexpected_file");
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"file", "", "x"}})), "bad_multipart");
}

TEST_F(UploadReceiverTest, RoomIdOrItemIdTwiceIsRefused) {
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"roomId", "", "B"}, {"file", "f", "x"}})),
              "duplicate_field");
    EXPECT_EQ(
        code_of(receive(
            {{"roomId", "", "A"}, {"itemId", "", "1"}, {"itemId", "", "2"}, {"file", "f", "x"}})),
        "duplicate_field");
}

TEST_F(UploadReceiverTest, LimitsOnFieldsAndTheFile) {
    UploadLimits limits{10, 8};
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"file", "f", std::string(10, 'x')}}, limits)),
              "ok");
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"file", "f", std::string(11, 'x')}}, limits)),
              "upload_too_large");
    EXPECT_EQ(code_of(receive({{"roomId", "", "123456789"}, {"file", "f", "x"}}, limits)),
              "field_too_large");
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"other", "", "123456789"}, {"file", "f", "x"}},
                              limits)),
              "field_too_large")
        << "unknown fields are held to the limit too";
    EXPECT_EQ(
        code_of(receive(
            {{"roomId", "", "A"}, {"a", "", "12345678"}, {"b", "", "12345678"}, {"file", "f", "x"}},
            limits)),
        "ok")
        << "the limit is per field";
}

TEST_F(UploadReceiverTest, AnUploadIsNeverWrittenOverAnExistingFile) {
    std::ofstream(spool_path_) << "someone else's";
    fresh_ = false;
    EXPECT_EQ(code_of(receive({{"roomId", "", "A"}, {"file", "f", "x"}})), "spool_error");
    EXPECT_EQ(spooled(), "someone else's");
}

}  // namespace
}  // namespace rp::app
