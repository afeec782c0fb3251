#include "roompush/secret_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace rp {

Result<std::string> read_secret_file(const std::string& path, const SecretRules& rules) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return make_error("bad_secret", "cannot read " + path + ": " + std::strerror(errno));
    }
    std::string secret;
    secret.resize(rules.max_bytes + 3);  // room for the limit, a CRLF, and one byte to tell more
    file.read(secret.data(), static_cast<std::streamsize>(secret.size()));
    secret.resize(static_cast<std::size_t>(file.gcount()));
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.size() > rules.max_bytes) {
        return make_error("bad_secret",
                          path + " holds more than " + std::to_string(rules.max_bytes) + " bytes");
    }
    if (rules.one_line && secret.find_first_of("\r\n") != std::string::npos) {
        return make_error("bad_secret", path + " must hold one line");
    }
    if (secret.size() < rules.min_bytes) {
        return make_error("bad_secret", "the secret in " + path + " is shorter than " +
                                            std::to_string(rules.min_bytes) + " bytes" +
                                            rules.hint);
    }
    return secret;
}

}  // namespace rp
