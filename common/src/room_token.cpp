#include "roompush/room_token.h"

#include "roompush/secret_file.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "roompush/json.h"
#include "roompush/room_id.h"

namespace rp {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

std::string hmac_sha256(std::string_view secret, std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
    return std::string(reinterpret_cast<char*>(digest), length);
}

Error malformed(const std::string& why) {
    return make_error("token_malformed", "room token " + why);
}

// "caps": an array of strings; the ones this version knows set their flag.
Status decode_caps(const cJSON* payload, TokenClaims& claims) {
    const cJSON* caps = cJSON_GetObjectItemCaseSensitive(payload, "caps");
    if (caps == nullptr) return ok_status();
    if (!cJSON_IsArray(caps)) return malformed("\"caps\" is not an array of strings");
    const cJSON* cap = nullptr;
    cJSON_ArrayForEach(cap, caps) {
        if (!cJSON_IsString(cap)) return malformed("\"caps\" is not an array of strings");
        std::string_view name = cap->valuestring;
        if (name == "publish") claims.publish = true;
        if (name == "presence") claims.presence = true;
    }
    return ok_status();
}

// "info": a JSON object, kept as compact text.
Status decode_info(const cJSON* payload, TokenClaims& claims) {
    const cJSON* info = cJSON_GetObjectItemCaseSensitive(payload, "info");
    if (info == nullptr) return ok_status();
    if (!cJSON_IsObject(info)) return malformed("\"info\" is not a JSON object");
    claims.info = to_json(info);
    if (claims.info.size() > kMaxTokenInfoBytes) {
        return malformed("\"info\" is longer than " + std::to_string(kMaxTokenInfoBytes) +
                         " bytes");
    }
    return ok_status();
}

Result<TokenClaims> decode_claims(const std::string& payload) {
    auto json = parse_json(payload);
    if (!json || !cJSON_IsObject(json->get())) return malformed("payload is not a JSON object");
    auto room = require_string(json->get(), "room");
    auto exp = require_integer(json->get(), "exp");
    if (!room || !exp) return malformed("payload needs \"room\" and \"exp\"");
    auto user = get_string(json->get(), "sub");
    if (!user || user->value_or("").size() > kMaxTokenUserBytes) {
        return malformed("\"sub\" is not a string of at most " +
                         std::to_string(kMaxTokenUserBytes) + " bytes");
    }
    TokenClaims claims{*room, *exp, user->value_or("")};
    if (auto caps = decode_caps(json->get(), claims); !caps) return caps.error();
    if (auto info = decode_info(json->get(), claims); !info) return info.error();
    return claims;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    uint32_t buffer = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        buffer = (buffer << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(kAlphabet[(buffer >> bits) & 0x3f]);
        }
    }
    if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3f]);
    return out;
}

Result<std::string> base64url_decode(std::string_view text) {
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        int value = decode_char(c);
        if (value < 0) return malformed("has a character outside base64url");
        buffer = (buffer << 6) | static_cast<uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xff));
        }
    }
    if (bits >= 6) return malformed("has a base64url length that cannot be");
    return out;
}

std::string mint_token(std::string_view secret, std::string_view room, int64_t exp_unix) {
    return mint_token(secret, TokenClaims{std::string(room), exp_unix});
}

std::string mint_token(std::string_view secret, const TokenClaims& claims) {
    JsonPtr payload = make_object();
    set_string(payload.get(), "room", claims.room);
    set_number(payload.get(), "exp", static_cast<double>(claims.exp));
    if (!claims.user.empty()) set_string(payload.get(), "sub", claims.user);
    if (claims.publish || claims.presence) {
        cJSON* caps = cJSON_AddArrayToObject(payload.get(), "caps");
        if (claims.publish) cJSON_AddItemToArray(caps, cJSON_CreateString("publish"));
        if (claims.presence) cJSON_AddItemToArray(caps, cJSON_CreateString("presence"));
    }
    if (!claims.info.empty()) {
        if (auto info = parse_json(claims.info); info && cJSON_IsObject(info->get())) {
            cJSON_AddItemToObject(payload.get(), "info", cJSON_Duplicate(info->get(), true));
        }
    }
    return sign_token_payload(secret, to_json(payload.get()));
}

std::string sign_token_payload(std::string_view secret, std::string_view payload_json) {
    std::string encoded = base64url_encode(payload_json);
    return encoded + "." + base64url_encode(hmac_sha256(secret, encoded));
}

bool grant_covers(std::string_view grant, std::string_view room) {
    if (!grant.empty() && grant.back() == '*') {
        std::string_view prefix = grant.substr(0, grant.size() - 1);
        return !prefix.empty() && room.substr(0, prefix.size()) == prefix;
    }
    return grant == room;
}

Result<TokenClaims> verify_token(std::string_view token, const std::vector<std::string>& secrets,
                                 std::string_view room, int64_t now_unix) {
    if (token.empty()) return make_error("token_missing", "this room needs a token");
    if (token.size() > kMaxTokenBytes) return malformed("is too long");
    std::size_t dot = token.find('.');
    if (dot == std::string_view::npos || token.find('.', dot + 1) != std::string_view::npos) {
        return malformed("is not PAYLOAD.SIGNATURE");
    }
    std::string_view payload = token.substr(0, dot);
    auto signature = base64url_decode(token.substr(dot + 1));
    if (!signature) return signature.error();
    bool signed_by_us = false;
    for (const std::string& secret : secrets) {
        std::string expected = hmac_sha256(secret, payload);
        // Every secret is tried and compared in constant time: timing says nothing.
        if (expected.size() == signature->size() &&
            CRYPTO_memcmp(expected.data(), signature->data(), expected.size()) == 0) {
            signed_by_us = true;
        }
    }
    if (!signed_by_us)
        return make_error("token_bad_signature", "room token signature does not match");
    auto decoded = base64url_decode(payload);
    if (!decoded) return decoded.error();
    auto claims = decode_claims(*decoded);
    if (!claims) return claims.error();
    if (claims->exp <= now_unix) return make_error("token_expired", "room token has expired");
    if (!grant_covers(claims->room, room)) {
        return make_error("token_wrong_room", "room token is not for room " + std::string(room));
    }
    return claims;
}

Result<std::string> load_secret_file(const std::string& path) {
    return read_secret_file(
        path, {.min_bytes = kMinSecretBytes, .hint = " (try: head -c 48 /dev/urandom | base64)"});
}

}  // namespace rp
