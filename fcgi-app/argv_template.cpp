#include "argv_template.h"

#include <array>

namespace rp::app {
namespace {

constexpr std::array<std::string_view, 5> kPlaceholders = {"input", "workdir", "job", "room",
                                                           "item"};

Status check_placeholders(const std::string& word) {
    std::size_t open = word.find('{');
    while (open != std::string::npos) {
        std::size_t close = word.find('}', open);
        if (close == std::string::npos) {
            return make_error("bad_exec", "unclosed '{' in \"" + word + "\"");
        }
        std::string_view name(word.data() + open + 1, close - open - 1);
        bool known = false;
        for (std::string_view placeholder : kPlaceholders) known = known || placeholder == name;
        if (!known) {
            return make_error("bad_exec", "unknown placeholder {" + std::string(name) +
                                              "}; known: {input} {workdir} {job} {room} {item}");
        }
        open = word.find('{', close);
    }
    return ok_status();
}

}  // namespace

Result<ArgvTemplate> ArgvTemplate::parse(std::string_view text) {
    ArgvTemplate result;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (quote == '\'') {
            if (c == '\'')
                quote = 0;
            else
                word.push_back(c);
        } else if (quote == '"') {
            if (c == '"') {
                quote = 0;
            } else if (c == '\\' && i + 1 < text.size() &&
                       (text[i + 1] == '"' || text[i + 1] == '\\')) {
                word.push_back(text[++i]);
            } else {
                word.push_back(c);
            }
        } else if (c == ' ' || c == '\t') {
            if (in_word) result.words_.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else {
            in_word = true;
            if (c == '\'' || c == '"')
                quote = c;
            else
                word.push_back(c);
        }
    }
    if (quote != 0) return make_error("bad_exec", "unterminated quote in the exec template");
    if (in_word) result.words_.push_back(std::move(word));
    if (result.words_.empty()) return make_error("bad_exec", "the exec template is empty");
    if (result.words_[0].empty() || result.words_[0][0] != '/') {
        return make_error("bad_exec",
                          "the program must be an absolute path, not \"" + result.words_[0] + "\"");
    }
    for (const std::string& w : result.words_) {
        if (auto valid = check_placeholders(w); !valid) return valid.error();
    }
    return result;
}

std::vector<std::string> ArgvTemplate::expand(
    const std::map<std::string, std::string>& values) const {
    std::vector<std::string> argv;
    argv.reserve(words_.size());
    for (const std::string& word : words_) {
        std::string out;
        std::size_t position = 0;
        for (std::size_t open = word.find('{'); open != std::string::npos;
             open = word.find('{', position)) {
            std::size_t close = word.find('}', open);
            out.append(word, position, open - position);
            auto value = values.find(word.substr(open + 1, close - open - 1));
            if (value != values.end()) out += value->second;
            position = close + 1;
        }
        out.append(word, position);
        argv.push_back(std::move(out));
    }
    return argv;
}

}  // namespace rp::app
