#include <iostream>

#include "commands.h"
#include "format.h"
#include "roompush/control_codec.h"
#include "roompush/room_id.h"
#include "sidecar_call.h"

namespace rp::cli {
namespace {

// A streamed line for people: TIME ROOM SEQ EVENT DATA; a reset is said in words.
void print_line(const cJSON* frame, const std::string& type) {
    if (type == "reset") {
        std::cout << "-- reset in " << text_field(frame, "room") << " (epoch "
                  << text_field(frame, "epoch") << "): earlier messages may be missing\n";
        return;
    }
    std::cout << local_time(number_field(frame, "ts")) << "  " << text_field(frame, "room") << "  #"
              << text_field(frame, "seq") << "  " << text_field(frame, "event") << "  "
              << json_cell(cJSON_GetObjectItemCaseSensitive(frame, "data"), 200) << "\n";
}

}  // namespace

// Follows the rooms until the sidecar ends the stream, Ctrl-C, or --count messages.
int tail_command(const GlobalOptions& global, const TailOptions& options) {
    for (const std::string& room : options.rooms) {
        if (auto valid = check_room_id(room); !valid) return report(global, valid.error(), kUsage);
    }
    JsonPtr fields = make_object();
    JsonPtr rooms = make_array();
    for (const std::string& room : options.rooms)
        cJSON_AddItemToArray(rooms.get(), cJSON_CreateString(room.c_str()));
    set_json(fields.get(), "rooms", std::move(rooms));
    if (options.since) set_number(fields.get(), "since", static_cast<double>(*options.since));

    auto client = ControlClient::connect(global.socket, 24 * 3600 * 1000);  // a tail waits
    if (!client) return report_call_error(global, client.error());
    auto started = client->call(encode_request(ControlOp::tail, fields.get()));
    if (!started) return report_call_error(global, started.error());
    uint64_t messages = 0;
    while (!options.count || messages < *options.count) {
        auto line = client->read_line();
        if (!line) return report_call_error(global, line.error());
        auto frame = parse_json(*line);
        if (!frame)
            return report(global,
                          make_error("bad_response", "the tail sent a line that is not JSON"),
                          kSidecarError);
        std::string type = text_field(frame->get(), "type");
        if (type.empty()) {  // the stream ended with an error line
            auto ended = decode_response(*line);
            return report(global, ended ? make_error("closed", "the tail ended") : ended.error(),
                          kSidecarError);
        }
        if (type != "message" && type != "reset") continue;
        if (type == "message") ++messages;
        if (global.json) {
            std::cout << *line << "\n";
        } else {
            print_line(frame->get(), type);
        }
        std::cout.flush();
    }
    return kOk;
}

}  // namespace rp::cli
