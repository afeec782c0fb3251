#include <iostream>

#include "commands.h"
#include "format.h"
#include "roompush/control_codec.h"
#include "roompush/room_id.h"
#include "sidecar_call.h"
#include "table.h"

namespace rp::cli {
namespace {

// Sends one request built from `fields`; on success hands the response to `show`.
template <class Show>
int request(const GlobalOptions& global, ControlOp op, const cJSON* fields, Show show) {
    auto response = call(global, encode_request(op, fields));
    if (!response) return report_call_error(global, response.error());
    if (global.json) {
        cJSON_DeleteItemFromObjectCaseSensitive(response->get(), "ok");
        print_json(response->get());
        return kOk;
    }
    return show(response->get());
}

JsonPtr room_fields(const std::string& room) {
    JsonPtr fields = make_object();
    set_string(fields.get(), "room", room);
    return fields;
}

}  // namespace

int rooms_command(const GlobalOptions& global, bool cluster) {
    JsonPtr fields = make_object();
    if (cluster) set_bool(fields.get(), "cluster", true);
    return request(
        global, ControlOp::rooms, fields.get(), [&global, cluster](const cJSON* response) {
            auto rooms = decode_rooms_response(response);
            if (!rooms) return report(global, rooms.error(), kSidecarError);
            if (cluster) {  // members summed over the nodes
                Table table({"ROOM", "MEMBERS", "NODES", "SEQ"});
                const cJSON* room = nullptr;
                cJSON_ArrayForEach(room, cJSON_GetObjectItemCaseSensitive(response, "rooms")) {
                    table.add_row({text_field(room, "room"), text_field(room, "members"),
                                   text_field(room, "nodes"), text_field(room, "seq")});
                }
                table.print(std::cout);
                return static_cast<int>(kOk);
            }
            Table table({"ROOM", "MEMBERS", "SEQ", "RETAINED"});
            for (const RoomSummary& room : *rooms) {
                table.add_row({room.room, std::to_string(room.members), std::to_string(room.seq),
                               std::to_string(room.retained)});
            }
            table.print(std::cout);
            return static_cast<int>(kOk);
        });
}

namespace {

// A visible member (presence): its user, or "yes" when its token names no one; else "-".
std::string presence_cell(const cJSON* member) {
    const cJSON* present = cJSON_GetObjectItemCaseSensitive(member, "present");
    if (!cJSON_IsObject(present)) return "-";
    std::string user = text_field(present, "user");
    return user.empty() ? "yes" : user;
}

}  // namespace

int room_command(const GlobalOptions& global, const std::string& room, bool cluster) {
    if (auto valid = check_room_id(room); !valid) return report(global, valid.error(), kUsage);
    JsonPtr fields = room_fields(room);
    if (cluster) set_bool(fields.get(), "cluster", true);
    return request(global, ControlOp::room, fields.get(), [&](const cJSON* response) {
        std::cout << "room " << room << "  epoch " << text_field(response, "epoch") << "  seq "
                  << text_field(response, "seq") << "  retained "
                  << text_field(response, "retained") << "\n\n";
        Table table(
            cluster ? std::vector<std::string>{"NODE", "MEMBER", "PEER", "CONNECTED", "QUEUED",
                                               "PRESENT"}
                    : std::vector<std::string>{"MEMBER", "PEER", "CONNECTED", "QUEUED", "PRESENT"});
        const cJSON* member = nullptr;
        cJSON_ArrayForEach(member, cJSON_GetObjectItemCaseSensitive(response, "members")) {
            std::vector<std::string> row{text_field(member, "id"), text_field(member, "peer"),
                                         local_time(number_field(member, "since")),
                                         text_field(member, "queued_bytes"), presence_cell(member)};
            if (cluster) row.insert(row.begin(), text_field(member, "node"));
            table.add_row(row);
        }
        table.print(std::cout);
        return static_cast<int>(kOk);
    });
}

int history_command(const GlobalOptions& global, const HistoryOptions& options) {
    if (auto valid = check_room_id(options.room); !valid)
        return report(global, valid.error(), kUsage);
    JsonPtr fields = room_fields(options.room);
    if (options.since) set_number(fields.get(), "since", static_cast<double>(*options.since));
    if (options.limit) set_number(fields.get(), "limit", static_cast<double>(*options.limit));
    return request(global, ControlOp::history, fields.get(), [](const cJSON* response) {
        Table table({"SEQ", "TIME", "EVENT", "DATA"});
        const cJSON* message = nullptr;
        cJSON_ArrayForEach(message, cJSON_GetObjectItemCaseSensitive(response, "messages")) {
            table.add_row({text_field(message, "seq"), local_time(number_field(message, "ts")),
                           text_field(message, "event"),
                           json_cell(cJSON_GetObjectItemCaseSensitive(message, "data"), 60)});
        }
        table.print(std::cout);
        return static_cast<int>(kOk);
    });
}

namespace {

// A Redis broker's figures per Redis (shard), under the counters.
void print_broker_shards(const cJSON* shards) {
    if (!cJSON_IsArray(shards) || cJSON_GetArraySize(shards) == 0) return;
    Table table(
        {"SHARD", "URL", "UP", "PUBLISHED", "RECEIVED", "ERRORS", "UNAVAILABLE", "FAILOVERS"});
    int index = 0;
    const cJSON* shard = nullptr;
    cJSON_ArrayForEach(shard, shards) {
        table.add_row({std::to_string(index++), text_field(shard, "url"), text_field(shard, "up"),
                       text_field(shard, "published"), text_field(shard, "received"),
                       text_field(shard, "errors"), text_field(shard, "unavailable"),
                       text_field(shard, "failovers")});
    }
    std::cout << "\n";
    table.print(std::cout);
}

}  // namespace

int stats_command(const GlobalOptions& global, bool prometheus) {
    JsonPtr fields = make_object();
    if (prometheus) {
        set_string(fields.get(), "format", "prometheus");
        auto response = call(global, encode_request(ControlOp::stats, fields.get()));
        if (!response) return report_call_error(global, response.error());
        std::cout << text_field(response->get(), "text");
        return kOk;
    }
    return request(global, ControlOp::stats, fields.get(), [](const cJSON* response) {
        Table table({"FIGURE", "VALUE"});
        const cJSON* item = nullptr;
        cJSON_ArrayForEach(item, response) {
            if (cJSON_IsNumber(item))
                table.add_row({item->string, text_field(response, item->string)});
        }
        table.print(std::cout);
        print_broker_shards(cJSON_GetObjectItemCaseSensitive(response, "broker_shards"));
        return static_cast<int>(kOk);
    });
}

int kick_command(const GlobalOptions& global, const std::string& room, uint64_t member) {
    if (auto valid = check_room_id(room); !valid) return report(global, valid.error(), kUsage);
    JsonPtr fields = room_fields(room);
    set_number(fields.get(), "member", static_cast<double>(member));
    return request(global, ControlOp::kick, fields.get(), [&](const cJSON*) {
        std::cout << "kicked member " << member << " from " << room << "\n";
        return static_cast<int>(kOk);
    });
}

int reload_command(const GlobalOptions& global) {
    JsonPtr fields = make_object();
    return request(global, ControlOp::reload, fields.get(), [](const cJSON* response) {
        auto names = [response](const char* key) {
            std::string out;
            const cJSON* name = nullptr;
            cJSON_ArrayForEach(name, cJSON_GetObjectItemCaseSensitive(response, key)) {
                if (cJSON_IsString(name))
                    out += std::string(out.empty() ? "" : ", ") + name->valuestring;
            }
            return out;
        };
        std::string applied = names("applied");
        std::cout << "reloaded: token secrets, allowed origins and log level read again"
                  << (applied.empty() ? "" : "; changed: " + applied) << "\n";
        if (std::string later = names("restart_needed"); !later.empty()) {
            std::cerr << "pushctl: changed, but applied only by a restart: " << later << "\n";
        }
        return static_cast<int>(kOk);
    });
}

}  // namespace rp::cli
