#include "program_output.h"

#include <algorithm>
#include <cmath>

#include "roompush/utf8.h"

namespace rp::app {

void ProgramOutput::add_line(std::string_view line) {
    // The program is outside input, and cJSON passes any bytes in a string on to the push, which
    // the sidecar would refuse (a browser fails its WebSocket on them). Refusing the line would
    // lose a job's result over one stray byte: each ill-formed sequence becomes U+FFFD instead.
    std::string repaired;
    if (!is_valid_utf8(line)) {
        repaired = repair_utf8(line);
        line = repaired;
        ++repaired_;
    }
    auto parsed = parse_json(line);
    if (!parsed || !cJSON_IsObject(parsed->get())) {
        ++ignored_;
        return;
    }
    const cJSON* progress = cJSON_GetObjectItemCaseSensitive(parsed->get(), "progress");
    if (progress == nullptr) {
        result_ = std::move(*parsed);
        return;
    }
    if (!cJSON_IsNumber(progress) || !std::isfinite(progress->valuedouble)) {
        ++ignored_;
        return;
    }
    Progress update;
    update.percent = static_cast<int>(std::clamp(progress->valuedouble, 0.0, 100.0));
    auto stage = get_string(parsed->get(), "stage");
    if (stage && stage->has_value()) update.stage = utf8_prefix(stage->value(), kMaxStageBytes);
    // Progress is pushed to browsers: only real changes are worth a message.
    if (update.percent == last_percent_) return;
    last_percent_ = update.percent;
    on_progress_(update);
}

}  // namespace rp::app
