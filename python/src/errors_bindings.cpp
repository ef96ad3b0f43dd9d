// C++ exceptions -> named Python exceptions:
//   twinsim::Error              -> twinsim.TwinsimError (Exception)
//   twinsim::IoError            -> twinsim.TwinsimIoError (TwinsimError, OSError)
//   twinsim::dtdl::ModelError   -> twinsim.ModelError (TwinsimError) with .errors and .unresolved

#include <pybind11/stl.h>

#include <string>

#include "bindings.hpp"
#include "twinsim/dtdl/model_summary.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/dtdl/diagnostic.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

// The exception classes live as long as the interpreter; the module holds a
// reference too, so these borrowed handles never dangle.
PyObject* twinsim_error = nullptr;
PyObject* io_error = nullptr;
PyObject* model_error = nullptr;

PyObject* new_exception(py::module_& m, const char* name, PyObject* bases, const char* doc, PyObject* dict = nullptr) {
    const std::string qualified = std::string("twinsim.") + name;
    PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, dict);
    if (type == nullptr) throw py::error_already_set();
    m.add_object(name, py::handle(type));  // steals nothing: add_object increments the count
    return type;
}

// The str() of a ModelError: a summary line, then one line per error (the
// first 50) and per unresolved identifier.
std::string model_error_text(const dtdl::ModelError& e) {
    constexpr std::size_t shown = 50;
    std::string text = "invalid DTDL model set: ";
    text += e.errors().empty() && e.unresolved().empty() ? std::string(e.what())
                                                         : dtdl::problem_counts(e.errors().size(), e.unresolved().size());
    for (std::size_t i = 0; i < e.errors().size() && i < shown; ++i) text += "\n  " + e.errors()[i].to_string();
    if (e.errors().size() > shown) text += "\n  ... and " + std::to_string(e.errors().size() - shown) + " more (see .errors)";
    for (const std::string& id : e.unresolved()) text += "\n  unresolved: " + id;
    return text;
}

void raise_model_error(const dtdl::ModelError& e) {
    py::object instance = py::reinterpret_borrow<py::object>(model_error)(model_error_text(e));
    instance.attr("errors") = py::cast(e.errors());
    instance.attr("unresolved") = py::cast(e.unresolved());
    PyErr_SetObject(model_error, instance.ptr());
}

}  // namespace

void define_errors(py::module_& m) {
    py::enum_<dtdl::Severity>(m, "Severity", "How serious a Diagnostic is.")
        .value("error", dtdl::Severity::error, "the model set is invalid (a MUST/SHALL of the specification is broken)")
        .value("warning", dtdl::Severity::warning, "valid, but breaks a SHOULD/RECOMMENDED of the specification");

    py::class_<dtdl::Diagnostic>(m, "Diagnostic", "One finding about a set of DTDL documents.")
        .def_readonly("severity", &dtdl::Diagnostic::severity)
        .def_readonly("file", &dtdl::Diagnostic::file,
                      "the document: its file path, or \"<document N>\" for in-memory input")
        .def_readonly("id", &dtdl::Diagnostic::id, "DTMI of the nearest element that has one (empty when none does)")
        .def_readonly("path", &dtdl::Diagnostic::path, "JSON Pointer into the document, e.g. \"/contents/2/schema\"")
        .def_readonly("message", &dtdl::Diagnostic::message, "what is wrong and what was expected")
        .def_readonly("rule", &dtdl::Diagnostic::rule, "the specification rule broken")
        .def("to_dict",
             [](const dtdl::Diagnostic& d) {
                 return py::dict(py::arg("severity") = d.severity == dtdl::Severity::error ? "error" : "warning",
                                 py::arg("file") = d.file, py::arg("id") = d.id, py::arg("path") = d.path,
                                 py::arg("message") = d.message, py::arg("rule") = d.rule);
             },
             "The diagnostic as a dict with keys severity, file, id, path, message, rule.")
        .def("__str__", &dtdl::Diagnostic::to_string, "\"file: id: path: message\" on one line (empty parts omitted).")
        .def("__repr__", [](const dtdl::Diagnostic& d) {
            return "<Diagnostic " + std::string(d.severity == dtdl::Severity::error ? "error" : "warning") + " " +
                   py::repr(py::str(d.to_string())).cast<std::string>() + ">";
        });

    twinsim_error = new_exception(m, "TwinsimError", PyExc_Exception,
                                  "Base class of every exception twinsim raises for bad input or a failed operation.");
    {
        py::tuple bases = py::make_tuple(py::handle(twinsim_error), py::handle(PyExc_OSError));
        io_error = new_exception(m, "TwinsimIoError", bases.ptr(),
                                 "A file could not be read or written (missing, unreadable...). Subclasses both "
                                 "TwinsimError and OSError (not FileNotFoundError: the cause may be a permission "
                                 "or a read error); the message names the path.");
    }
    {
        // Defaults, so a ModelError raised from Python still has both attributes.
        py::dict attributes;
        attributes["errors"] = py::tuple();
        attributes["unresolved"] = py::tuple();
        model_error = new_exception(m, "ModelError", twinsim_error,
                                    "A set of DTDL documents is invalid or referentially incomplete.\n\n"
                                    ".errors: list of Diagnostic (file, id, path, message, rule), every error found;\n"
                                    ".unresolved: list of the identifiers no document defines and no resolver supplied.",
                                    attributes.ptr());
    }

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const dtdl::ModelError& e) {
            raise_model_error(e);
        } catch (const IoError& e) {
            PyErr_SetString(io_error, e.what());
        } catch (const Error& e) {
            PyErr_SetString(twinsim_error, e.what());
        }
    });
}

}  // namespace twinsim::python
