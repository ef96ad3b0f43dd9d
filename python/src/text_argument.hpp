#pragma once
// Ids, names and query text from Python. A Python str may hold what UTF-8
// cannot (a lone surrogate such as "\ud800"): pybind11 would then refuse the
// call with a TypeError listing the overloads. A `Text` parameter instead
// raises twinsim.ValidationError saying which character at which position,
// as any other invalid id does. NUL characters pass through (they are valid
// text; the graph decides whether an id may hold one).

#include <pybind11/pybind11.h>

#include <string>
#include <string_view>
#include <utility>

namespace twinsim::python {

/// A std::string that binds to a Python str through the caster below.
struct Text : std::string {
    Text() = default;
    explicit Text(std::string s) : std::string(std::move(s)) {}
};

/// The UTF-8 of a Python str. Throws graph::ValidationError (naming the
/// character and its position) when it holds a lone surrogate.
[[nodiscard]] std::string utf8_of(PyObject* str);

}  // namespace twinsim::python

namespace pybind11::detail {

template <>
struct type_caster<twinsim::python::Text> {
    PYBIND11_TYPE_CASTER(twinsim::python::Text, const_name("str"));
    bool load(handle source, bool) {
        if (!source || !PyUnicode_Check(source.ptr())) return false;
        value = twinsim::python::Text(twinsim::python::utf8_of(source.ptr()));
        return true;
    }
    static handle cast(const twinsim::python::Text& text, return_value_policy, handle) {
        return PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
    }
};

}  // namespace pybind11::detail
