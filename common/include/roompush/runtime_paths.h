#pragma once
// Where the programs meet when nobody says otherwise: $ROOMPUSH_RUN_DIR holds every socket (the
// dev stack sets it); else the sidecar's sockets are in /run/roompush (its RuntimeDirectory)
// and the app's in /run/roompush-fcgi, where roompush-fcgi.socket makes it.

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace rp {

std::string default_run_dir();
inline std::string default_control_socket() { return default_run_dir() + "/control.sock"; }
inline std::string default_ws_socket() { return default_run_dir() + "/ws.sock"; }
std::string default_fcgi_socket();

// "0660" -> 0660; nullopt for anything that is not an octal mode up to 0777.
std::optional<mode_t> parse_file_mode(std::string_view text);

}  // namespace rp
