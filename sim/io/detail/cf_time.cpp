#include "twinsim/io/detail/cf_time.hpp"

namespace twinsim::io::detail {

std::string cf_time_units(Timestamp start) {
    // CF reads a reference time without a zone designator as UTC; trailing
    // zeros of the fraction carry no information.
    std::string text = format_timestamp(start, TimestampPrecision::nanoseconds);
    text.pop_back();  // 'Z'
    if (text.find('.') != std::string::npos)
        while (text.back() == '0') text.pop_back();
    return "seconds since " + text;
}

}  // namespace twinsim::io::detail
