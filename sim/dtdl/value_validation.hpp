#pragma once
// Checking a JSON value against a DTDL schema: this is what rejects a bad twin
// property, a bad relationship property or a bad command payload.

#include <nlohmann/json_fwd.hpp>
#include <string_view>
#include <vector>

#include "twinsim/dtdl/elements.hpp"
#include "twinsim/dtdl/model_set.hpp"

namespace twinsim::dtdl {

/// Every way `value` fails to conform to `schema` (empty when it conforms):
/// wrong JSON type, integer out of 32/64-bit range, non-finite number, float
/// out of range, malformed date/time/dateTime/duration (RFC 3339 / ISO 8601),
/// unknown enum member, unknown or mistyped object field, non-string map key,
/// bad array element, malformed GeoJSON. Paths are JSON Pointers into `value`.
/// Precondition: schema is not null. Never throws except std::bad_alloc.
[[nodiscard]] std::vector<ValueError> validate_value(const Schema& schema, const nlohmann::json& value);

/// True exactly when validate_value(schema, <the JSON string `text`>) finds
/// nothing wrong, without building the JSON value: the bulk-import fast path
/// checks millions of strings this way and leaves a false one to
/// validate_value, which says why. Never throws.
[[nodiscard]] bool string_conforms(const Schema& schema, std::string_view text) noexcept;

}  // namespace twinsim::dtdl
