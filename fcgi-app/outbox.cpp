#include "outbox.h"

#include "disk_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <vector>

#include "roompush/log.h"

namespace rp::app {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kOldSuffix = ".push";  // a file per push, before the journal
constexpr std::size_t kOldDigits = 20;
// Past this, and not empty, the journal is rewritten with the pushes still in it.
constexpr uint64_t kCompactBytes = 16u << 20;
// A journal with job records starts over only past this: each start over costs a syncfs (the
// checkpoint), and a recovery replays no more than this.
constexpr uint64_t kCheckpointBytes = 1u << 20;

Error outbox_error(const std::string& what, const std::string& path) {
    return make_error("outbox_error", what + " " + path + ": " + std::strerror(errno));
}

// "00000000000000000042.push" -> 42; 0 for anything else (entries start at 1).
uint64_t old_entry_number(const std::string& name) {
    if (name.size() != kOldDigits + kOldSuffix.size() ||
        name.compare(kOldDigits, kOldSuffix.size(), kOldSuffix) != 0) {
        return 0;
    }
    uint64_t value = 0;
    for (std::size_t i = 0; i < kOldDigits; ++i) {
        if (name[i] < '0' || name[i] > '9') return 0;
        value = value * 10 + static_cast<uint64_t>(name[i] - '0');
    }
    return value;
}

std::optional<uint64_t> parse_number(std::string_view text) {
    if (text.empty() || text.size() > 20) return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    return value;
}

Result<std::string> read_whole(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return outbox_error("open", path);
    std::string text;
    char buffer[65536];
    for (;;) {
        ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return outbox_error("read", path);
        if (got == 0) break;
        text.append(buffer, static_cast<std::size_t>(got));
    }
    return text;
}

// A new file's name is durable only once the directory that holds it is on disk as well.
Status sync_dir(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid() || !sync_file(fd.get())) return outbox_error("fsync", dir);
    return ok_status();
}

std::string push_record(uint64_t number, std::string_view line) {
    std::string record = "P " + std::to_string(number) + " ";
    record.append(line);
    record.push_back('\n');
    return record;
}

}  // namespace

Status Outbox::open() {
    std::error_code error;
    fs::create_directories(dir_, error);
    if (error) return make_error("outbox_error", "cannot create " + dir_ + ": " + error.message());
    if (auto loaded = load_journal(); !loaded) return loaded;
    return take_over_push_files();
}

// Reads the journal: the pushes after the last ack, in their order. A last record without its
// newline was torn by a crash: it was never synced, so no one was promised it; it is cut off.
Status Outbox::load_journal() {
    std::string path = journal_path();
    bool existed = fs::exists(path);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
    if (!fd.valid()) return outbox_error("open", path);
    auto text = read_whole(path);
    if (!text) return text.error();
    std::size_t whole = text->rfind('\n');
    whole = whole == std::string::npos ? 0 : whole + 1;
    if (whole < text->size()) {
        log_warn("outbox_torn_record").kv("path", path).kv("bytes", text->size() - whole);
        if (::ftruncate(fd.get(), static_cast<off_t>(whole)) != 0) {
            return outbox_error("truncate", path);
        }
    }
    std::map<uint64_t, std::string> pushes;
    std::size_t job_records = 0;
    uint64_t acked = 0;
    uint64_t newest = 0;
    std::size_t bad = 0;
    std::string_view rest(text->data(), whole);
    while (!rest.empty()) {
        std::string_view record = rest.substr(0, rest.find('\n'));
        rest.remove_prefix(record.size() + 1);
        if (record.size() < 3) {
            ++bad;
            continue;
        }
        std::size_t space = record.find(' ', 2);
        auto number = parse_number(
            record.substr(2, space == std::string_view::npos ? std::string_view::npos : space - 2));
        if (record.starts_with("P ") && number && space != std::string_view::npos) {
            pushes[*number] = std::string(record.substr(space + 1));
            newest = std::max(newest, *number);
        } else if (record.starts_with("A ") && number && space == std::string_view::npos) {
            acked = std::max(acked, *number);
        } else if (record.starts_with("J ") && space != std::string_view::npos && space > 2) {
            loaded_jobs_[std::string(record.substr(2, space - 2))] = record.substr(space + 1);
            ++job_records;
        } else {
            ++bad;
        }
    }
    if (bad > 0) log_error("outbox_bad_records").kv("path", path).kv("count", bad);
    for (auto& [number, line] : pushes) {
        if (number <= acked) continue;
        live_bytes_ += push_record(number, line).size();
        entries_.push_back({number, std::move(line), true});
    }
    next_ = std::max(newest, acked) + 1;
    journal_bytes_ = whole;
    has_job_records_ = job_records > 0;
    journal_ = std::make_shared<UniqueFd>(std::move(fd));
    if (!existed) return sync_dir(dir_);
    return ok_status();
}

// An outbox left by a version with a file per push: its pushes go into the journal, in their
// order, before anything new; the files go once the journal holds them.
Status Outbox::take_over_push_files() {
    std::vector<std::pair<uint64_t, fs::path>> found;
    std::error_code error;
    for (const auto& item : fs::directory_iterator(dir_, error)) {
        std::string name = item.path().filename().string();
        if (name == "journal" || name == "journal.new") continue;
        if (uint64_t number = old_entry_number(name)) {
            found.emplace_back(number, item.path());
        } else {
            // A temporary file of an append that never finished: never acknowledged to anyone.
            std::error_code ignored;
            fs::remove(item.path(), ignored);
        }
    }
    if (error) return make_error("outbox_error", "cannot list " + dir_ + ": " + error.message());
    if (found.empty()) return ok_status();
    std::sort(found.begin(), found.end());
    for (const auto& [number, path] : found) {
        auto text = read_whole(path.string());
        if (!text) return text.error();
        while (!text->empty() && text->back() == '\n') text->pop_back();
        if (auto appended = append(*text); !appended) return appended.error();
    }
    if (auto synced = sync_through(written()); !synced) return synced;
    for (const auto& [number, path] : found) fs::remove(path, error);
    log_info("outbox_taken_over").kv("pushes", found.size()).kv("dir", dir_);
    return ok_status();
}

Status Outbox::write_record(const std::string& record) {
    std::shared_ptr<UniqueFd> journal;
    {
        std::lock_guard lock(sync_mutex_);
        journal = journal_;
    }
    if (broken_) {
        return make_error("outbox_error", journal_path() +
                                              " could not be repaired after a failed write; "
                                              "restart the app");
    }
    if (auto written = write_file(journal->get(), record); !written) {
        // A partial record must not stay in the middle of the journal, glued to the next one:
        // cut it off (nothing in it was promised), or take no more records.
        if (::ftruncate(journal->get(), static_cast<off_t>(journal_bytes_)) != 0) broken_ = true;
        return make_error("outbox_error",
                          "write " + journal_path() + ": " + written.error().message);
    }
    journal_bytes_ += record.size();
    return ok_status();
}

Result<uint64_t> Outbox::append(std::string_view line, bool durable) {
    uint64_t number = next_;
    if (durable) {
        std::string record = push_record(number, line);
        if (auto written = write_record(record); !written) return written.error();
        ++written_;
        live_bytes_ += record.size();
    }
    ++next_;
    entries_.push_back({number, std::string(line), durable});
    return number;
}

Status Outbox::append_job(std::string_view id, std::string_view json) {
    std::string record = "J ";
    record.append(id).append(" ").append(json).push_back('\n');
    if (auto written = write_record(record); !written) return written;
    ++written_;
    ++job_records_;
    has_job_records_ = true;
    copies_pending_.fetch_add(1);
    return ok_status();
}

void Outbox::job_copy_written(bool written) {
    if (!written && !copy_failed_.exchange(true)) {
        log_error("outbox_checkpoints_stopped")
            .kv("dir", dir_)
            .kv("reason", "a job.json could not be written")
            .kv("effect", "the journal keeps every job record until a restart");
    }
    copies_pending_.fetch_sub(1);
}

bool Outbox::all_synced() {
    std::lock_guard lock(sync_mutex_);
    return synced_ >= written_.load();
}

Status Outbox::sync_through(uint64_t entry) {
    std::unique_lock lock(sync_mutex_);
    while (synced_ < entry) {
        if (syncing_) {
            synced_cv_.wait(lock);
            continue;
        }
        // This thread syncs for everyone: whatever was written until now rides along.
        syncing_ = true;
        uint64_t target = written_;
        std::shared_ptr<UniqueFd> journal = journal_;
        lock.unlock();
        bool synced = sync_data(journal->get());
        lock.lock();
        syncing_ = false;
        synced_cv_.notify_all();
        if (!synced) return outbox_error("fdatasync", journal_path());
        synced_ = std::max(synced_, target);
    }
    return ok_status();
}

Result<std::string> Outbox::read(uint64_t entry) const {
    for (const Entry& candidate : entries_) {
        if (candidate.number == entry) return candidate.line;
    }
    return make_error("outbox_error", "no push " + std::to_string(entry) + " in the outbox");
}

void Outbox::pop_front() {
    Entry gone = std::move(entries_.front());
    entries_.pop_front();
    if (gone.durable) {
        live_bytes_ -= std::min(live_bytes_, push_record(gone.number, gone.line).size());
        if (auto written = write_record("A " + std::to_string(gone.number) + "\n"); !written) {
            // The push goes out again after a restart; its idempotency key makes that harmless.
            log_error("outbox_ack_not_written").kv("error", written.error().message);
        }
    }
    start_over_if_done();
}

// Every push acked: the journal starts over, so that it does not grow with the traffic. Not
// synced: a crash that undoes the truncation brings back pushes whose acks are in the journal,
// and job records that job.json files (made durable by the checkpoint) already hold.
void Outbox::start_over_if_done() {
    bool all_acked = std::none_of(entries_.begin(), entries_.end(),
                                  [](const Entry& entry) { return entry.durable; });
    if (all_acked && journal_bytes_ > 0) {
        if (has_job_records_) {
            checkpoint_wanted_ = journal_bytes_ >= kCheckpointBytes;
            return;
        }
        std::lock_guard lock(sync_mutex_);
        if (::ftruncate(journal_->get(), 0) == 0) journal_bytes_ = 0;
        return;
    }
    // Rewritten only when mostly acked: a large outbox of pushes still waiting is not copied
    // again at every ack.
    if (journal_bytes_ > kCompactBytes && journal_bytes_ > 2 * live_bytes_) {
        if (has_job_records_) {
            checkpoint_wanted_ = true;
            return;
        }
        if (auto compacted = compact(); !compacted) {
            log_error("outbox_compact_failed").kv("error", compacted.error().message);
        }
    }
}

// Every job record in the journal has its job.json written (no copy pending): one syncfs, run
// by the caller without its lock, puts them all on disk, and the records may go.
std::optional<Outbox::Checkpoint> Outbox::checkpoint_due() {
    if (!checkpoint_wanted_ || copies_pending_.load() > 0 || copy_failed_.load()) {
        return std::nullopt;
    }
    std::lock_guard lock(sync_mutex_);
    return Checkpoint{job_records_, journal_};
}

// A record appended while the syncfs ran may have a copy it did not cover: then the next ack
// asks again. Otherwise the journal starts over or is rewritten, as it wanted.
void Outbox::checkpoint_done(const Checkpoint& checkpoint, bool synced) {
    checkpoint_wanted_ = false;
    if (!synced) {
        log_error("outbox_checkpoint_failed").kv("dir", dir_).kv("error", std::strerror(errno));
        return;
    }
    if (checkpoint.job_records != job_records_) return;
    has_job_records_ = false;
    start_over_if_done();
}

// The journal holds mostly acked pushes: it is rewritten with the rest (synced, renamed,
// directory synced) and the new descriptor replaces the old one. Job records are never in it
// by then: a checkpoint had their job.json files on disk first.
Status Outbox::compact() {
    std::string path = journal_path();
    std::string fresh = path + ".new";
    UniqueFd fd(::open(fresh.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640));
    if (!fd.valid()) return outbox_error("open", fresh);
    std::string text;
    for (const Entry& entry : entries_) {
        if (entry.durable) text += push_record(entry.number, entry.line);
    }
    if (!write_file(fd.get(), text) || !sync_file(fd.get())) {
        Error failed = outbox_error("write", fresh);
        ::unlink(fresh.c_str());
        return failed;
    }
    if (::rename(fresh.c_str(), path.c_str()) != 0) return outbox_error("rename", path);
    if (auto synced = sync_dir(dir_); !synced) return synced;
    std::lock_guard lock(sync_mutex_);
    journal_ = std::make_shared<UniqueFd>(std::move(fd));
    journal_bytes_ = text.size();
    synced_ = std::max(synced_, written_.load());
    return ok_status();
}

}  // namespace rp::app
