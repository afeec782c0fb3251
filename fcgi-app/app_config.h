#pragma once
// Everything the app can be told (main.cpp maps flags onto it).

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "argv_template.h"
#include "child_process.h"
#include "job_queue.h"
#include "roompush/unix_socket.h"
#include "shared_jobs.h"

namespace rp::app {

struct AppConfig {
    std::string listen;          // FastCGI socket nginx connects to
    SocketAccess socket_access;  // --socket-mode, --socket-group (standalone only)
    std::string spool_dir;
    std::string control_socket;  // the sidecar's
    ArgvTemplate exec;
    std::size_t threads = 4;  // FastCGI accept threads
    std::size_t workers = 2;  // concurrent program runs
    std::size_t queue = 16;   // jobs waiting for a worker
    std::size_t max_upload = 64 << 20;
    std::size_t max_field = 4096;  // a text field (roomId, itemId)
    std::size_t max_parts = 8;
    std::size_t outbox_limit = 10000;  // pushes waiting for the sidecar before "full"
    unsigned retry_after_s = 5;
    unsigned max_wait_s = 100;       // cap of ?wait, below nginx's fastcgi_read_timeout (120 s)
    unsigned keep_s = 7 * 86400;     // finished jobs are removed after this; 0 keeps them
    unsigned stop_grace_ms = 20000;  // SIGTERM: how long running programs may still finish
    std::string auth_secret;         // with it, the 202 carries a room token (docs/security.md)
    unsigned token_ttl_s = 3600;
    bool rerun_interrupted = false;    // a job interrupted by a stop or crash runs again
    unsigned retries = 2;              // runs after a temporary failure (exit 75)
    unsigned retry_backoff_ms = 1000;  // before the first of them; doubled for each next
    RoomLimits room_limits;            // fair limits: jobs per room (0: no cap)
    bool shared_jobs = false;          // --job-store redis…: several app nodes
    SharedJobsConfig shared;           // its Redis, this node's name, the lease
    bool shared_spool = false;         // --shared-spool: any node runs any job (a work stream)
    ChildLimits limits;
};

}  // namespace rp::app
