#include "task_queue.h"

#include <exception>

#include "roompush/log.h"

namespace rp::sidecar {

bool TaskQueue::post(std::function<void()> task) {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
    return tasks_.size() == 1;
}

std::size_t TaskQueue::run_posted() {
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard lock(mutex_);
        batch.swap(tasks_);
    }
    for (auto& task : batch) {
        try {
            task();
        } catch (const std::exception& error) {
            log_error("loop_task_failed").kv("error", error.what());
        }
    }
    return batch.size();
}

}  // namespace rp::sidecar
