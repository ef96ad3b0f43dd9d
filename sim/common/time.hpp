#pragma once
// Time as text, read and written in one place: UTC instants (RFC 3339, as the
// graph records $lastUpdateTime and scenarios write `start`) and ISO 8601
// durations (scenario horizons, DTDL duration values). Every layer that meets
// time text uses these, so a date means the same everywhere.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace twinsim {

/// Nanoseconds since 1970-01-01T00:00:00Z (UTC).
struct Timestamp {
    std::int64_t ns = 0;
    friend constexpr auto operator<=>(const Timestamp&, const Timestamp&) = default;
};

/// How many fractional digits format_timestamp writes.
enum class TimestampPrecision {
    adt,          ///< always 7 (100 ns ticks): "2026-07-01T12:00:00.1234567Z", as ADT writes them
    nanoseconds,  ///< 9 when the instant has a fraction, none otherwise: exact, and short for whole seconds
    seconds,      ///< none: the instant rounded down to its second, "2026-07-01T12:00:00Z"
};

/// An RFC 3339 date-time in UTC ('Z'), with the fraction `precision` asks for.
[[nodiscard]] std::string format_timestamp(Timestamp t, TimestampPrecision precision = TimestampPrecision::adt);
/// Parses an RFC 3339 date-time with any offset and any fraction (digits past
/// nanoseconds are dropped; second 60, a leap second, counts as the next
/// second). Besides 'T' or 't' it accepts a space between date and time, as
/// RFC 3339 (5.6, note) allows. Returns nullopt if malformed or outside the
/// range of a Timestamp (1677-09-21 to 2262-04-11 UTC: nanoseconds in 64
/// bits); `why`, when given, then says which part is wrong.
[[nodiscard]] std::optional<Timestamp> parse_timestamp(std::string_view text, std::string* why = nullptr);
/// The system clock now.
[[nodiscard]] Timestamp utc_now();

/// Why `text` is not an RFC 3339 full-date ("2026-07-01"), or nullopt if it is.
[[nodiscard]] std::optional<std::string> rfc3339_date_error(std::string_view text);
/// Why `text` is not an RFC 3339 time: a partial-time ("12:00:00.5") with an
/// optional offset ("Z", "+02:00"); nullopt if it is.
[[nodiscard]] std::optional<std::string> rfc3339_time_error(std::string_view text);
/// Why `text` is not a strict RFC 3339 date-time ('T' or 't' between date and
/// time, offset required), or nullopt if it is.
[[nodiscard]] std::optional<std::string> rfc3339_date_time_error(std::string_view text);

/// The components of an ISO 8601 duration as written (not normalised).
struct IsoDuration {
    double years = 0;
    double months = 0;
    double weeks = 0;
    double days = 0;
    double hours = 0;
    double minutes = 0;
    double seconds = 0;
};

/// Parses an ISO 8601 duration: PnYnMnDTnHnMnS (any subset in this order, at
/// least one component, at least one after 'T') or PnW alone; only the last
/// component may carry a fraction ('.' or ','). No sign. Returns nullopt if
/// malformed; `why`, when given, then says which part is wrong.
[[nodiscard]] std::optional<IsoDuration> parse_iso_duration(std::string_view text, std::string* why = nullptr);

/// Seconds of an ISO 8601 duration ("PT48H", "P2DT6H30M", "P1W", "PT0.5S").
/// Years and months are refused (their length varies): nullopt, as for any
/// malformed text; `why`, when given, then says why.
[[nodiscard]] std::optional<double> duration_seconds(std::string_view text, std::string* why = nullptr);

}  // namespace twinsim
