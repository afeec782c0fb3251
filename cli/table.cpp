#include "table.h"

#include <algorithm>

namespace rp::cli {

void Table::print(std::ostream& out) const {
    std::vector<std::size_t> widths(headers_.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            widths[i] = std::max(widths[i], row[i].size());
        }
    };
    measure(headers_);
    for (const auto& row : rows_) measure(row);
    auto emit = [&](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < widths.size(); ++i) {
            std::string cell = i < row.size() ? row[i] : "";
            out << cell;
            if (i + 1 < widths.size()) out << std::string(widths[i] - cell.size() + 2, ' ');
        }
        out << '\n';
    };
    emit(headers_);
    for (const auto& row : rows_) emit(row);
}

}  // namespace rp::cli
