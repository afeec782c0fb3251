#pragma once
// Receives the parts of POST /cad: text fields roomId and itemId into memory (bounded), the one
// file straight into the spool. The client's file name is kept as metadata only.

#include <cstdint>
#include <string>

#include "multipart_parser.h"
#include "roompush/unix_socket.h"

namespace rp::app {

struct UploadLimits {
    uint64_t max_file_bytes;
    std::size_t max_field_bytes;
};

class UploadReceiver : public MultipartHandler {
public:
    UploadReceiver(std::string spool_path, UploadLimits limits)
        : spool_path_(std::move(spool_path)), limits_(limits) {}

    Status on_part_begin(const PartHeaders& headers) override;
    Status on_part_data(std::string_view bytes) override;
    Status on_part_end() override;

    // After the body: roomId present and valid, exactly one non-empty file.
    Status check_complete();

    const std::string& room() const { return room_; }
    const std::string& item() const { return item_; }
    const std::string& filename() const { return filename_; }
    uint64_t file_size() const { return file_size_; }

private:
    enum class Target { none, room, item, file, ignored };

    std::string spool_path_;
    UploadLimits limits_;
    Target target_ = Target::none;
    std::string* field_ = nullptr;
    std::string ignored_;
    std::string room_;
    std::string item_;
    std::string filename_;
    bool has_room_ = false;
    bool has_item_ = false;
    bool has_file_ = false;
    uint64_t file_size_ = 0;
    UniqueFd file_;
};

}  // namespace rp::app
