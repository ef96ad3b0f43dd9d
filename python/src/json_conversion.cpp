// JSON <-> Python without a detour through JSON text (json.dumps/json.loads).

#include "json_conversion.hpp"

#include <cstddef>
#include <cstdio>

#include "text_argument.hpp"
#include "twinsim/graph/errors.hpp"

#include <cstdint>
#include <string>

#include "twinsim/common/json_depth.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

py::str decode(const std::string& text) {
    PyObject* decoded = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
    if (decoded == nullptr) throw py::error_already_set();
    return py::reinterpret_steal<py::str>(decoded);
}

template <class Json>
py::object convert(const Json& value) {
    switch (value.type()) {
        case nlohmann::json::value_t::null:
        case nlohmann::json::value_t::discarded:
            return py::none();
        case nlohmann::json::value_t::boolean:
            return py::bool_(value.template get<bool>());
        case nlohmann::json::value_t::number_integer:
            return py::int_(value.template get<std::int64_t>());
        case nlohmann::json::value_t::number_unsigned:
            return py::int_(value.template get<std::uint64_t>());
        case nlohmann::json::value_t::number_float:
            return py::float_(value.template get<double>());
        case nlohmann::json::value_t::string:
            return decode(value.template get_ref<const std::string&>());
        case nlohmann::json::value_t::array: {
            py::list list(value.size());
            std::size_t i = 0;
            for (const Json& item : value) {
                // PyList_SET_ITEM steals the reference that release() hands over.
                PyList_SET_ITEM(list.ptr(), static_cast<Py_ssize_t>(i++), convert(item).release().ptr());
            }
            return list;
        }
        case nlohmann::json::value_t::object: {
            py::dict dict;
            for (auto it = value.begin(); it != value.end(); ++it) dict[decode(it.key())] = convert(it.value());
            return dict;
        }
        case nlohmann::json::value_t::binary: {
            const auto& bytes = value.get_binary();
            return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        }
    }
    return py::none();
}

std::string type_name(py::handle value) {
    return py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>();
}

nlohmann::json integer_to_json(py::handle value) {
    py::object number = py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr()));
    if (!number) throw py::error_already_set();
    int overflow = 0;
    const long long as_signed = PyLong_AsLongLongAndOverflow(number.ptr(), &overflow);
    if (overflow == 0) {
        if (as_signed == -1 && PyErr_Occurred()) throw py::error_already_set();
        return static_cast<std::int64_t>(as_signed);
    }
    if (overflow > 0) {
        const unsigned long long as_unsigned = PyLong_AsUnsignedLongLong(number.ptr());
        if (!PyErr_Occurred()) return static_cast<std::uint64_t>(as_unsigned);
        PyErr_Clear();
    }
    const double as_double = PyLong_AsDouble(number.ptr());  // beyond 64 bits: as a JSON parser reads it
    if (PyErr_Occurred()) throw py::error_already_set();
    return as_double;
}

}  // namespace

std::string utf8_of(PyObject* str) {
    Py_ssize_t size = 0;
    if (const char* data = PyUnicode_AsUTF8AndSize(str, &size)) return std::string(data, static_cast<std::size_t>(size));
    PyErr_Clear();
    const Py_ssize_t length = PyUnicode_GetLength(str);
    for (Py_ssize_t i = 0; i < length; ++i) {
        const Py_UCS4 c = PyUnicode_ReadChar(str, i);
        if (c >= 0xD800 && c <= 0xDFFF) {
            char code[16];
            std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(c));
            throw graph::ValidationError("InvalidArgument", "text holds a lone surrogate " + std::string(code) + " at position " +
                                         std::to_string(i) + ", which is not valid Unicode (nor UTF-8) and cannot be stored");
        }
    }
    throw graph::ValidationError("InvalidArgument", "text cannot be encoded as UTF-8");
}

py::object to_python(const nlohmann::json& value) { return convert(value); }
py::object to_python(const nlohmann::ordered_json& value) { return convert(value); }

namespace {

nlohmann::json to_json(py::handle value, std::size_t depth);

nlohmann::json to_json_nested(py::handle item, std::size_t depth) {
    // Checked before recursing, so a deep (or self-containing) list cannot exhaust the stack.
    if (depth >= max_json_depth) {
        throw py::value_error("the value " + json_depth_reason() + " (a " + type_name(item) + " at depth " +
                              std::to_string(depth + 1) + ")");
    }
    return to_json(item, depth + 1);
}

// `depth` counts the lists and dicts around `value`.
nlohmann::json to_json(py::handle value, std::size_t depth) {
    // The common built-in types first (exact or subclass checks, no attribute lookups).
    if (value.is_none()) return nullptr;
    if (PyBool_Check(value.ptr())) return value.ptr() == Py_True;
    if (PyLong_Check(value.ptr())) return integer_to_json(value);
    if (PyFloat_Check(value.ptr())) return PyFloat_AS_DOUBLE(value.ptr());
    if (PyUnicode_Check(value.ptr())) return utf8_of(value.ptr());
    if (PyDict_Check(value.ptr())) {
        nlohmann::json object = nlohmann::json::object();
        for (auto [key, item] : py::reinterpret_borrow<py::dict>(value)) {
            if (!PyUnicode_Check(key.ptr())) {
                throw py::type_error("JSON object keys must be str, not " + py::repr(key).cast<std::string>());
            }
            object[utf8_of(key.ptr())] = to_json_nested(item, depth);
        }
        return object;
    }
    if (PyList_Check(value.ptr()) || PyTuple_Check(value.ptr())) {
        nlohmann::json array = nlohmann::json::array();
        for (py::handle item : value) array.push_back(to_json_nested(item, depth));
        return array;
    }
    // numpy scalars (numpy.bool_ has no __index__, numpy.int64 is no int) and arrays.
    if (py::hasattr(value, "dtype") && py::hasattr(value, "tolist")) return to_json(value.attr("tolist")(), depth);
    if (py::hasattr(value, "__index__")) return integer_to_json(value);
    if (py::hasattr(value, "__float__")) return py::cast<double>(value);
    throw py::type_error("cannot represent a " + type_name(value) + " as JSON");
}

}  // namespace

nlohmann::json to_json(py::handle value) { return to_json(value, 0); }

}  // namespace twinsim::python
