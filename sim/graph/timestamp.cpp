#include "twinsim/graph/timestamp.hpp"

#include <chrono>

namespace twinsim::graph {

namespace {

constexpr std::int64_t ns_per_second = 1'000'000'000;
constexpr std::int64_t seconds_per_day = 86'400;

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
    std::int64_t year;
    unsigned month;
    unsigned day;
};

constexpr Civil civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {y + (m <= 2 ? 1 : 0), m, d};
}

constexpr bool leap(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
    constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

void put_digits(std::string& out, std::int64_t v, int width) {
    char buf[24];
    int n = 0;
    for (int i = 0; i < width; ++i) {
        buf[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
    while (n > 0) out.push_back(buf[--n]);
}

class Scanner {
public:
    explicit Scanner(std::string_view s) : s_(s) {}
    bool done() const noexcept { return i_ == s_.size(); }
    bool eat(char c) noexcept {
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool eat_either(char a, char b) noexcept { return eat(a) || eat(b); }
    // Exactly n digits.
    std::optional<unsigned> digits(int n) noexcept {
        unsigned v = 0;
        for (int k = 0; k < n; ++k) {
            if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') return std::nullopt;
            v = v * 10 + static_cast<unsigned>(s_[i_++] - '0');
        }
        return v;
    }
    bool digit_next() const noexcept { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; }
    char take() noexcept { return s_[i_++]; }

private:
    std::string_view s_;
    std::size_t i_ = 0;
};

}  // namespace

std::string format_timestamp(Timestamp t) {
    std::int64_t secs = t.ns / ns_per_second;
    std::int64_t frac = t.ns % ns_per_second;
    if (frac < 0) {
        frac += ns_per_second;
        --secs;
    }
    std::int64_t days = secs / seconds_per_day;
    std::int64_t sod = secs % seconds_per_day;
    if (sod < 0) {
        sod += seconds_per_day;
        --days;
    }
    const Civil c = civil_from_days(days);
    std::string out;
    out.reserve(28);
    if (c.year < 0) out.push_back('-');
    put_digits(out, c.year < 0 ? -c.year : c.year, 4);
    out.push_back('-');
    put_digits(out, c.month, 2);
    out.push_back('-');
    put_digits(out, c.day, 2);
    out.push_back('T');
    put_digits(out, sod / 3600, 2);
    out.push_back(':');
    put_digits(out, sod / 60 % 60, 2);
    out.push_back(':');
    put_digits(out, sod % 60, 2);
    out.push_back('.');
    put_digits(out, frac / 100, 7);  // 100 ns ticks, as ADT
    out.push_back('Z');
    return out;
}

std::optional<Timestamp> parse_timestamp(std::string_view text) {
    Scanner sc(text);
    auto year = sc.digits(4);
    if (!year || !sc.eat('-')) return std::nullopt;
    auto month = sc.digits(2);
    if (!month || *month < 1 || *month > 12 || !sc.eat('-')) return std::nullopt;
    auto day = sc.digits(2);
    if (!day || *day < 1 || *day > days_in_month(*year, *month)) return std::nullopt;
    if (!sc.eat_either('T', 't') && !sc.eat(' ')) return std::nullopt;
    auto hour = sc.digits(2);
    if (!hour || *hour > 23 || !sc.eat(':')) return std::nullopt;
    auto minute = sc.digits(2);
    if (!minute || *minute > 59 || !sc.eat(':')) return std::nullopt;
    auto second = sc.digits(2);
    if (!second || *second > 60) return std::nullopt;  // 60: a leap second, counted as the next second
    std::int64_t frac_ns = 0;
    if (sc.eat('.')) {
        if (!sc.digit_next()) return std::nullopt;
        std::int64_t scale = 100'000'000;
        while (sc.digit_next()) {
            const auto d = static_cast<std::int64_t>(sc.take() - '0');
            frac_ns += d * scale;  // digits beyond nanoseconds are dropped
            scale /= 10;
        }
    }
    std::int64_t offset_s = 0;
    if (!sc.eat_either('Z', 'z')) {
        int sign = 0;
        if (sc.eat('+')) sign = 1;
        else if (sc.eat('-')) sign = -1;
        else return std::nullopt;
        auto oh = sc.digits(2);
        if (!oh || *oh > 23 || !sc.eat(':')) return std::nullopt;
        auto om = sc.digits(2);
        if (!om || *om > 59) return std::nullopt;
        offset_s = sign * (static_cast<std::int64_t>(*oh) * 3600 + static_cast<std::int64_t>(*om) * 60);
    }
    if (!sc.done()) return std::nullopt;
    const std::int64_t days = days_from_civil(*year, *month, *day);
    const std::int64_t secs = days * seconds_per_day + static_cast<std::int64_t>(*hour) * 3600 +
                              static_cast<std::int64_t>(*minute) * 60 + static_cast<std::int64_t>(*second) - offset_s;
    return Timestamp{secs * ns_per_second + frac_ns};
}

Timestamp now() {
    const auto d = std::chrono::system_clock::now().time_since_epoch();
    return Timestamp{std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()};
}

}  // namespace twinsim::graph
