// roompush-fcgi: the FastCGI app that takes uploads, runs the program and pushes results.
#include <variant>

#include "app_options.h"
#include "fcgi_app.h"
#include "roompush/log.h"

int main(int argc, char** argv) {
    rp::set_log_program("roompush-fcgi");
    auto loaded = rp::app::load_config_at_start(argc, argv);
    if (const int* exit_code = std::get_if<int>(&loaded)) return *exit_code;
    return rp::app::run(std::get<rp::app::LoadedAppConfig>(loaded),
                        [argc, argv] { return rp::app::load_config_again(argc, argv); });
}
