#include "job_listing.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "roompush/room_id.h"

namespace rp::app {
namespace {

constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 1000;

struct Filter {
    std::string room;                 // "" for every room
    std::optional<JobStatus> status;  // none for every status
    std::size_t limit = kDefaultLimit;
};

Result<Filter> filter_of(const std::string& query) {
    Filter filter;
    filter.room = query_param(query, "room");
    if (!filter.room.empty()) {
        if (auto valid = check_room_id(filter.room); !valid) return valid.error();
    }
    if (std::string status = query_param(query, "status"); !status.empty()) {
        auto known = status_from(status);
        if (!known) {
            return make_error("invalid_status",
                              "status must be queued, running, done, failed or cancelled");
        }
        filter.status = *known;
    }
    if (std::string limit = query_param(query, "limit"); !limit.empty()) {
        bool digits = limit.size() <= 4 && std::all_of(limit.begin(), limit.end(),
                                                       [](char c) { return c >= '0' && c <= '9'; });
        std::size_t value = digits ? std::stoul(limit) : 0;
        if (value < 1 || value > kMaxLimit) {
            return make_error("invalid_limit", "limit must be a number from 1 to 1000");
        }
        filter.limit = value;
    }
    return filter;
}

bool wanted(const Filter& filter, const Job& job) {
    return (filter.room.empty() || job.room == filter.room) &&
           (!filter.status || job.status == *filter.status);
}

// Every stored job is read: the spool holds what --keep keeps, and this is an operator's call.
std::vector<Job> this_node(const JobStore& store, const Filter& filter) {
    std::vector<Job> found;
    for (const std::string& id : store.list_ids()) {
        auto job = store.load(id);
        if (!job) continue;  // removed meanwhile, or being written: not listed
        if (wanted(filter, *job)) found.push_back(std::move(*job));
    }
    return found;
}

// Several app nodes: Redis' index, newest first, a page at a time, until one more than the
// limit is found (so that `truncated` is known) or the index ends.
Result<std::vector<Job>> every_node(SharedJobs& shared, const Filter& filter) {
    constexpr std::size_t kPage = 200;
    std::vector<Job> found;
    std::vector<std::string> expired;
    Status records_read = ok_status();
    auto walked = shared.walk_newest(kPage, [&](const std::vector<std::string>& ids) {
        auto records = shared.get_all(ids);
        if (!records) {
            records_read = records.error();
            return false;
        }
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const auto& record = (*records)[i];
            if (!record) {
                expired.push_back(ids[i]);
                continue;
            }
            auto job = job_from_text(*record);
            if (job && wanted(filter, *job)) found.push_back(std::move(*job));
        }
        return found.size() <= filter.limit;
    });
    shared.unindex(expired);
    if (!walked) return walked.error();
    if (!records_read) return records_read.error();
    return found;
}

}  // namespace

HttpResponse list_jobs(const JobStore& store, const std::string& query) {
    auto filter = filter_of(query);
    if (!filter) return error_response(400, filter.error());
    std::vector<Job> found;
    if (SharedJobs* shared = store.shared()) {
        auto everywhere = every_node(*shared, *filter);
        if (!everywhere) {
            return error_response(
                503, make_error("job_store_unavailable",
                                "the job store cannot be reached: " + everywhere.error().message));
        }
        found = std::move(*everywhere);
    } else {
        found = this_node(store, *filter);
    }
    std::sort(found.begin(), found.end(), [](const Job& a, const Job& b) {
        return a.created_ms != b.created_ms ? a.created_ms > b.created_ms : a.id < b.id;
    });
    JsonPtr body = make_object();
    JsonPtr jobs = make_array();
    for (std::size_t i = 0; i < found.size() && i < filter->limit; ++i) {
        cJSON_AddItemToArray(jobs.get(), job_to_json(found[i]).release());
    }
    set_json(body.get(), "jobs", std::move(jobs));
    set_bool(body.get(), "truncated", found.size() > filter->limit);
    return json_response(200, body.get());
}

}  // namespace rp::app
