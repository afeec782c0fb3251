#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "commands.h"
#include "roompush/control_codec.h"
#include "roompush/room_id.h"
#include "sidecar_call.h"

namespace rp::cli {
namespace {

constexpr std::size_t kPipelineWindow = 128;

Result<std::string> read_data(const std::string& spec) {
    if (spec.empty() || spec == "-") {
        return std::string(std::istreambuf_iterator<char>(std::cin),
                           std::istreambuf_iterator<char>());
    }
    if (spec[0] != '@') return spec;
    std::ifstream file(spec.substr(1));
    if (!file) return make_error("bad_data", "cannot read " + spec.substr(1));
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

// One `ROOM<TAB>JSON` line as a publish request, or why it cannot be one.
Result<std::string> request_for_line(const std::string& line, const PublishOptions& options) {
    std::size_t tab = line.find('\t');
    if (tab == std::string::npos) return make_error("bad_line", "expected ROOM<TAB>JSON");
    std::string room = line.substr(0, tab);
    if (auto valid = check_room_id(room); !valid) return valid.error();
    return encode_publish_request_text(room, options.event, std::string_view(line).substr(tab + 1),
                                       "");
}

struct BulkSummary {
    std::size_t sent = 0;
    std::size_t acked = 0;
    std::vector<std::pair<std::size_t, Error>> failures;  // line number, why
};

void print_summary(const GlobalOptions& global, const BulkSummary& summary) {
    if (global.json) {
        JsonPtr out = make_object();
        set_number(out.get(), "sent", static_cast<double>(summary.sent));
        set_number(out.get(), "acked", static_cast<double>(summary.acked));
        set_number(out.get(), "failed", static_cast<double>(summary.failures.size()));
        JsonPtr failures = make_array();
        for (const auto& [line, error] : summary.failures) {
            JsonPtr entry = make_object();
            set_number(entry.get(), "line", static_cast<double>(line));
            set_string(entry.get(), "code", error.code);
            set_string(entry.get(), "message", error.message);
            cJSON_AddItemToArray(failures.get(), entry.release());
        }
        set_json(out.get(), "failures", std::move(failures));
        print_json(out.get());
        return;
    }
    std::cout << "sent " << summary.sent << ", acked " << summary.acked << ", failed "
              << summary.failures.size() << "\n";
    for (const auto& [line, error] : summary.failures) {
        std::cout << "  line " << line << ": " << error.message << " (" << error.code << ")\n";
    }
}

}  // namespace

int publish_command(const GlobalOptions& global, const PublishOptions& options) {
    if (auto valid = check_room_id(options.room); !valid)
        return report(global, valid.error(), kUsage);
    if (auto valid = check_event_name(options.event); !valid)
        return report(global, valid.error(), kUsage);
    auto text = read_data(options.data);
    if (!text) return report(global, text.error(), kUsage);
    // The data goes out as written (a big integer keeps its digits), unless it spans lines.
    auto request = encode_publish_request_text(options.room, options.event, *text, options.id);
    if (!request && request.error().code == "invalid_utf8")
        return report(global, request.error(), kUsage);
    if (!request) {
        return report(global,
                      make_error("bad_data", "the data is not JSON: " + request.error().message),
                      kUsage);
    }
    auto response = call(global, *request);
    if (!response) return report_call_error(global, response.error());
    auto ack = decode_publish_response(response->get());
    if (!ack) return report(global, ack.error(), kSidecarError);
    if (global.json) {
        print_json(response->get());
    } else {
        std::cout << (ack->duplicate ? "already published to " : "published to ") << options.room
                  << ": seq " << ack->seq << ", delivered to " << ack->delivered
                  << (ack->delivered == 1 ? " member\n" : " members\n");
    }
    return kOk;
}

// Reads ROOM<TAB>JSON lines and keeps up to kPipelineWindow publishes in flight, so a bulk load
// is not one round trip per message.
int publish_lines_command(const GlobalOptions& global, const PublishOptions& options) {
    if (auto valid = check_event_name(options.event); !valid)
        return report(global, valid.error(), kUsage);
    auto client = connect(global);
    if (!client) return report_call_error(global, client.error());
    BulkSummary summary;
    std::deque<std::size_t> in_flight;  // line numbers, in send order
    std::optional<Error> broken;
    auto collect_one = [&] {
        std::size_t line_number = in_flight.front();
        in_flight.pop_front();
        auto line = client->read_line();
        if (!line) {
            broken = line.error();
            summary.failures.emplace_back(line_number, line.error());
            return;
        }
        auto response = decode_response(*line);
        if (response) {
            ++summary.acked;
        } else {
            summary.failures.emplace_back(line_number, response.error());
        }
    };
    std::string line;
    for (std::size_t number = 1; !broken && std::getline(std::cin, line); ++number) {
        if (line.empty()) continue;
        auto request = request_for_line(line, options);
        if (!request) {
            summary.failures.emplace_back(number, request.error());
            continue;
        }
        if (auto sent = client->send_line(*request); !sent) {
            broken = sent.error();
            summary.failures.emplace_back(number, sent.error());
            break;
        }
        ++summary.sent;
        in_flight.push_back(number);
        if (in_flight.size() >= kPipelineWindow) collect_one();
    }
    while (!in_flight.empty()) {
        if (broken) {
            summary.failures.emplace_back(in_flight.front(), *broken);
            in_flight.pop_front();
        } else {
            collect_one();
        }
    }
    print_summary(global, summary);
    if (broken) return report_call_error(global, *broken);
    return summary.failures.empty() ? kOk : kSidecarError;
}

}  // namespace rp::cli
