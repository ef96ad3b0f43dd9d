#pragma once
// JSON values <-> Python objects, shared by every binding that takes or returns
// JSON (DTDL documents, twins, relationships, patches, change events).
//
// JSON -> Python: null -> None, booleans -> bool, integers -> int, numbers with a
// fraction or exponent -> float, strings -> str, arrays -> list, objects -> dict
// (keys in the JSON object's order).
// Python -> JSON: None, bool, int (beyond 64 bits: a double, as a JSON parser
// reads it), float, str, dict with str keys (any Mapping subclass of dict),
// list and tuple, numpy scalars and arrays (through .tolist()), and objects with
// __index__ or __float__. Anything else raises TypeError naming the type.

#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>

namespace twinsim::python {

/// A Python value as JSON. Throws pybind11::type_error for a value JSON cannot
/// represent (a dict key that is not a str, a set, an arbitrary object), and
/// pybind11::value_error (ValueError) for lists and dicts nested deeper than
/// twinsim::max_json_depth (or containing themselves),
/// and graph::ValidationError for a str holding a lone surrogate.
[[nodiscard]] nlohmann::json to_json(pybind11::handle value);

/// A JSON value as a new Python object (the GIL must be held). Strings that
/// are not valid UTF-8 are decoded with U+FFFD replacements.
[[nodiscard]] pybind11::object to_python(const nlohmann::json& value);
[[nodiscard]] pybind11::object to_python(const nlohmann::ordered_json& value);

}  // namespace twinsim::python
