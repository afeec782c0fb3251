#pragma once
// A streaming multipart/form-data parser (RFC 7578 over RFC 2046). It holds at most one header
// block and one delimiter's worth of bytes: part bodies flow straight to the handler, so an
// upload of any size costs constant memory.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "roompush/error.h"

namespace rp::app {

struct PartHeaders {
    std::string name;                     // from Content-Disposition: form-data; name="..."
    std::optional<std::string> filename;  // present for file fields, as the client sent it
    std::string content_type;
};

class MultipartHandler {
public:
    virtual ~MultipartHandler() = default;
    virtual Status on_part_begin(const PartHeaders& headers) = 0;
    virtual Status on_part_data(std::string_view bytes) = 0;
    virtual Status on_part_end() = 0;
};

struct MultipartLimits {
    std::size_t max_header_bytes = 8192;  // one part's header block
    std::size_t max_parts = 16;
};

// The boundary of a multipart/form-data Content-Type. Errors: "not_multipart" (any other type),
// "bad_multipart" (no or malformed boundary).
Result<std::string> multipart_boundary(std::string_view content_type);

class MultipartParser {
public:
    MultipartParser(std::string boundary, MultipartLimits limits, MultipartHandler& handler);

    // Errors from the parser are "bad_multipart" or "too_many_parts"; a handler's own error is
    // passed through unchanged. After an error the parser stays failed.
    Status feed(std::string_view bytes);
    // The body has ended: anything but a complete closing delimiter is "bad_multipart".
    Status finish();

private:
    enum class State { preamble, after_delimiter, headers, body, epilogue, failed };

    Status step(bool& progressed);
    Status on_preamble(bool& progressed);
    Status on_after_delimiter(bool& progressed);
    Status on_headers(bool& progressed);
    Status on_body(bool& progressed);
    Status fail(Error error);

    std::string delimiter_;  // "\r\n--" + boundary
    MultipartLimits limits_;
    MultipartHandler& handler_;
    State state_ = State::preamble;
    std::string buffer_;
    std::size_t parts_ = 0;
};

}  // namespace rp::app
