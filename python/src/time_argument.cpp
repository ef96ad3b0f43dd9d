#include "time_argument.hpp"

#include <cstdint>
#include <string>

namespace py = pybind11;

namespace twinsim::python {

Timestamp instant_argument(const py::handle& value, const char* name) {
    if (py::isinstance<py::int_>(value) && !py::isinstance<py::bool_>(value)) return Timestamp{value.cast<std::int64_t>()};
    std::string text;
    if (py::isinstance<py::str>(value)) {
        text = value.cast<std::string>();
    } else if (py::hasattr(value, "isoformat") && py::hasattr(value, "tzinfo")) {
        if (value.attr("tzinfo").is_none())
            throw py::value_error(std::string(name) + ": a naive datetime is ambiguous; give it a timezone (e.g. UTC)");
        text = value.attr("isoformat")().cast<std::string>();
    } else {
        throw py::type_error(std::string(name) + " must be an RFC 3339 str (e.g. '2026-07-14T14:00:00Z'), a "
                             "timezone-aware datetime or nanoseconds since 1970 as an int, not " +
                             std::string(py::str(py::type::of(value).attr("__name__"))));
    }
    std::string why;
    const auto t = parse_timestamp(text, &why);
    if (!t) throw py::value_error(std::string(name) + ": '" + text + "' is not an RFC 3339 date-time: " + why);
    return *t;
}

std::optional<Timestamp> optional_instant_argument(const py::handle& value, const char* name) {
    if (value.is_none()) return std::nullopt;
    return instant_argument(value, name);
}

}  // namespace twinsim::python
