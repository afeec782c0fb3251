#pragma once
// RFC 6455 5.1: "a server MUST close the connection upon receiving a frame that is not masked".
// libwebsockets 4.1 (Debian 12) parses such a frame as if it were masked and shows its callbacks
// no trace of the bit. So the sidecar looks where lws reads: recv_guard.cpp defines recv(),
// which the dynamic linker binds every call of the process to (an executable's own symbols come
// first), and which passes every read through. On the loop thread, for the sockets of upgraded
// WebSocket connections, it follows the client's frame headers (client_frame_scanner.h) and
// answers a frame without a mask as a reset connection: lws then closes it, as RFC 6455 7.1.7
// ("Fail the WebSocket Connection") allows, without a close frame.
//
// Watching starts after the upgrade. Bytes a client sent together with its handshake request,
// before the 101, are read by lws with the request and not seen here; if they end inside a
// frame, the scanner starts in the middle of it and may fail that connection or miss a later
// unmasked frame of it. A client must wait for the 101 before sending frames; browsers and
// nginx's proxy do.

#include <atomic>
#include <cstdint>

namespace rp::sidecar::recv_guard {

// On the loop thread, before any connection: reads on this thread are the ones watched;
// `refused` counts the connections failed.
void start_on_this_thread(std::atomic<uint64_t>& refused);
// Loop thread: the socket of a connection just upgraded, and of one about to close.
void watch(int fd);
void forget(int fd);

}  // namespace rp::sidecar::recv_guard
