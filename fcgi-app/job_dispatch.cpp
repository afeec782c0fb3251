#include "job_dispatch.h"

#include "roompush/log.h"

namespace rp::app {
namespace {

constexpr auto kQueuedAckWait = std::chrono::seconds(1);

}  // namespace

// Synced with the job's next synced push: the upload's 202 waits for the job's record and its
// input, not for this (docs/app.md, "What is on disk when").
void JobDispatch::announce_queued(const Job& job, bool wait_for_ack) {
    JsonPtr data = job_event_data(job);
    std::string key = job_event_key(job, "queued");
    if (!wait_for_ack) {
        pushes_.push(job.room, "job.queued", data.get(), key, PushKind::deliver_with_next);
        return;
    }
    auto delivery = pushes_.push_and_wait(job.room, "job.queued", data.get(), key, kQueuedAckWait);
    if (delivery.journaled && !delivery.ack && !delivery.refused) {
        log_warn("job_queued_not_acked")
            .kv("job", job.id)
            .kv("effect", "another node's job.started may reach the room first");
    }
}

// Redis away: the job runs here rather than not at all (its node is this one, so this node's
// recovery offers it again if it stops first).
void JobDispatch::offer(const Job& job) {
    auto offered = shared_->offer(job);
    if (!offered) {
        // The reply may be what was lost: the job is in the stream if it has an entry.
        auto place = shared_->places({job.id});
        if (place && place->at(0).in_stream) return;
        offered = shared_->offer(job);
    }
    if (!offered) {
        log_warn("job_not_offered")
            .kv("job", job.id)
            .kv("error", offered.error().message)
            .kv("effect", "runs on this node");
        queue_.push_recovered(queued_job(job));
    }
}

JobQueue::Admission JobDispatch::admit(const Job& job) {
    if (!to_stream()) {
        // job.queued under the queue's lock, before any worker can see the job: it always
        // comes before the job's own events.
        return queue_.try_push(queued_job(job), [&] { announce_queued(job, false); });
    }
    // About --queue: uploads on several nodes may pass the check together.
    if (auto waiting = shared_->waiting(); waiting && *waiting >= config_.queue) {
        return JobQueue::Admission::queue_full;
    }
    announce_queued(job, true);
    offer(job);
    return JobQueue::Admission::accepted;
}

void JobDispatch::readmit(const Job& job) {
    announce_queued(job, to_stream());
    if (to_stream()) {
        offer(job);
    } else {
        queue_.push_recovered(queued_job(job));
    }
}

}  // namespace rp::app
