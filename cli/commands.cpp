#include "commands.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "roompush/control_client.h"
#include "roompush/control_codec.h"
#include "roompush/room_id.h"
#include "table.h"

namespace rp::cli {
namespace {

int report(const Error& error, int code) {
    std::cerr << "pushctl: " << error.message;
    if (error.code != "error") std::cerr << " (" << error.code << ")";
    std::cerr << "\n";
    return code;
}

int report_connect(const GlobalOptions& global, const Error& error) {
    std::cerr << "pushctl: " << error.message << "\n"
              << "  Is roompush-sidecar running? Point pushctl at its control socket with "
                 "--socket PATH or ROOMPUSH_CONTROL (tried "
              << global.socket << ").\n";
    return kCannotConnect;
}

// The failure of a call: cannot connect (3), anything else the sidecar said or did (1).
int report_call(const GlobalOptions& global, const Error& error) {
    if (error.code == "connect_failed" || error.code == "bad_socket_path") {
        return report_connect(global, error);
    }
    return report(error, kSidecarError);
}

Result<std::string> read_data(const std::string& spec) {
    if (spec.empty() || spec == "-") {
        return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    }
    if (spec[0] != '@') return spec;
    std::ifstream file(spec.substr(1));
    if (!file) return make_error("bad_data", "cannot read " + spec.substr(1));
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

Result<JsonPtr> call(const GlobalOptions& global, const std::string& line) {
    auto client = ControlClient::connect(global.socket, global.timeout_ms);
    if (!client) return client.error();
    return client->call(line);
}

}  // namespace

int publish_command(const GlobalOptions& global, const PublishOptions& options) {
    if (auto valid = check_room_id(options.room); !valid) return report(valid.error(), kUsage);
    if (auto valid = check_event_name(options.event); !valid) return report(valid.error(), kUsage);
    auto text = read_data(options.data);
    if (!text) return report(text.error(), kUsage);
    auto data = parse_json(*text);
    if (!data) {
        return report(make_error("bad_data", "--data is not JSON: " + data.error().message), kUsage);
    }
    auto response = call(global, encode_publish_request(options.room, options.event, data->get(), options.id));
    if (!response) return report_call(global, response.error());
    auto ack = decode_publish_response(response->get());
    if (!ack) return report(ack.error(), kSidecarError);
    if (global.json) {
        std::cout << to_json(response->get()) << "\n";
    } else {
        std::cout << "published to " << options.room << ": seq " << ack->seq << ", delivered to "
                  << ack->delivered << (ack->delivered == 1 ? " member\n" : " members\n");
    }
    return kOk;
}

int rooms_command(const GlobalOptions& global) {
    auto response = call(global, encode_rooms_request());
    if (!response) return report_call(global, response.error());
    auto rooms = decode_rooms_response(response->get());
    if (!rooms) return report(rooms.error(), kSidecarError);
    if (global.json) {
        std::cout << to_json(response->get()) << "\n";
        return kOk;
    }
    Table table({"ROOM", "MEMBERS", "SEQ", "RETAINED"});
    for (const RoomSummary& room : *rooms) {
        table.add_row({room.room, std::to_string(room.members), std::to_string(room.seq),
                       std::to_string(room.retained)});
    }
    table.print(std::cout);
    return kOk;
}

}  // namespace rp::cli
