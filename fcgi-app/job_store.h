#pragma once
// The spool: every job's upload, work dir and state as files, written atomically, so that the
// state survives the app and GET /jobs/ID is a file read.
//
//   SPOOL/incoming/ID.part   an upload being received (removed if refused)
//   SPOOL/jobs/ID/input      the upload
//   SPOOL/jobs/ID/work/      the program's work dir
//   SPOOL/jobs/ID/job.json   the job (job_to_json)
//   SPOOL/outbox/            pushes not yet acked by the sidecar (outbox.h)

#include <string>
#include <vector>

#include "job.h"
#include "roompush/error.h"

namespace rp::app {

class JobStore {
public:
    explicit JobStore(std::string spool_dir) : spool_(std::move(spool_dir)) {}

    Status prepare();
    Status check_writable() const;

    std::string incoming_path(const std::string& id) const;
    std::string job_dir(const std::string& id) const;
    std::string input_path(const std::string& id) const;
    std::string work_dir(const std::string& id) const;
    std::string outbox_dir() const { return spool_ + "/outbox"; }

    // Moves a received upload into a new job directory and stores the job.
    Status create(const Job& job, const std::string& incoming);
    // Writes job.json through a temporary file, fsync and rename, so a reader never sees half a
    // job. (Without the fsync, a file system that does not flush a renamed file's data first
    // could leave an empty job.json after a power loss, and the recovery would drop the job.)
    Status save(const Job& job) const;
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
    std::string spool_;
};

}  // namespace rp::app
