#include "multipart_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rp::app {
namespace {

struct Part {
    std::string name;
    std::string filename;
    std::string data;
    bool ended = false;
};

class Collector : public MultipartHandler {
public:
    std::vector<Part> parts;
    Status on_part_begin(const PartHeaders& headers) override {
        parts.push_back({headers.name, headers.filename.value_or("<none>"), {}, false});
        return ok_status();
    }
    Status on_part_data(std::string_view bytes) override {
        parts.back().data.append(bytes);
        return ok_status();
    }
    Status on_part_end() override {
        parts.back().ended = true;
        return ok_status();
    }
};

const std::string kBoundary = "XyZ123";

std::string body_with(const std::string& file_data) {
    return "preamble to ignore\r\n"
           "--XyZ123\r\n"
           "Content-Disposition: form-data; name=\"roomId\"\r\n\r\n"
           "A\r\n"
           "--XyZ123  \r\n"
           "Content-Disposition: form-data; name=\"file\"; filename=\"part.stl\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n" +
           file_data +
           "\r\n--XyZ123--\r\n"
           "epilogue to ignore";
}

// Feeds the body split at `split`, then in chunks of `chunk`.
Collector parse(const std::string& body, std::size_t split, std::size_t chunk, Status* status) {
    Collector collector;
    MultipartParser parser(kBoundary, {}, collector);
    *status = parser.feed(body.substr(0, split));
    for (std::size_t i = split; *status && i < body.size(); i += chunk) {
        *status = parser.feed(body.substr(i, chunk));
    }
    if (*status) *status = parser.finish();
    return collector;
}

TEST(MultipartParser, EverySplitPointGivesTheSameParts) {
    // Data that looks like delimiters but is not: CRLF, a dash run, a boundary without CRLF.
    const std::string tricky = "solid x\r\n--XyZ12\r\n\r\n--XyZ1\r--\r\nXyZ123\r\n-";
    const std::string body = body_with(tricky);
    for (std::size_t split = 0; split <= body.size(); ++split) {
        Status status = ok_status();
        Collector collector = parse(body, split, body.size(), &status);
        ASSERT_TRUE(status.ok()) << "split " << split << ": " << status.error().message;
        ASSERT_EQ(collector.parts.size(), 2u) << "split " << split;
        EXPECT_EQ(collector.parts[0].name, "roomId");
        EXPECT_EQ(collector.parts[0].data, "A");
        EXPECT_EQ(collector.parts[0].filename, "<none>");
        EXPECT_EQ(collector.parts[1].filename, "part.stl");
        EXPECT_EQ(collector.parts[1].data, tricky) << "split " << split;
        EXPECT_TRUE(collector.parts[1].ended);
    }
}

TEST(MultipartParser, ByteAtATime) {
    std::string binary;
    for (int i = 0; i < 1000; ++i) binary.push_back(static_cast<char>(i * 7));
    Status status = ok_status();
    Collector collector = parse(body_with(binary), 0, 1, &status);
    ASSERT_TRUE(status.ok()) << status.error().message;
    EXPECT_EQ(collector.parts.at(1).data, binary);
}

TEST(MultipartParser, EmptyPartBody) {
    Status status = ok_status();
    Collector collector = parse(body_with(""), 0, 3, &status);
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(collector.parts.at(1).data, "");
    EXPECT_TRUE(collector.parts.at(1).ended);
}

TEST(MultipartParser, TruncatedBodyIsAnError) {
    const std::string body = body_with("abc");
    for (std::size_t cut : {std::size_t{0}, std::size_t{30}, body.size() - 25}) {
        Status status = ok_status();
        parse(body.substr(0, cut), 0, 7, &status);
        ASSERT_FALSE(status.ok()) << cut;
        EXPECT_EQ(status.error().code, "bad_multipart");
    }
}

TEST(MultipartParser, WrongBoundaryIsTruncation) {
    Collector collector;
    MultipartParser parser("other", {}, collector);
    EXPECT_TRUE(parser.feed(body_with("abc")).ok());
    EXPECT_FALSE(parser.finish().ok());
    EXPECT_TRUE(collector.parts.empty());
}

TEST(MultipartParser, MalformedHeadersAndLimits) {
    Collector collector;
    MultipartParser no_disposition(kBoundary, {}, collector);
    auto status =
        no_disposition.feed("--XyZ123\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ123--");
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code, "bad_multipart");

    MultipartParser long_headers(kBoundary, {64, 16}, collector);
    status = long_headers.feed("--XyZ123\r\nX-Pad: " + std::string(100, 'p'));
    ASSERT_FALSE(status.ok());

    std::string many = "--XyZ123";
    for (int i = 0; i < 5; ++i) {
        many += "\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n--XyZ123";
    }
    MultipartParser few_parts(kBoundary, {8192, 3}, collector);
    status = few_parts.feed(many + "--");
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code, "too_many_parts");
}

TEST(MultipartParser, HandlerErrorsPassThrough) {
    struct Refuser : Collector {
        Status on_part_data(std::string_view) override {
            return make_error("upload_too_large", "x");
        }
    } refuser;
    MultipartParser parser(kBoundary, {}, refuser);
    auto status = parser.feed(body_with(std::string(100, 'd')));
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code, "upload_too_large");
}

TEST(MultipartBoundary, FromContentType) {
    EXPECT_EQ(*multipart_boundary("multipart/form-data; boundary=abc"), "abc");
    EXPECT_EQ(*multipart_boundary("Multipart/Form-Data; charset=x; boundary=\"a b:c\""), "a b:c");
    EXPECT_EQ(multipart_boundary("application/json").error().code, "not_multipart");
    EXPECT_EQ(multipart_boundary("").error().code, "not_multipart");
    EXPECT_EQ(multipart_boundary("multipart/form-data").error().code, "bad_multipart");
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=").error().code, "bad_multipart");
    EXPECT_EQ(
        multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'b')).error().code,
        "bad_multipart");
}

TEST(MultipartParser, FilenameIsKeptVerbatimAsMetadata) {
    Status status = ok_status();
    std::string body =
        "--B\r\nContent-Disposition: form-data; name=\"file\"; "
        "filename=\"../../etc/passwd\"\r\n\r\n"
        "x\r\n--B--";
    Collector collector;
    MultipartParser parser("B", {}, collector);
    ASSERT_TRUE(parser.feed(body).ok());
    ASSERT_TRUE(parser.finish().ok());
    EXPECT_EQ(collector.parts.at(0).filename, "../../etc/passwd");
}

}  // namespace
}  // namespace rp::app
