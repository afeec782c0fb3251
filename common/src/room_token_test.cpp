#include "roompush/room_token.h"

#include <gtest/gtest.h>

namespace {

const std::string kSecret(40, 's');
const std::string kOther(40, 'o');
constexpr int64_t kNow = 1800000000;

TEST(RoomToken, Base64urlRoundTrip) {
    for (const std::string& bytes :
         std::vector<std::string>{"", "f", "fo", "foo", "foob", std::string("\xff\x00\xfe", 3)}) {
        EXPECT_EQ(*rp::base64url_decode(rp::base64url_encode(bytes)), bytes);
    }
    EXPECT_EQ(rp::base64url_encode("\xfb\xff"), "-_8");
    EXPECT_FALSE(rp::base64url_decode("ab+c").ok());
    EXPECT_FALSE(rp::base64url_decode("a").ok());
}

struct Case {
    const char* name;
    std::string token;
    std::vector<std::string> secrets;
    std::string room;
    std::string code;  // "" = accepted
};

TEST(RoomToken, EveryWayATokenCanBeWrong) {
    std::string good = rp::mint_token(kSecret, "A", kNow + 60);
    std::string payload = good.substr(0, good.find('.'));
    std::string signature = good.substr(good.find('.') + 1);
    std::string forged_payload = rp::base64url_encode(R"({"room":"B","exp":1900000000})");
    std::string flipped = signature;
    flipped[3] = flipped[3] == 'A' ? 'B' : 'A';
    std::vector<Case> cases = {
        {"valid", good, {kSecret}, "A", ""},
        {"rotated: old and new both loaded", good, {kOther, kSecret}, "A", ""},
        {"wrong secret", good, {kOther}, "A", "token_bad_signature"},
        {"expired", rp::mint_token(kSecret, "A", kNow), {kSecret}, "A", "token_expired"},
        {"another room", good, {kSecret}, "B", "token_wrong_room"},
        {"tampered payload",
         forged_payload + "." + signature,
         {kSecret},
         "B",
         "token_bad_signature"},
        {"tampered signature", payload + "." + flipped, {kSecret}, "A", "token_bad_signature"},
        {"missing", "", {kSecret}, "A", "token_missing"},
        {"no dot", payload, {kSecret}, "A", "token_malformed"},
        {"two dots", good + ".x", {kSecret}, "A", "token_malformed"},
        {"not base64", payload + ".***", {kSecret}, "A", "token_malformed"},
        {"huge", std::string(5000, 'a') + ".b", {kSecret}, "A", "token_malformed"},
        {"prefix grant", rp::mint_token(kSecret, "team-7:*", kNow + 60), {kSecret}, "team-7:x", ""},
        {"prefix grant, other team",
         rp::mint_token(kSecret, "team-7:*", kNow + 60),
         {kSecret},
         "team-8:x",
         "token_wrong_room"},
    };
    for (const Case& c : cases) {
        auto claims = rp::verify_token(c.token, c.secrets, c.room, kNow);
        if (c.code.empty()) {
            EXPECT_TRUE(claims.ok()) << c.name << ": " << claims.error().message;
        } else {
            ASSERT_FALSE(claims.ok()) << c.name;
            EXPECT_EQ(claims.error().code, c.code) << c.name;
            EXPECT_EQ(claims.error().message.find(c.token.empty() ? "\x01" : c.token),
                      std::string::npos)
                << c.name << ": the token itself never appears in a message";
        }
    }
}

TEST(RoomToken, GrantCoversExactOrPrefix) {
    EXPECT_TRUE(rp::grant_covers("A", "A"));
    EXPECT_FALSE(rp::grant_covers("A", "AB"));
    EXPECT_TRUE(rp::grant_covers("team:*", "team:1"));
    EXPECT_FALSE(rp::grant_covers("*", "anything")) << "an empty prefix grants nothing";
}

}  // namespace

TEST(RoomToken, UserAndCapabilitiesRoundTrip) {
    rp::TokenClaims wanted{"A", kNow + 60, "alice", true, true, R"({"color":"red"})"};
    auto claims = rp::verify_token(rp::mint_token(kSecret, wanted), {kSecret}, "A", kNow);
    ASSERT_TRUE(claims.ok()) << claims.error().message;
    EXPECT_EQ(claims->user, "alice");
    EXPECT_TRUE(claims->publish);
    EXPECT_TRUE(claims->presence);
    EXPECT_EQ(claims->info, R"({"color":"red"})");

    auto plain = rp::verify_token(rp::mint_token(kSecret, "A", kNow + 60), {kSecret}, "A", kNow);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain->user, "");
    EXPECT_FALSE(plain->publish) << "joining grants no publishing";
    EXPECT_FALSE(plain->presence);
    EXPECT_EQ(plain->info, "");
}

TEST(RoomToken, WrongTypedClaimsAreMalformed) {
    for (const char* payload : {R"({"room":"A","exp":1900000000,"sub":7})",
                                R"({"room":"A","exp":1900000000,"caps":"publish"})",
                                R"({"room":"A","exp":1900000000,"caps":[1]})",
                                R"({"room":"A","exp":1900000000,"info":"x"})"}) {
        auto claims =
            rp::verify_token(rp::sign_token_payload(kSecret, payload), {kSecret}, "A", kNow);
        ASSERT_FALSE(claims.ok()) << payload;
        EXPECT_EQ(claims.error().code, "token_malformed") << payload;
    }
    std::string long_info = R"({"a":")" + std::string(rp::kMaxTokenInfoBytes, 'i') + "\"}";
    auto too_much =
        rp::verify_token(rp::sign_token_payload(
                             kSecret, R"({"room":"A","exp":1900000000,"info":)" + long_info + "}"),
                         {kSecret}, "A", kNow);
    ASSERT_FALSE(too_much.ok());
    EXPECT_EQ(too_much.error().code, "token_malformed");
    std::string long_user(rp::kMaxTokenUserBytes + 1, 'u');
    auto claims =
        rp::verify_token(rp::mint_token(kSecret, rp::TokenClaims{"A", kNow + 60, long_user, false}),
                         {kSecret}, "A", kNow);
    ASSERT_FALSE(claims.ok());
    EXPECT_EQ(claims.error().code, "token_malformed");
}

TEST(RoomToken, UnknownCapabilitiesAreIgnored) {
    auto claims = rp::verify_token(
        rp::sign_token_payload(kSecret, R"({"room":"A","exp":1900000000,"caps":["x","publish"]})"),
        {kSecret}, "A", kNow);
    ASSERT_TRUE(claims.ok()) << claims.error().message;
    EXPECT_TRUE(claims->publish);
}
