// roompush-sidecar: the WebSocket push server that owns the rooms.
#include <variant>

#include "roompush/log.h"
#include "sidecar_app.h"
#include "sidecar_options.h"

int main(int argc, char** argv) {
    rp::set_log_program("roompush-sidecar");
    auto loaded = rp::sidecar::load_config_at_start(argc, argv);
    if (const int* exit_code = std::get_if<int>(&loaded)) return *exit_code;
    return rp::sidecar::run(std::get<rp::sidecar::LoadedConfig>(loaded),
                            [argc, argv] { return rp::sidecar::load_config_again(argc, argv); });
}
