#include "program_output.h"

#include <algorithm>
#include <cmath>

namespace rp::app {

void ProgramOutput::add_line(std::string_view line) {
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
    if (stage && stage->has_value()) update.stage = stage->value().substr(0, 64);
    // Progress is pushed to browsers: only real changes are worth a message.
    if (update.percent == last_percent_) return;
    last_percent_ = update.percent;
    on_progress_(update);
}

}  // namespace rp::app
