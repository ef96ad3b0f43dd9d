#include "models/production/demand.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <system_error>

namespace twinsim::models::production {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

std::string printable(std::string_view s) {
    std::string out;
    for (const char c : s.substr(0, 60)) out += (c >= 32 && c < 127) ? c : '?';
    if (s.size() > 60) out += "...";
    return out;
}

DemandTime parse_time(std::string_view text, const std::string& where, std::string_view column) {
    DemandTime t;
    double seconds = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec == std::errc() && end == text.data() + text.size()) {
        if (!std::isfinite(seconds) || seconds < 0.0 || seconds > 1e12)
            throw DemandError(where + ": " + std::string(column) + " " + printable(text) +
                              " must be a number of seconds in [0, 1e12]");
        t.offset = seconds;
        return t;
    }
    if (!text.empty() && text.front() == 'P') {
        std::string why;
        const std::optional<double> d = duration_seconds(text, &why);
        if (!d || *d < 0.0 || *d > 1e12)
            throw DemandError(where + ": " + std::string(column) + " " + printable(text) + " is not a usable duration" +
                              (why.empty() ? "" : " (" + why + ")"));
        t.offset = *d;
        return t;
    }
    std::string why;
    t.instant = parse_timestamp(text, &why);
    if (!t.instant)
        throw DemandError(where + ": " + std::string(column) + " " + printable(text) +
                          " is neither an RFC 3339 instant, a duration nor seconds" + (why.empty() ? "" : " (" + why + ")"));
    return t;
}

}  // namespace

std::vector<DemandRow> parse_demand(std::string_view text, const std::string& name) {
    if (text.size() > demand_max_bytes)
        throw DemandError(name + ": the demand file is larger than the limit of 64 MiB");
    std::vector<DemandRow> rows;
    std::size_t line_no = 0;
    bool header = false;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++line_no;
        const std::string where = name + ":" + std::to_string(line_no);
        if (line.size() > demand_max_line)
            throw DemandError(where + ": the line is longer than the limit of 4,096 bytes");
        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        std::array<std::string_view, 5> f{};
        std::size_t n = 0;
        for (;;) {
            const std::size_t comma = line.find(',');
            if (n == f.size()) throw DemandError(where + ": more than 5 columns (release,source,product,quantity,due)");
            f[n++] = trim(line.substr(0, comma));
            if (comma == std::string_view::npos) break;
            line.remove_prefix(comma + 1);
        }
        if (!header) {
            if (n != 5 || f[0] != "release" || f[1] != "source" || f[2] != "product" || f[3] != "quantity" || f[4] != "due")
                throw DemandError(where + ": the first line must be the header release,source,product,quantity,due");
            header = true;
            continue;
        }
        if (n < 4) throw DemandError(where + ": expected release,source,product,quantity[,due]");
        if (rows.size() == demand_max_rows)
            throw DemandError(name + ": more than the limit of 2,000,000 orders");
        DemandRow row;
        row.line = line_no;
        row.release = parse_time(f[0], where, "release");
        if (f[1].empty() || f[2].empty()) throw DemandError(where + ": the source and the product must not be empty");
        row.source = std::string(f[1]);
        row.product = std::string(f[2]);
        std::uint64_t q = 0;
        const auto [end, ec] = std::from_chars(f[3].data(), f[3].data() + f[3].size(), q);
        if (ec != std::errc() || end != f[3].data() + f[3].size() || q < 1 || q > 1000000)
            throw DemandError(where + ": quantity " + printable(f[3]) + " must be a whole number from 1 to 1,000,000");
        row.quantity = static_cast<std::uint32_t>(q);
        if (n == 5 && !f[4].empty()) row.due = parse_time(f[4], where, "due");
        rows.push_back(std::move(row));
    }
    if (!header) throw DemandError(name + ": empty; expected the header release,source,product,quantity,due");
    return rows;
}

std::vector<DemandRow> read_demand(const std::filesystem::path& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw DemandError(path.string() + ": cannot read the demand file: " + ec.message());
    if (size > demand_max_bytes) throw DemandError(path.string() + ": the demand file is larger than the limit of 64 MiB");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw DemandError(path.string() + ": cannot open the demand file");
    std::ostringstream text;
    text << in.rdbuf();
    return parse_demand(text.str(), path.string());
}

}  // namespace twinsim::models::production
