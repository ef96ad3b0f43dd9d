// What `twinsim run` and `twinsim compare` print alike: aligned tables and KPI numbers.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "scenario_commands.hpp"

namespace twinsim::cli {

std::size_t display_width(const std::string& text) {
    std::size_t width = 0;
    for (const char c : text) {
        if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) ++width;  // not a UTF-8 continuation byte
    }
    return width;
}

TextTable::TextTable(std::vector<std::string> header, std::vector<bool> right_aligned)
    : header_(std::move(header)), right_(std::move(right_aligned)) {
    right_.resize(header_.size(), false);
}

void TextTable::add(std::vector<std::string> row) {
    row.resize(header_.size());
    rows_.push_back(std::move(row));
}

void TextTable::print(std::ostream& out, const std::string& indent) const {
    std::vector<std::size_t> widths(header_.size(), 0);
    for (std::size_t i = 0; i < header_.size(); ++i) widths[i] = display_width(header_[i]);
    for (const auto& row : rows_)
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));

    auto line = [&](const std::vector<std::string>& cells) {
        std::string text = indent;
        for (std::size_t i = 0; i < cells.size(); ++i) {
            if (i > 0) text += "  ";
            const std::string pad(widths[i] - display_width(cells[i]), ' ');
            text += right_[i] ? pad + cells[i] : cells[i] + pad;
        }
        while (!text.empty() && text.back() == ' ') text.pop_back();
        out << text << '\n';
    };
    line(header_);
    std::vector<std::string> rule;
    for (const std::size_t w : widths) rule.emplace_back(w, '-');
    line(rule);
    for (const auto& row : rows_) line(row);
}

int kpi_decimals(double mean, double ci95_low, double ci95_high) {
    if (std::isnan(mean)) return 0;
    const double magnitude = std::fabs(mean);
    if (magnitude >= 1e9 || (magnitude != 0.0 && magnitude < 1e-4)) return -1;
    const double half = (ci95_high - ci95_low) / 2.0;
    if (std::isfinite(half) && half > 0.0) {
        return std::clamp(1 - static_cast<int>(std::floor(std::log10(half))), 0, 6);
    }
    if (mean == std::trunc(mean)) return 0;
    return std::clamp(3 - static_cast<int>(std::floor(std::log10(magnitude))), 0, 6);
}

std::string format_kpi(double value, int decimals, bool sign) {
    if (std::isnan(value)) return "-";
    char text[64];
    if (decimals < 0) {
        std::snprintf(text, sizeof text, sign ? "%+.3e" : "%.3e", value);
    } else {
        std::snprintf(text, sizeof text, sign ? "%+.*f" : "%.*f", decimals, value);
    }
    std::string out = text;
    // "-0.00" says nothing "0.00" does not.
    if (out.find_first_not_of("+-0.") == std::string::npos && (out.front() == '-' || out.front() == '+'))
        out.erase(0, 1);
    return out;
}

std::string format_interval(double low, double high, int decimals) {
    if (std::isnan(low) || std::isnan(high)) return "-";
    // Appended piece by piece: "[" + std::string trips GCC 12's -Wrestrict false positive at -O3.
    std::string out(1, '[');
    out += format_kpi(low, decimals);
    out += ", ";
    out += format_kpi(high, decimals);
    out += ']';
    return out;
}

}  // namespace twinsim::cli
