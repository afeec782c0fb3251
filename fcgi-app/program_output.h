#pragma once
// The external program's stdout contract (docs/program.md): NDJSON lines; a line with "progress"
// (0-100, optional "stage") is progress, the last other JSON object is the result. Lines that
// are not JSON objects are ignored (and counted). A line that is not UTF-8 is repaired first
// (U+FFFD for each ill-formed sequence), and counted too.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "roompush/json.h"

namespace rp::app {

inline constexpr std::size_t kMaxStageBytes = 64;

struct Progress {
    int percent = 0;
    std::string stage;
};

class ProgramOutput {
public:
    explicit ProgramOutput(std::function<void(const Progress&)> on_progress)
        : on_progress_(std::move(on_progress)) {}

    void add_line(std::string_view line);
    // The last non-progress JSON object, if any.
    const cJSON* result() const { return result_.get(); }
    JsonPtr take_result() { return std::move(result_); }
    std::size_t ignored_lines() const { return ignored_; }
    // Lines that were not valid UTF-8 and were read repaired.
    std::size_t repaired_lines() const { return repaired_; }

private:
    std::function<void(const Progress&)> on_progress_;
    JsonPtr result_;
    std::size_t ignored_ = 0;
    std::size_t repaired_ = 0;
    int last_percent_ = -1;
};

}  // namespace rp::app
