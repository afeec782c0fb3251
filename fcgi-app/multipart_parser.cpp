#include "multipart_parser.h"

#include <algorithm>
#include <cctype>

namespace rp::app {
namespace {

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

Error bad(std::string message) { return make_error("bad_multipart", std::move(message)); }

// Splits `key=value; key="quoted value"` parameters; returns the value of `wanted` if present.
std::optional<std::string> header_parameter(std::string_view header, std::string_view wanted) {
    std::size_t position = header.find(';');
    while (position != std::string_view::npos && position < header.size()) {
        std::string_view rest = trim(header.substr(position + 1));
        std::size_t equals = rest.find('=');
        if (equals == std::string_view::npos) return std::nullopt;
        std::string key = lowercase(trim(rest.substr(0, equals)));
        std::string_view value_part = rest.substr(equals + 1);
        std::string value;
        std::size_t consumed = 0;
        if (!value_part.empty() && value_part.front() == '"') {
            std::size_t i = 1;
            for (; i < value_part.size() && value_part[i] != '"'; ++i) {
                if (value_part[i] == '\\' && i + 1 < value_part.size()) ++i;
                value.push_back(value_part[i]);
            }
            if (i >= value_part.size()) return std::nullopt;  // unterminated quote
            consumed = i + 1;
        } else {
            consumed = std::min(value_part.find(';'), value_part.size());
            value = std::string(trim(value_part.substr(0, consumed)));
        }
        if (key == wanted) return value;
        std::size_t next = value_part.find(';', consumed);
        if (next == std::string_view::npos) return std::nullopt;
        position = static_cast<std::size_t>(value_part.data() + next - header.data());
    }
    return std::nullopt;
}

Result<PartHeaders> parse_part_headers(std::string_view block) {
    PartHeaders headers;
    bool has_disposition = false;
    while (!block.empty()) {
        std::size_t end = block.find("\r\n");
        std::string_view line = block.substr(0, end);
        block = end == std::string_view::npos ? std::string_view() : block.substr(end + 2);
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return bad("a part header has no colon");
        std::string name = lowercase(trim(line.substr(0, colon)));
        std::string_view value = trim(line.substr(colon + 1));
        if (name == "content-disposition") {
            if (lowercase(value.substr(0, value.find(';'))) != "form-data") {
                return bad("Content-Disposition of a part must be form-data");
            }
            auto field = header_parameter(value, "name");
            if (!field || field->empty()) return bad("a part has no field name");
            headers.name = *field;
            headers.filename = header_parameter(value, "filename");
            has_disposition = true;
        } else if (name == "content-type") {
            headers.content_type = std::string(value);
        }
    }
    if (!has_disposition) return bad("a part has no Content-Disposition header");
    return headers;
}

}  // namespace

Result<std::string> multipart_boundary(std::string_view content_type) {
    std::string type = lowercase(trim(content_type.substr(0, content_type.find(';'))));
    if (type != "multipart/form-data") {
        return make_error("not_multipart",
                          "the body must be multipart/form-data, not \"" +
                              std::string(trim(content_type.substr(0, content_type.find(';')))) +
                              "\"");
    }
    auto boundary = header_parameter(content_type, "boundary");
    if (!boundary || boundary->empty()) return bad("multipart/form-data without a boundary");
    if (boundary->size() > 70) return bad("multipart boundary is longer than 70 characters");
    return *boundary;
}

MultipartParser::MultipartParser(std::string boundary, MultipartLimits limits,
                                 MultipartHandler& handler)
    // The body is parsed as if it began with CRLF, so the first delimiter looks like the others.
    : delimiter_("\r\n--" + boundary), limits_(limits), handler_(handler), buffer_("\r\n") {}

Status MultipartParser::fail(Error error) {
    state_ = State::failed;
    buffer_.clear();
    return error;
}

Status MultipartParser::feed(std::string_view bytes) {
    if (state_ == State::failed) return bad("the parser already failed");
    if (state_ == State::epilogue) return ok_status();  // the epilogue is ignored
    buffer_.append(bytes);
    bool progressed = true;
    while (progressed && state_ != State::failed && state_ != State::epilogue) {
        progressed = false;
        if (auto stepped = step(progressed); !stepped) {
            if (state_ != State::failed) return fail(stepped.error());
            return stepped;
        }
    }
    if (state_ == State::epilogue) buffer_.clear();
    return ok_status();
}

Status MultipartParser::finish() {
    if (state_ == State::epilogue) return ok_status();
    if (state_ == State::failed) return bad("the parser already failed");
    return fail(bad("the body ended before the closing boundary (truncated upload?)"));
}

Status MultipartParser::step(bool& progressed) {
    switch (state_) {
        case State::preamble:
            return on_preamble(progressed);
        case State::after_delimiter:
            return on_after_delimiter(progressed);
        case State::headers:
            return on_headers(progressed);
        case State::body:
            return on_body(progressed);
        default:
            return ok_status();
    }
}

Status MultipartParser::on_preamble(bool& progressed) {
    std::size_t found = buffer_.find(delimiter_);
    if (found == std::string::npos) {
        // Keep only what could still be the start of a delimiter.
        if (buffer_.size() > delimiter_.size())
            buffer_.erase(0, buffer_.size() - delimiter_.size());
        return ok_status();
    }
    buffer_.erase(0, found + delimiter_.size());
    state_ = State::after_delimiter;
    progressed = true;
    return ok_status();
}

Status MultipartParser::on_after_delimiter(bool& progressed) {
    // After a delimiter: "--" closes the body; otherwise optional whitespace, then CRLF.
    if (buffer_.size() < 2) return ok_status();
    if (buffer_.compare(0, 2, "--") == 0) {
        state_ = State::epilogue;
        progressed = true;
        return ok_status();
    }
    std::size_t i = 0;
    while (i < buffer_.size() && (buffer_[i] == ' ' || buffer_[i] == '\t')) ++i;
    if (i > 64) return bad("garbage after a boundary");
    if (buffer_.size() < i + 2) return ok_status();
    if (buffer_.compare(i, 2, "\r\n") != 0) return bad("a boundary is not followed by CRLF");
    buffer_.erase(0, i + 2);
    if (++parts_ > limits_.max_parts) {
        return make_error("too_many_parts",
                          "more than " + std::to_string(limits_.max_parts) + " form fields");
    }
    state_ = State::headers;
    progressed = true;
    return ok_status();
}

Status MultipartParser::on_headers(bool& progressed) {
    std::size_t end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) {
        if (buffer_.size() > limits_.max_header_bytes) return bad("a part's headers are too long");
        return ok_status();
    }
    if (end > limits_.max_header_bytes) return bad("a part's headers are too long");
    auto headers = parse_part_headers(std::string_view(buffer_).substr(0, end));
    if (!headers) return headers.error();
    buffer_.erase(0, end + 4);
    if (auto begun = handler_.on_part_begin(*headers); !begun) return begun;
    state_ = State::body;
    progressed = true;
    return ok_status();
}

Status MultipartParser::on_body(bool& progressed) {
    std::size_t found = buffer_.find(delimiter_);
    if (found == std::string::npos) {
        // Everything but a possible delimiter prefix at the end is part data.
        if (buffer_.size() < delimiter_.size()) return ok_status();
        std::size_t safe = buffer_.size() - (delimiter_.size() - 1);
        if (auto data = handler_.on_part_data(std::string_view(buffer_).substr(0, safe)); !data) {
            return data;
        }
        buffer_.erase(0, safe);
        return ok_status();
    }
    if (found > 0) {
        if (auto data = handler_.on_part_data(std::string_view(buffer_).substr(0, found)); !data) {
            return data;
        }
    }
    buffer_.erase(0, found + delimiter_.size());
    if (auto ended = handler_.on_part_end(); !ended) return ended;
    state_ = State::after_delimiter;
    progressed = true;
    return ok_status();
}

}  // namespace rp::app
