#pragma once
// The heap the sidecar runs on. Built with ROOMPUSH_JEMALLOC (the default; not with the
// sanitizers, which bring their own), every malloc of the process, libwebsockets' and
// hiredis' included, is jemalloc's: glibc's malloc spent about a fifth of a Redis-mode
// sidecar's CPU on memory that one thread allocates and another frees (a publish from the
// control thread to the Redis worker, a message from the subscriber to the loop; see
// bench/RESULTS.md).

#include <string>

namespace rp::sidecar {

// "jemalloc-5.3.0" once it is shown to serve this process' malloc, else "glibc".
std::string allocator_name();

// Gives the heap's free pages back to the kernel (HeapTrim calls it between turns of the loop).
void release_free_memory();

}  // namespace rp::sidecar
