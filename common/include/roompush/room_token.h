#pragma once
// Room tokens: proof that whoever holds one may join a room until a time.
//
//   token = base64url(payload) "." base64url(HMAC-SHA256(secret, payload))
//   payload = {"room":R,"exp":UNIX_SECONDS[,"sub":USER][,"caps":[...]][,"info":{...}]}
//   R may be a prefix grant such as "team-7:*"; "sub" names the user (client messages and
//   presence carry it); "caps" grants more than joining: "publish" lets the holder send messages
//   to the room, "presence" shows it to the room's other members and them to it; "info" is what
//   presence tells about it.
//
// The app and pushctl mint them, the sidecar checks them. See docs/security.md.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "roompush/error.h"

namespace rp {

inline constexpr std::size_t kMinSecretBytes = 32;
inline constexpr std::size_t kMaxTokenBytes = 1024;

inline constexpr std::size_t kMaxTokenUserBytes = 128;
inline constexpr std::size_t kMaxTokenInfoBytes = 512;

struct TokenClaims {
    std::string room;  // a room id, or a prefix ending in '*'
    int64_t exp = 0;
    std::string user;       // "sub"; empty when the token names no one
    bool publish = false;   // "caps" holds "publish"
    bool presence = false;  // "caps" holds "presence"
    std::string info;       // "info": a JSON object's text; empty when there is none
};

std::string mint_token(std::string_view secret, std::string_view room, int64_t exp_unix);
// With the user and capabilities of `claims` (its room and exp are the token's).
std::string mint_token(std::string_view secret, const TokenClaims& claims);
// A token whose payload is `payload_json` as it is (tests use it for payloads no minter writes).
std::string sign_token_payload(std::string_view secret, std::string_view payload_json);

// Checks the signature against each secret (two during a key rotation) in constant time, then
// the expiry and the room. Error codes: token_missing, token_malformed, token_bad_signature,
// token_expired, token_wrong_room. Unknown capabilities are ignored (a newer minter's).
Result<TokenClaims> verify_token(std::string_view token, const std::vector<std::string>& secrets,
                                 std::string_view room, int64_t now_unix);

// A grant for `room`: the exact id, or "prefix*" matching ids that start with prefix.
bool grant_covers(std::string_view grant, std::string_view room);

// Reads a secret file: its bytes without a trailing newline, at least kMinSecretBytes long.
Result<std::string> load_secret_file(const std::string& path);

std::string base64url_encode(std::string_view bytes);
Result<std::string> base64url_decode(std::string_view text);

}  // namespace rp
