#pragma once
// The external program's command line: a template split into words once at start-up, with
// placeholders filled per job. Never run through a shell, so a room id or a file name can never
// become a command.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "roompush/error.h"

namespace rp::app {

class ArgvTemplate {
public:
    // Words are separated by spaces; '...' and "..." quote (inside "...", a backslash escapes
    // a quote or a backslash; inside '...' nothing is special). Placeholders: {input} {workdir}
    // {job} {room} {item}. An unknown placeholder, an unterminated quote or an empty template is an
    // error ("bad_exec").
    static Result<ArgvTemplate> parse(std::string_view text);

    std::vector<std::string> expand(const std::map<std::string, std::string>& values) const;
    const std::vector<std::string>& words() const { return words_; }

private:
    std::vector<std::string> words_;
};

}  // namespace rp::app
