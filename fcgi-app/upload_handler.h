#pragma once
// POST /cad: stream the upload into the spool, create the job, queue it, answer 202 - or, with
// ?wait=SECONDS / Prefer: wait=SECONDS, 201 with the finished job if it ends in time.

#include "app_config.h"
#include "http_types.h"
#include "job_dispatch.h"
#include "job_store.h"
#include "job_waiters.h"
#include "push_sender.h"
#include "room_token_minter.h"

namespace rp::app {

class UploadHandler {
public:
    UploadHandler(const AppConfig& config, JobStore& store, JobDispatch& dispatch,
                  PushSender& pushes, JobWaiters& waiters, const RoomTokenMinter& tokens)
        : config_(config),
          store_(store),
          dispatch_(dispatch),
          pushes_(pushes),
          waiters_(waiters),
          tokens_(tokens) {}

    HttpResponse handle(HttpRequest& request);

private:
    HttpResponse refuse(HttpRequest& request, const Error& error, const std::string& spool_path);
    Status receive(HttpRequest& request, const std::string& boundary,
                   class UploadReceiver& receiver);
    Status check_admission(const HttpRequest& request) const;
    HttpResponse accepted(const Job& job);
    HttpResponse finished(const std::string& job_id);
    bool wait_for_end(const std::string& job_id, std::chrono::milliseconds wait);

    const AppConfig& config_;
    JobStore& store_;
    JobDispatch& dispatch_;
    PushSender& pushes_;
    JobWaiters& waiters_;
    const RoomTokenMinter& tokens_;
};

// The HTTP status for an error code of the upload path.
int upload_error_status(const std::string& code);
Result<int> requested_priority(const std::string& query);

}  // namespace rp::app
