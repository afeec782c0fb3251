#pragma once
// The spool: every job's upload, work dir and state as files, written atomically, so that the
// state survives the app and GET /jobs/ID is a file read. With a journal (the outbox's), a
// job's state is made durable as a record there, and job.json is its readable copy, written
// without a sync (docs/app.md, "What is on disk when").
//
//   SPOOL/incoming/ID.part   an upload being received (removed if refused)
//   SPOOL/jobs/ID/input      the upload
//   SPOOL/jobs/ID/work/      the program's work dir
//   SPOOL/jobs/ID/job.json   the job (job_to_json)
//   SPOOL/outbox/            pushes not yet acked by the sidecar (outbox.h)
//
// A spool shared by several app nodes (--shared-spool) keeps each node's own files apart:
// SPOOL/nodes/NODE/incoming/ and SPOOL/nodes/NODE/outbox/; SPOOL/jobs/ is everyone's.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "job.h"
#include "roompush/error.h"
#include "shared_jobs.h"

namespace rp::app {

// Where a job's state is made durable before its job.json is written: the outbox's journal
// (PushSender), so that the states and pushes of jobs that change at the same moment share one
// fdatasync.
class JobJournal {
public:
    virtual ~JobJournal() = default;
    // Writes the record (not yet synced); returns what make_durable() waits for.
    virtual Result<uint64_t> write_job_record(const std::string& id, std::string_view json) = 0;
    // The job.json of the record just written is in place, or could not be written.
    virtual void job_copy_written(bool written) = 0;
    virtual Status make_durable(uint64_t record) = 0;
};

// When a save must be on disk: before save() returns, or with the next sync of the journal
// (a push the caller makes next and waits for, or the sender's when it is idle).
enum class Durability { now, with_next };

class JobStore {
public:
    // `node`: this node's name in a shared spool; empty: the spool is this node's alone.
    explicit JobStore(std::string spool_dir, const std::string& node = "");

    // From now on, states go to the journal first. Without one, job.json is synced itself.
    void use_journal(JobJournal* journal) { journal_ = journal; }
    // Several app nodes: every save and removal is told to the others (shared_jobs.h).
    void share_with(SharedJobs* shared) { shared_ = shared; }
    SharedJobs* shared() const { return shared_; }
    // Makes the journal's newest record of each job (JobJournal's at open) its job.json again:
    // a crash may have lost or cut a copy written without a sync. Records of jobs whose
    // directory is gone (removed since) are skipped. Returns how many were restored.
    std::size_t restore_from(const std::map<std::string, std::string>& records);

    Status prepare();
    Status check_writable() const;

    std::string incoming_path(const std::string& id) const;
    std::string job_dir(const std::string& id) const;
    std::string input_path(const std::string& id) const;
    std::string work_dir(const std::string& id) const;
    std::string outbox_dir() const { return own_ + "/outbox"; }

    // Moves a received upload into a new job directory and stores the job.
    Status create(const Job& job, const std::string& incoming);
    // Records the job (in the journal, if there is one) and writes job.json through a
    // temporary file and rename, so a reader never sees half a job. Without a journal the copy
    // is synced before the rename (else a file system that does not flush a renamed file's
    // data first could leave an empty job.json after a power loss).
    Status save(const Job& job, Durability durability = Durability::now) const;
    Result<Job> load(const std::string& id) const;
    void remove(const std::string& id) const;

    // Every directory under SPOOL/jobs that is named like a job id (it may lack a job.json if
    // the app died while creating it).
    std::vector<std::string> list_ids() const;
    // Removes uploads that were being received when the app stopped; returns how many.
    std::size_t clear_incoming() const;
    // An empty work dir again, for a job that runs a second time.
    Status reset_work_dir(const std::string& id) const;

private:
    Status write_copy(const std::string& id, const std::string& json, bool sync) const;
    Status move_outbox_in() const;

    std::string spool_;
    std::string own_;  // this node's own files: the spool, or its directory in a shared one
    JobJournal* journal_ = nullptr;
    SharedJobs* shared_ = nullptr;
};

}  // namespace rp::app
