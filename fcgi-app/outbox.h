#pragma once
// The outbox: pushes that the sidecar has not acked yet, as one file per push in the spool, so
// that a sidecar that is down, or an app that is killed, costs delay and never a message.
//
//   SPOOL/outbox/00000000000000000042.push   one control-socket request line (a publish)
//
// Entries are numbered in the order they were appended; the number is the send order. A file
// appears only complete (written to a temporary name, fsynced, renamed, directory fsynced), so
// an entry that exists is whole. Not thread-safe: PushSender serializes every call.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "roompush/error.h"

namespace rp::app {

class Outbox {
public:
    explicit Outbox(std::string dir) : dir_(std::move(dir)) {}

    // Creates the directory, removes temporary files of an append that never finished, and
    // loads the entries that are there, oldest first.
    Status open();

    // Durable when it returns ok; returns the entry's number.
    Result<uint64_t> append(std::string_view line);
    bool empty() const { return entries_.empty(); }
    std::size_t size() const { return entries_.size(); }
    uint64_t front() const { return entries_.front(); }
    // Reading needs no lock: an entry's file never changes once it exists.
    Result<std::string> read(uint64_t entry) const;
    // Drops the oldest entry (after the sidecar acked it).
    void pop_front();

    const std::string& dir() const { return dir_; }

private:
    std::string path_of(uint64_t entry) const;

    std::string dir_;
    std::deque<uint64_t> entries_;  // numbers only: the lines stay on disk (bounded memory)
    uint64_t next_ = 1;
};

}  // namespace rp::app
