#include <chrono>
#include <iostream>

#include "commands.h"
#include "roompush/room_id.h"
#include "roompush/room_token.h"
#include "roompush/wall_clock.h"
#include "sidecar_call.h"

namespace rp::cli {
namespace {

// "90", "90s", "15m", "1h", "7d" -> seconds.
Result<int64_t> parse_ttl(const std::string& text) {
    if (text.empty()) return make_error("bad_ttl", "--ttl is empty");
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    std::string unit = text.substr(digits);
    if (digits == 0 || digits > 9 || unit.size() > 1) {
        return make_error("bad_ttl", "--ttl must look like 90s, 15m, 1h or 7d");
    }
    int64_t value = std::stoll(text.substr(0, digits));
    int64_t scale = unit.empty() || unit == "s" ? 1
                    : unit == "m"               ? 60
                    : unit == "h"               ? 3600
                    : unit == "d"               ? 86400
                                                : 0;
    if (scale == 0 || value == 0)
        return make_error("bad_ttl", "--ttl must look like 90s, 15m, 1h or 7d");
    return value * scale;
}

Status check_grant(const std::string& grant) {
    std::string id =
        !grant.empty() && grant.back() == '*' ? grant.substr(0, grant.size() - 1) : grant;
    return check_room_id(id);
}

}  // namespace

// Mints a room token locally with the sidecar's secret: no connection needed.
int token_command(const GlobalOptions& global, const TokenOptions& options) {
    if (auto valid = check_grant(options.room); !valid)
        return report(global, valid.error(), kUsage);
    auto ttl = parse_ttl(options.ttl);
    if (!ttl) return report(global, ttl.error(), kUsage);
    auto secret = load_secret_file(options.secret_file);
    if (!secret) return report(global, secret.error(), kUsage);
    if (options.user.size() > kMaxTokenUserBytes) {
        return report(global,
                      make_error("bad_user", "--user may be at most " +
                                                 std::to_string(kMaxTokenUserBytes) + " bytes"),
                      kUsage);
    }
    if (!options.info.empty()) {
        auto info = parse_json(options.info);
        if (!info || !cJSON_IsObject(info->get()) ||
            to_json(info->get()).size() > kMaxTokenInfoBytes) {
            return report(global,
                          make_error("bad_info", "--info must be a JSON object of at most " +
                                                     std::to_string(kMaxTokenInfoBytes) + " bytes"),
                          kUsage);
        }
    }
    TokenClaims claims{options.room,    now_s() + *ttl,   options.user,
                       options.publish, options.presence, options.info};
    std::string token = mint_token(*secret, claims);
    if (global.json) {
        JsonPtr out = make_object();
        set_string(out.get(), "token", token);
        set_string(out.get(), "room", options.room);
        set_number(out.get(), "exp", static_cast<double>(claims.exp));
        if (!claims.user.empty()) set_string(out.get(), "user", claims.user);
        set_bool(out.get(), "publish", claims.publish);
        set_bool(out.get(), "presence", claims.presence);
        print_json(out.get());
    } else {
        std::cout << token << "\n";
    }
    return kOk;
}

}  // namespace rp::cli
