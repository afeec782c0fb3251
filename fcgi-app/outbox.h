#pragma once
// The outbox: pushes that the sidecar has not acked yet, and the jobs' records, in one
// append-only journal in the spool, so that a sidecar that is down, or an app that is killed,
// costs delay and never a message or a job (docs/app.md, "What is on disk when").
//
//   SPOOL/outbox/journal   one record per line:
//                          "P N LINE"  push number N, LINE a control-socket request (a publish)
//                          "A N"       every push up to N was acked
//                          "J ID JSON" job ID is now JSON (job_to_json); the newest one counts
//
// Numbers are the send order. append() and append_job() write a record; sync_through() makes
// it durable, and one fdatasync serves every writer waiting at that moment (group commit), so
// the records and pushes of jobs that change together cost one sync, not one per file. A push
// that may be lost (progress: best effort) is kept in memory only. Acks are written but not
// synced: one lost in a crash makes its push go out again, and its idempotency key makes that
// harmless. A job's job.json is its readable copy, written unsynced after its record; the
// journal is the truth until a checkpoint (syncfs: every job.json on disk) lets it go. The
// checkpoint's syncfs may take long (it flushes the whole file system), so the caller runs it
// without its lock: checkpoint_due() before, checkpoint_done() after.
// The journal starts over (truncated) whenever every push in it was acked and, if it holds job
// records, it has grown past a bound; it is rewritten with the pushes left when it grows past
// a larger one. A torn last record (a crash mid-write) is cut off at open; the per-push files
// of an older version are taken over.
//
// append(), append_job(), pop_front() and the readers are serialized by the caller
// (PushSender); sync_through() and job_copy_written() may run on any thread at the same time.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "roompush/error.h"
#include "roompush/unix_socket.h"

namespace rp::app {

class Outbox {
public:
    explicit Outbox(std::string dir) : dir_(std::move(dir)) {}

    // Creates the directory and the journal, and loads the pushes not yet acked, oldest first.
    Status open();

    // Writes the push (durable: to the journal, not yet synced; else in memory only) and
    // returns its number.
    Result<uint64_t> append(std::string_view line, bool durable = true);
    // Writes job `id`'s record (not yet synced). The caller then writes the job's readable
    // copy and says whether it could with job_copy_written(): no checkpoint drops the record
    // before that, and none at all after a copy that failed (the journal stays the truth).
    Status append_job(std::string_view id, std::string_view json);
    void job_copy_written(bool written);

    // A checkpoint to make now (the journal holds job records and wants to start over or be
    // rewritten, and no copy is being written): syncfs of `journal`, then checkpoint_done().
    struct Checkpoint {
        uint64_t job_records;  // appended so far: one more meanwhile and this one covers less
        std::shared_ptr<UniqueFd> journal;
    };
    std::optional<Checkpoint> checkpoint_due();
    void checkpoint_done(const Checkpoint& checkpoint, bool synced);
    // The newest durable record written so far, for sync_through().
    uint64_t written() const { return written_.load(); }
    bool all_synced();
    // Returns once record `record` (and every one written before it) is on disk.
    Status sync_through(uint64_t record);
    // The newest record of each job the journal held at open(), to be made the job's copy
    // again (a crash may have lost or cut job.json). Handed over once.
    std::map<std::string, std::string> take_job_records() { return std::move(loaded_jobs_); }

    bool empty() const { return entries_.empty(); }
    std::size_t size() const { return entries_.size(); }
    uint64_t front() const { return entries_.front().number; }
    // The line of the i-th oldest push.
    const std::string& line_at(std::size_t index) const { return entries_[index].line; }
    uint64_t number_at(std::size_t index) const { return entries_[index].number; }
    Result<std::string> read(uint64_t entry) const;
    // Drops the oldest push (after the sidecar acked it).
    void pop_front();

    const std::string& dir() const { return dir_; }
    std::string journal_path() const { return dir_ + "/journal"; }

private:
    struct Entry {
        uint64_t number;
        std::string line;
        bool durable;
    };
    Status take_over_push_files();
    Status load_journal();
    Status write_record(const std::string& record);
    void start_over_if_done();
    Status compact();

    std::string dir_;
    std::deque<Entry> entries_;  // bounded by the outbox limit (PushSender)
    uint64_t next_ = 1;
    uint64_t journal_bytes_ = 0;
    uint64_t live_bytes_ = 0;       // of the records of pushes not yet acked
    bool broken_ = false;           // a failed write could not be cut off: no more records
    bool has_job_records_ = false;  // since the journal last started over
    bool checkpoint_wanted_ = false;
    uint64_t job_records_ = 0;              // appended since open
    std::atomic<int> copies_pending_{0};    // job records whose job.json is still being written
    std::atomic<bool> copy_failed_{false};  // a job.json could not be written: no checkpoint
    std::map<std::string, std::string> loaded_jobs_;

    // The journal's descriptor is shared with a sync that may be running on another thread
    // while compact() replaces it.
    std::mutex sync_mutex_;
    std::condition_variable synced_cv_;
    std::shared_ptr<UniqueFd> journal_;  // under sync_mutex_
    bool syncing_ = false;               // under sync_mutex_
    uint64_t synced_ = 0;                // under sync_mutex_: every record up to it is on disk
    std::atomic<uint64_t> written_{0};   // records written (pushes to be delivered, jobs)
};

}  // namespace rp::app
