#include "twinsim/io/detail/cf_time.hpp"

#include <chrono>
#include <cstdio>

namespace twinsim::io::detail {

std::string cf_time_units(graph::Timestamp start) {
    using namespace std::chrono;
    const sys_time<nanoseconds> instant{nanoseconds{start.ns}};
    const sys_days day = floor<days>(instant);
    const year_month_day date{day};
    const hh_mm_ss<nanoseconds> clock{instant - day};
    char text[64];
    std::snprintf(text, sizeof text, "seconds since %04d-%02u-%02uT%02ld:%02ld:%02lld", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<long>(clock.hours().count()), static_cast<long>(clock.minutes().count()),
                  static_cast<long long>(clock.seconds().count()));
    std::string units = text;
    const long long fraction = clock.subseconds().count();
    if (fraction != 0) {
        std::snprintf(text, sizeof text, ".%09lld", fraction);
        std::string digits = text;
        while (digits.back() == '0') digits.pop_back();
        units += digits;
    }
    return units;
}

}  // namespace twinsim::io::detail
