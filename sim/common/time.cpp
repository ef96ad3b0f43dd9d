// Scanned by hand: faster than regular expressions and able to say exactly
// which part of the text is wrong.

#include "twinsim/common/time.hpp"

#include <chrono>
#include <charconv>

namespace twinsim {

namespace {

using Why = std::optional<std::string>;

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

constexpr int days_in_month(std::int64_t y, int m) noexcept {
    constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

const char* month_name(int month) {
    static constexpr const char* names[] = {"January", "February", "March",     "April",   "May",      "June",
                                            "July",    "August",   "September", "October", "November", "December"};
    return names[month - 1];
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
    [[nodiscard]] bool done() const noexcept { return i_ == s_.size(); }
    [[nodiscard]] std::size_t pos() const noexcept { return i_; }
    [[nodiscard]] char peek() const noexcept { return done() ? '\0' : s_[i_]; }
    bool eat(char c) noexcept {
        if (done() || s_[i_] != c) return false;
        ++i_;
        return true;
    }
    // Exactly `n` ASCII digits as a number.
    bool digits(int n, int& value) noexcept {
        if (s_.size() - i_ < static_cast<std::size_t>(n)) return false;
        int v = 0;
        for (int k = 0; k < n; ++k) {
            const char c = s_[i_ + static_cast<std::size_t>(k)];
            if (c < '0' || c > '9') return false;
            v = v * 10 + (c - '0');
        }
        i_ += static_cast<std::size_t>(n);
        value = v;
        return true;
    }
    // Zero or more digits; returns them.
    std::string_view digit_run() noexcept {
        const std::size_t start = i_;
        while (!done() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
        return s_.substr(start, i_ - start);
    }

private:
    std::string_view s_;
    std::size_t i_ = 0;
};

struct DateTimeParts {
    int year = 0;
    int month = 0;
    int day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    std::int64_t fraction_ns = 0;
    int offset_seconds = 0;
};

// full-date = date-fullyear "-" date-month "-" date-mday
Why scan_date(Scanner& sc, DateTimeParts& p) {
    if (!sc.digits(4, p.year)) return "the year must be 4 digits";
    if (!sc.eat('-')) return "expected '-' after the year";
    if (!sc.digits(2, p.month)) return "the month must be 2 digits";
    if (p.month < 1 || p.month > 12) return "month " + std::to_string(p.month) + " is not 01-12";
    if (!sc.eat('-')) return "expected '-' after the month";
    if (!sc.digits(2, p.day)) return "the day must be 2 digits";
    if (p.day < 1 || p.day > days_in_month(p.year, p.month))
        return "day " + std::to_string(p.day) + " does not exist in " + month_name(p.month) + " " + std::to_string(p.year);
    return std::nullopt;
}

// partial-time = time-hour ":" time-minute ":" time-second [time-secfrac]
Why scan_partial_time(Scanner& sc, DateTimeParts& p) {
    if (!sc.digits(2, p.hour)) return "the hour must be 2 digits";
    if (p.hour > 23) return "hour " + std::to_string(p.hour) + " is not 00-23";
    if (!sc.eat(':')) return "expected ':' after the hour";
    if (!sc.digits(2, p.minute)) return "the minute must be 2 digits";
    if (p.minute > 59) return "minute " + std::to_string(p.minute) + " is not 00-59";
    if (!sc.eat(':')) return "expected ':' after the minute (seconds are required)";
    if (!sc.digits(2, p.second)) return "the second must be 2 digits";
    if (p.second > 60) return "second " + std::to_string(p.second) + " is not 00-60";  // 60: leap second (RFC 3339 5.7)
    if (sc.eat('.')) {
        const std::string_view fraction = sc.digit_run();
        if (fraction.empty()) return "expected digits after '.'";
        std::int64_t scale = 100'000'000;
        for (std::size_t k = 0; k < fraction.size() && scale > 0; ++k, scale /= 10)
            p.fraction_ns += static_cast<std::int64_t>(fraction[k] - '0') * scale;  // past nanoseconds: dropped
    }
    return std::nullopt;
}

// time-offset = "Z" / time-numoffset ; time-numoffset = ("+" / "-") time-hour ":" time-minute
Why scan_offset(Scanner& sc, DateTimeParts& p) {
    if (sc.eat('Z') || sc.eat('z')) return std::nullopt;
    int sign = 0;
    if (sc.eat('+')) sign = 1;
    else if (sc.eat('-')) sign = -1;
    else return "expected 'Z' or a '+hh:mm'/'-hh:mm' offset";
    int h = 0;
    int m = 0;
    if (!sc.digits(2, h)) return "the offset hour must be 2 digits";
    if (h > 23) return "offset hour " + std::to_string(h) + " is not 00-23";
    if (!sc.eat(':')) return "expected ':' in the offset";
    if (!sc.digits(2, m)) return "the offset minute must be 2 digits";
    if (m > 59) return "offset minute " + std::to_string(m) + " is not 00-59";
    p.offset_seconds = sign * (h * 3600 + m * 60);
    return std::nullopt;
}

Why trailing(const Scanner& sc) {
    if (sc.done()) return std::nullopt;
    return "unexpected text at character " + std::to_string(sc.pos() + 1);
}

Why scan_date_time(std::string_view text, bool allow_space, DateTimeParts& p) {
    Scanner sc(text);
    if (auto why = scan_date(sc, p)) return why;
    if (!sc.eat('T') && !sc.eat('t') && !(allow_space && sc.eat(' ')))
        return "expected 'T' between the date and the time";
    if (auto why = scan_partial_time(sc, p)) return why;
    if (sc.done()) return "the time zone is missing (expected 'Z' or an offset such as +02:00)";
    if (auto why = scan_offset(sc, p)) return why;
    return trailing(sc);
}

}  // namespace

std::string format_timestamp(Timestamp t, TimestampPrecision precision) {
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
    switch (precision) {
        case TimestampPrecision::adt:
            out.push_back('.');
            put_digits(out, frac / 100, 7);  // 100 ns ticks, as ADT
            break;
        case TimestampPrecision::nanoseconds:
            if (frac != 0) {
                out.push_back('.');
                put_digits(out, frac, 9);
            }
            break;
        case TimestampPrecision::seconds: break;
    }
    out.push_back('Z');
    return out;
}

std::optional<Timestamp> parse_timestamp(std::string_view text, std::string* why) {
    DateTimeParts p;
    if (auto error = scan_date_time(text, true, p)) {
        if (why != nullptr) *why = std::move(*error);
        return std::nullopt;
    }
    const std::int64_t days = days_from_civil(p.year, static_cast<unsigned>(p.month), static_cast<unsigned>(p.day));
    const std::int64_t secs = days * seconds_per_day + std::int64_t{p.hour} * 3600 + std::int64_t{p.minute} * 60 +
                              std::int64_t{p.second} - p.offset_seconds;
    // A Timestamp counts nanoseconds in 64 bits: 1677-09-21 to 2262-04-11.
    std::int64_t ns = 0;
    if (__builtin_mul_overflow(secs, std::int64_t{ns_per_second}, &ns) ||
        __builtin_add_overflow(ns, std::int64_t{p.fraction_ns}, &ns)) {
        if (why != nullptr) *why = "the instant is outside the range a timestamp holds (1677-09-21 to 2262-04-11 UTC)";
        return std::nullopt;
    }
    return Timestamp{ns};
}

Timestamp utc_now() {
    const auto d = std::chrono::system_clock::now().time_since_epoch();
    return Timestamp{std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()};
}

std::optional<std::string> rfc3339_date_error(std::string_view text) {
    Scanner sc(text);
    DateTimeParts p;
    if (auto why = scan_date(sc, p)) return why;
    return trailing(sc);
}

std::optional<std::string> rfc3339_time_error(std::string_view text) {
    Scanner sc(text);
    DateTimeParts p;
    if (auto why = scan_partial_time(sc, p)) return why;
    if (sc.done()) return std::nullopt;
    if (auto why = scan_offset(sc, p)) return why;
    return trailing(sc);
}

std::optional<std::string> rfc3339_date_time_error(std::string_view text) {
    DateTimeParts p;
    return scan_date_time(text, false, p);
}

std::optional<IsoDuration> parse_iso_duration(std::string_view text, std::string* why) {
    const auto fail = [why](std::string reason) -> std::optional<IsoDuration> {
        if (why != nullptr) *why = std::move(reason);
        return std::nullopt;
    };
    Scanner sc(text);
    if (!sc.eat('P')) return fail("a duration must start with 'P'");
    constexpr std::string_view date_designators = "YMWD";
    constexpr std::string_view time_designators = "HMS";
    IsoDuration out;
    double* const date_fields[] = {&out.years, &out.months, &out.weeks, &out.days};
    double* const time_fields[] = {&out.hours, &out.minutes, &out.seconds};
    bool in_time = false;
    bool any = false;
    bool any_in_time = false;
    bool weeks = false;
    bool others = false;
    bool fractional = false;
    std::size_t next_designator = 0;  // components must appear in designator order
    while (!sc.done()) {
        if (!in_time && sc.eat('T')) {
            in_time = true;
            next_designator = 0;
            continue;
        }
        if (fractional) return fail("only the last component may have a fraction");
        const std::size_t number_start = sc.pos();
        if (sc.digit_run().empty()) return fail("expected a number at character " + std::to_string(sc.pos() + 1));
        if (sc.eat('.') || sc.eat(',')) {
            if (sc.digit_run().empty()) return fail("expected digits after the decimal mark");
            fractional = true;
        }
        std::string number(text.substr(number_start, sc.pos() - number_start));
        for (char& c : number)
            if (c == ',') c = '.';
        double value = 0;
        std::from_chars(number.data(), number.data() + number.size(), value);  // digits[.digits]: always parses
        const std::string_view designators = in_time ? time_designators : date_designators;
        const std::size_t k = designators.find(sc.peek());
        if (sc.done() || k == std::string_view::npos)
            return fail(std::string("expected one of the designators ") + (in_time ? "H, M, S" : "Y, M, W, D") +
                        " at character " + std::to_string(sc.pos() + 1));
        if (k < next_designator) return fail("components are out of order or repeated (expected Y M D T H M S)");
        sc.eat(designators[k]);
        next_designator = k + 1;
        *(in_time ? time_fields[k] : date_fields[k]) = value;
        if (!in_time && designators[k] == 'W') weeks = true;
        else others = true;
        any = true;
        any_in_time = any_in_time || in_time;
    }
    if (!any) return fail("a duration needs at least one component");
    if (in_time && !any_in_time) return fail("'T' must be followed by at least one of H, M, S");
    if (weeks && (in_time || others)) return fail("weeks (PnW) cannot be combined with other components");
    return out;
}

std::optional<double> duration_seconds(std::string_view text, std::string* why) {
    const auto d = parse_iso_duration(text, why);
    if (!d) return std::nullopt;
    if (d->years != 0 || d->months != 0) {
        if (why != nullptr) *why = "years and months have no fixed length in seconds";
        return std::nullopt;
    }
    return d->weeks * 7 * 86400.0 + d->days * 86400.0 + d->hours * 3600.0 + d->minutes * 60.0 + d->seconds;
}

}  // namespace twinsim
