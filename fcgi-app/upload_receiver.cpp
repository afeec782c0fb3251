#include "upload_receiver.h"

#include "disk_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "roompush/room_id.h"
#include "roompush/utf8.h"

namespace rp::app {

Status UploadReceiver::on_part_begin(const PartHeaders& headers) {
    if (headers.filename.has_value()) {
        if (headers.name != "file") {
            return make_error(
                "unexpected_file",
                "file field \"" + headers.name + "\" is not accepted; send the file as \"file\"");
        }
        if (has_file_) return make_error("too_many_files", "send exactly one file per upload");
        file_ =
            UniqueFd(::open(spool_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
        if (!file_.valid()) {
            return make_error("spool_error",
                              "cannot create " + spool_path_ + ": " + std::strerror(errno));
        }
        has_file_ = true;
        filename_ = headers.filename->substr(0, 255);
        target_ = Target::file;
        return ok_status();
    }
    if (headers.name == "roomId") {
        if (has_room_) return make_error("duplicate_field", "roomId is given twice");
        has_room_ = true;
        target_ = Target::room;
        field_ = &room_;
    } else if (headers.name == "itemId") {
        // Twice is a mistake of the client's, as for roomId: neither value is taken silently.
        if (has_item_) return make_error("duplicate_field", "itemId is given twice");
        has_item_ = true;
        target_ = Target::item;
        field_ = &item_;
    } else if (headers.name == "file") {
        return make_error("bad_multipart", "the \"file\" field has no filename: send it as a file");
    } else {
        target_ = Target::ignored;  // unknown text fields are allowed, within the limits
        field_ = &ignored_;
        field_->clear();
    }
    return ok_status();
}

Status UploadReceiver::on_part_data(std::string_view bytes) {
    if (target_ == Target::file) {
        file_size_ += bytes.size();
        if (file_size_ > limits_.max_file_bytes) {
            return make_error(
                "upload_too_large",
                "the file is larger than " + std::to_string(limits_.max_file_bytes) + " bytes");
        }
        if (auto written = write_file(file_.get(), bytes); !written) {
            return make_error("spool_error", "writing the upload: " + written.error().message);
        }
        return ok_status();
    }
    if (field_->size() + bytes.size() > limits_.max_field_bytes) {
        return make_error(
            "field_too_large",
            "a form field is larger than " + std::to_string(limits_.max_field_bytes) + " bytes");
    }
    field_->append(bytes);
    return ok_status();
}

Status UploadReceiver::on_part_end() {
    if (target_ == Target::file) {
        if (!sync_file(file_.get())) {
            return make_error("spool_error", std::string("fsync upload: ") + std::strerror(errno));
        }
        file_.reset();
    }
    target_ = Target::none;
    field_ = nullptr;
    return ok_status();
}

Status UploadReceiver::check_complete() {
    if (!has_room_) return make_error("missing_field", "the form has no roomId field");
    if (auto valid = check_room_id(room_); !valid) return valid.error();
    if (item_.size() > 128) return make_error("invalid_item", "itemId is longer than 128 bytes");
    for (unsigned char c : item_) {
        if (c < 0x20 || c == 0x7f)
            return make_error("invalid_item", "itemId contains control characters");
    }
    // Echoed in every event of the job: a browser fails its WebSocket on a byte that is not UTF-8.
    if (!is_valid_utf8(item_)) {
        return make_error("invalid_item",
                          "itemId is not valid UTF-8 (browsers close the "
                          "WebSocket on a message that is not)");
    }
    if (!has_file_) return make_error("missing_field", "the form has no file field");
    if (file_size_ == 0) return make_error("empty_file", "the uploaded file is empty");
    return ok_status();
}

}  // namespace rp::app
