#pragma once
// Event-route filters in Azure Digital Twins' syntax: `true`, `false`,
// `type = 'Microsoft.DigitalTwins.Twin.Create' OR source = '...'`,
// `STARTS_WITH(subject, 'room')`, `$body.modelId = 'dtmi:...'`, parsed by the
// query language's parser and evaluated by the shared expression evaluator
// (query::test_document) on the CloudEvent of each notification.
//
// Grammar (docs/events.md, "Route filters"): an expression over the event's
// attributes (id, source, specversion, type, datacontenttype, dataschema,
// subject, time, traceparent, sequence, telemetrysourcetime) and
// `$body.<path>` (the event's data); = != <> < > <= >=, AND, OR, NOT,
// parentheses, IN / NIN lists; STARTS_WITH, ENDS_WITH, CONTAINS and
// IS_DEFINED. Keywords and function names are case-insensitive; attribute
// names and strings are case-sensitive.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "twinsim/live/errors.hpp"

namespace twinsim::query {
class CompiledExpression;
}

namespace twinsim::live {

/// Longest filter text accepted, in bytes.
inline constexpr std::size_t max_route_filter_length = 4096;
/// Deepest nesting accepted (parentheses, NOT, function arguments and chained
/// AND/OR each add a level).
inline constexpr std::uint32_t max_route_filter_depth = 32;

/// A filter that does not parse or names something route filters do not
/// know. message() = "route filter, line 1, column 8: <why>".
class RouteFilterError : public LiveError {
public:
    RouteFilterError(const std::string& message, std::uint32_t line, std::uint32_t column)
        : LiveError(message), line_(line), column_(column) {}
    [[nodiscard]] std::uint32_t line() const noexcept { return line_; }
    [[nodiscard]] std::uint32_t column() const noexcept { return column_; }

private:
    std::uint32_t line_;
    std::uint32_t column_;
};

/// A compiled route filter. Immutable, cheap to copy, usable from any thread.
class RouteFilter {
public:
    /// Parses and compiles `text`. Throws RouteFilterError (with the position)
    /// for a syntax error, an empty filter, text longer than
    /// max_route_filter_length or nested deeper than max_route_filter_depth,
    /// an unknown attribute, a sub-path of an attribute other than $body, an
    /// unknown function (the query language's STARTSWITH/ENDSWITH named as
    /// such), and a function with the wrong number of arguments.
    [[nodiscard]] static RouteFilter parse(std::string_view text);

    /// True when the filter is true on `event` (a CloudEvent in JSON form);
    /// false when it is false or undefined (a missing member).
    [[nodiscard]] bool matches(const nlohmann::json& event) const;
    [[nodiscard]] const std::string& text() const noexcept { return text_; }

private:
    RouteFilter() = default;
    std::string text_;
    std::shared_ptr<const query::CompiledExpression> expr_;
};

}  // namespace twinsim::live
