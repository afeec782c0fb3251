#pragma once
// The app's writes to its own files (uploads, job records, the outbox): plain write(2), never
// the socket path (send(2) on a file fails ENOTSOCK first, one wasted call per write), and every
// fsync counted, since they are what the upload path's durability costs
// (roompush_app_fsyncs_total, docs/app.md).

#include <cstdint>
#include <string_view>

#include "roompush/error.h"

namespace rp::app {

// All of `bytes`, retrying short writes and EINTR; "write_failed" with errno's text otherwise.
Status write_file(int fd, std::string_view bytes);
// fsync(2), counted. False (errno set) when it failed.
bool sync_file(int fd);
// fdatasync(2), counted the same: for a file that only grows (a journal).
bool sync_data(int fd);
// syncfs(2), counted the same: every file of fd's file system (a checkpoint of many files).
bool sync_file_system(int fd);
// fsyncs, fdatasyncs and syncfs calls made by this process so far.
uint64_t file_syncs();

}  // namespace rp::app
