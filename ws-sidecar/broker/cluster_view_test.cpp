#include "cluster_view.h"

#include <gtest/gtest.h>

namespace rp::sidecar {
namespace {

JsonPtr parsed(const std::string& text) {
    auto json = parse_json(text);
    EXPECT_TRUE(json.ok()) << text;
    return std::move(*json);
}

TEST(ClusterView, AReportHasTheRoomsWithMembersOnly) {
    SidecarMetrics metrics;
    RoomRegistry registry({}, metrics);
    SessionId member = registry.add_session("10.0.0.1", 42);
    ASSERT_TRUE(registry.join(member, "A", {}).ok());
    registry.publish("A", "e", "null", "", 0);
    registry.publish("B", "e", "null", "", 0);  // retained, but nobody in it
    RoomPresence presence(10);
    presence.join("A", member, R"({"conn":"n1/1","user":"ann"})");
    JsonPtr report = parsed(members_report("n1", registry, presence));
    EXPECT_EQ(*require_string(report.get(), "node"), "n1");
    const cJSON* rooms = cJSON_GetObjectItemCaseSensitive(report.get(), "rooms");
    ASSERT_EQ(cJSON_GetArraySize(rooms), 1);
    const cJSON* room = cJSON_GetArrayItem(rooms, 0);
    EXPECT_EQ(*require_string(room, "room"), "A");
    EXPECT_EQ(*require_integer(room, "seq"), 1);
    const cJSON* members = cJSON_GetObjectItemCaseSensitive(room, "members");
    ASSERT_EQ(cJSON_GetArraySize(members), 1);
    EXPECT_EQ(*require_string(cJSON_GetArrayItem(members, 0), "peer"), "10.0.0.1");
    const cJSON* present = cJSON_GetObjectItemCaseSensitive(room, "present");
    ASSERT_EQ(cJSON_GetArraySize(present), 1);
    EXPECT_EQ(*require_string(cJSON_GetArrayItem(present, 0), "user"), "ann");
}

TEST(ClusterView, PresenceMergesTheOtherNodesReportsWithThisNodeAsItIsNow) {
    const std::vector<std::string> reports = {
        R"({"node":"n1","rooms":[{"room":"A","present":[{"conn":"n1/1","user":"stale"}]}]})",
        R"({"node":"n2","rooms":[{"room":"A","present":[{"conn":"n2/4","user":"bo"},7]},
                                 {"room":"B","present":[{"conn":"n2/5"}]}]})",
        "garbage",
    };
    std::vector<std::string_view> mine = {R"({"conn":"n1/2","user":"ann"})"};
    EXPECT_EQ(encode_cluster_presence("A", reports, "n1", mine, 10),
              R"({"type":"presence","room":"A","count":2,"members":[{"conn":"n1/2","user":"ann"},)"
              R"({"conn":"n2/4","user":"bo"}]})");
    EXPECT_EQ(
        encode_cluster_presence("A", reports, "n1", mine, 1),
        R"({"type":"presence","room":"A","count":2,"members":[{"conn":"n1/2","user":"ann"}]})");
    EXPECT_EQ(encode_cluster_presence("C", reports, "n1", {}, 10),
              R"({"type":"presence","room":"C","count":0,"members":[]})");
}

const std::vector<std::string> kReports = {
    R"({"node":"n1","rooms":[{"room":"A","epoch":"old","seq":3,"retained":3,"members":[{"id":1},{"id":2}]}]})",
    R"({"node":"n2","rooms":[{"room":"A","epoch":"new","seq":5,"retained":4,"members":[{"id":1}]},
                             {"room":"B","epoch":"b","seq":1,"retained":1,"members":[{"id":7}]}]})",
    "not json",
    R"({"node":"n3","rooms":"not a list"})",
};

TEST(ClusterView, RoomsSumsMembersAndCountsNodesOverTheReportsThatParse) {
    EXPECT_EQ(encode_cluster_rooms(kReports),
              R"({"ok":true,"cluster":true,"nodes":4,"rooms":[)"
              R"({"room":"A","members":3,"seq":5,"retained":4,"nodes":2},)"
              R"({"room":"B","members":1,"seq":1,"retained":1,"nodes":1}]})");
}

TEST(ClusterView, RoomListsEveryNodesMembersWithTheNewestEpoch) {
    JsonPtr room = parsed(encode_cluster_room("A", kReports));
    EXPECT_EQ(*require_string(room.get(), "epoch"), "new");
    EXPECT_EQ(*require_integer(room.get(), "seq"), 5);
    const cJSON* members = cJSON_GetObjectItemCaseSensitive(room.get(), "members");
    ASSERT_EQ(cJSON_GetArraySize(members), 3);
    EXPECT_EQ(*require_string(cJSON_GetArrayItem(members, 0), "node"), "n1");
    EXPECT_EQ(*require_string(cJSON_GetArrayItem(members, 2), "node"), "n2");
}

TEST(ClusterView, ARoomNoNodeHasIsNotFound) {
    ControlResponse response = ControlResponse::parsed(encode_cluster_room("C", kReports));
    EXPECT_FALSE(response.ok);
    EXPECT_EQ(decode_response(response.line).error().code, "not_found");
}

}  // namespace
}  // namespace rp::sidecar
