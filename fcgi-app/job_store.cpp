#include "job_store.h"

#include "disk_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "roompush/log.h"
#include "roompush/unix_socket.h"

namespace rp::app {
namespace fs = std::filesystem;

namespace {

Error io_error(const std::string& what, const std::string& path) {
    return make_error("spool_error", what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

JobStore::JobStore(std::string spool_dir, const std::string& node)
    : spool_(std::move(spool_dir)), own_(node.empty() ? spool_ : spool_ + "/nodes/" + node) {}

Status JobStore::prepare() {
    std::error_code error;
    for (const std::string& dir : {spool_ + "/jobs", own_ + "/incoming"}) {
        fs::create_directories(dir, error);
        if (error)
            return make_error("spool_error", "cannot create " + dir + ": " + error.message());
    }
    if (auto moved = move_outbox_in(); !moved) return moved;
    return check_writable();
}

// A node's spool that becomes shared (--shared-spool) keeps what its outbox held: the pushes
// not yet acked and the jobs' records move with it into the node's own directory.
Status JobStore::move_outbox_in() const {
    std::string before = spool_ + "/outbox";
    std::string after = outbox_dir();
    std::error_code error;
    if (own_ == spool_ || !fs::exists(before, error) || fs::exists(after, error)) {
        return ok_status();
    }
    fs::rename(before, after, error);
    if (error) {
        return make_error("spool_error",
                          "cannot move " + before + " to " + after + ": " + error.message());
    }
    log_info("outbox_moved").kv("from", before).kv("to", after);
    return ok_status();
}

Status JobStore::check_writable() const {
    std::string dir = own_ + "/incoming";
    if (::access(dir.c_str(), W_OK | X_OK) != 0) return io_error("cannot write to", dir);
    return ok_status();
}

std::string JobStore::incoming_path(const std::string& id) const {
    return own_ + "/incoming/" + id + ".part";
}
std::string JobStore::job_dir(const std::string& id) const { return spool_ + "/jobs/" + id; }
std::string JobStore::input_path(const std::string& id) const { return job_dir(id) + "/input"; }
std::string JobStore::work_dir(const std::string& id) const { return job_dir(id) + "/work"; }

Status JobStore::create(const Job& job, const std::string& incoming) {
    std::string dir = job_dir(job.id);
    if (::mkdir(dir.c_str(), 0750) != 0) return io_error("mkdir", dir);
    std::string work = work_dir(job.id);
    if (::mkdir(work.c_str(), 0750) != 0) return io_error("mkdir", work);
    std::string input = input_path(job.id);
    if (::rename(incoming.c_str(), input.c_str()) != 0) return io_error("rename to", input);
    return save(job);
}

Status JobStore::save(const Job& job, Durability durability) const {
    std::string json = to_json(job_to_json(job, true).get());
    if (journal_ == nullptr) return write_copy(job.id, json, true);
    auto record = journal_->write_job_record(job.id, json);
    if (!record) return record.error();
    Status copied = write_copy(job.id, json, false);
    journal_->job_copy_written(copied.ok());
    if (!copied) return copied;
    if (durability == Durability::now) {
        if (auto durable = journal_->make_durable(*record); !durable) return durable;
    }
    if (shared_) shared_->put(job, json);
    return ok_status();
}

Status JobStore::write_copy(const std::string& id, const std::string& json, bool sync) const {
    std::string path = job_dir(id) + "/job.json";
    std::string temporary = path + ".tmp";
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
    if (!fd.valid()) return io_error("open", temporary);
    if (!write_file(fd.get(), json + "\n")) return io_error("write", temporary);
    if (sync && !sync_file(fd.get())) return io_error("fsync", temporary);
    fd.reset();
    if (::rename(temporary.c_str(), path.c_str()) != 0) return io_error("rename", path);
    return ok_status();
}

std::size_t JobStore::restore_from(const std::map<std::string, std::string>& records) {
    std::size_t restored = 0;
    for (const auto& [id, json] : records) {
        std::error_code error;
        if (!is_valid_job_id(id) || !fs::is_directory(job_dir(id), error)) continue;
        if (!job_from_text(json)) {
            log_error("job_record_unreadable").kv("job", id);
            continue;
        }
        if (auto copied = write_copy(id, json, false); !copied) {
            log_error("job_restore_failed").kv("job", id).kv("error", copied.error().message);
            continue;
        }
        ++restored;
    }
    return restored;
}

Result<Job> JobStore::load(const std::string& id) const {
    if (!is_valid_job_id(id)) return make_error("not_found", "no job " + id);
    std::ifstream file(job_dir(id) + "/job.json");
    if (!file) return make_error("not_found", "no job " + id);
    std::stringstream text;
    text << file.rdbuf();
    auto job = job_from_text(text.str());
    if (!job) return make_error("bad_job", "job " + id + " is unreadable: " + job.error().message);
    return job;
}

void JobStore::remove(const std::string& id) const {
    std::error_code ignored;
    fs::remove_all(job_dir(id), ignored);
    if (shared_) shared_->remove(id);
}

std::vector<std::string> JobStore::list_ids() const {
    std::vector<std::string> ids;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(spool_ + "/jobs", error)) {
        std::string name = entry.path().filename().string();
        if (is_valid_job_id(name)) ids.push_back(std::move(name));
    }
    return ids;
}

std::size_t JobStore::clear_incoming() const {
    std::size_t removed = 0;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(own_ + "/incoming", error)) {
        std::error_code ignored;
        if (fs::remove(entry.path(), ignored)) ++removed;
    }
    return removed;
}

Status JobStore::reset_work_dir(const std::string& id) const {
    std::string work = work_dir(id);
    std::error_code error;
    fs::remove_all(work, error);
    if (::mkdir(work.c_str(), 0750) != 0) return io_error("mkdir", work);
    return ok_status();
}

}  // namespace rp::app
