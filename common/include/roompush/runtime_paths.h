#pragma once
// Where the programs meet when nobody says otherwise: one run directory holding every socket.
// $ROOMPUSH_RUN_DIR (the dev stack sets it), else /run/roompush (the systemd RuntimeDirectory).

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace rp {

std::string default_run_dir();
inline std::string default_control_socket() { return default_run_dir() + "/control.sock"; }
inline std::string default_ws_socket() { return default_run_dir() + "/ws.sock"; }
inline std::string default_fcgi_socket() { return default_run_dir() + "/fcgi.sock"; }

// "0660" -> 0660; nullopt for anything that is not an octal mode up to 0777.
std::optional<mode_t> parse_file_mode(std::string_view text);

}  // namespace rp
