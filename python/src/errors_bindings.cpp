// C++ exceptions -> named Python exceptions:
//   twinsim::Error              -> twinsim.TwinsimError (Exception)
//   twinsim::IoError            -> twinsim.TwinsimIoError (TwinsimError, OSError)
//   twinsim::dtdl::ModelError   -> twinsim.ModelError (TwinsimError) with .errors and .unresolved
//   twinsim::graph::NotFoundError   -> twinsim.NotFoundError (TwinsimError, LookupError)
//   twinsim::graph::ConflictError   -> twinsim.ConflictError (TwinsimError)
//   twinsim::graph::ValidationError -> twinsim.ValidationError (TwinsimError, ValueError)
//   twinsim::graph::ImportError     -> twinsim.GraphImportError (TwinsimError, ValueError) with .problems
//   any other twinsim::graph::GraphError -> twinsim.TwinsimError
// Every one has .code: the Azure Digital Twins error code ("DigitalTwinNotFound",
// "PreconditionFailed", ...), None for errors ADT has no code for.

#include <pybind11/stl.h>

#include <initializer_list>
#include <string>

#include "bindings.hpp"
#include "twinsim/dtdl/model_summary.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/dtdl/diagnostic.hpp"
#include "twinsim/graph/errors.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

// The exception classes live as long as the interpreter; the module holds a
// reference too, so these borrowed handles never dangle.
PyObject* twinsim_error = nullptr;
PyObject* io_error = nullptr;
PyObject* model_error = nullptr;
PyObject* not_found_error = nullptr;
PyObject* conflict_error = nullptr;
PyObject* validation_error = nullptr;
PyObject* graph_import_error = nullptr;


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

// Sets `type(message)` with .code (and .problems for an import) as the pending exception.
void raise_graph_error(PyObject* type, const graph::GraphError& e, const std::string& message) {
    py::object instance = py::reinterpret_borrow<py::object>(type)(message);
    instance.attr("code") = e.code();
    PyErr_SetObject(type, instance.ptr());
}

// The str() of a GraphImportError: the C++ message, then one line per problem
// (the first 50) unless the message already lists them.
std::string import_error_text(const graph::ImportError& e) {
    constexpr std::size_t shown = 50;
    std::string text = e.what();
    if (e.problems().empty() || text.find('\n') != std::string::npos) return text;
    for (std::size_t i = 0; i < e.problems().size() && i < shown; ++i) {
        const graph::ImportProblem& p = e.problems()[i];
        text += "\n  line " + std::to_string(p.line) + (p.section.empty() ? "" : " (" + p.section + ")") + ": " + p.message;
    }
    if (e.problems().size() > shown) text += "\n  ... and " + std::to_string(e.problems().size() - shown) + " more (see .problems)";
    return text;
}

void raise_import_error(const graph::ImportError& e) {
    py::object instance = py::reinterpret_borrow<py::object>(graph_import_error)(import_error_text(e));
    instance.attr("code") = e.code();
    py::list problems;
    for (const graph::ImportProblem& p : e.problems()) problems.append(py::make_tuple(p.line, p.section, p.message));
    instance.attr("problems") = problems;
    PyErr_SetObject(graph_import_error, instance.ptr());
}

// A class with a default .code (so an instance raised from Python has one too).
PyObject* new_coded_exception(py::module_& m, const char* name, std::initializer_list<PyObject*> bases, const char* doc,
                              const char* code) {
    py::tuple base_tuple(bases.size());
    std::size_t i = 0;
    for (PyObject* base : bases) base_tuple[i++] = py::handle(base);
    py::dict attributes;
    attributes["code"] = py::str(code);
    return new_exception(m, name, base_tuple.ptr(), doc, attributes.ptr());
}

}  // namespace

PyObject* new_exception(py::module_& m, const char* name, PyObject* bases, const char* doc, PyObject* dict) {
    const std::string qualified = std::string("twinsim.") + name;
    PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, dict);
    if (type == nullptr) throw py::error_already_set();
    m.add_object(name, py::handle(type));  // steals nothing: add_object increments the count
    return type;
}

PyObject* new_located_exception(py::module_& m, const char* name, const char* doc) {
    const py::tuple bases = py::make_tuple(m.attr("TwinsimError"), py::handle(PyExc_ValueError));
    py::dict attributes;
    for (const char* attribute : {"code", "file", "line", "field", "reason"}) attributes[attribute] = py::none();
    return new_exception(m, name, bases.ptr(), doc, attributes.ptr());
}

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
    // Every twinsim exception has .code; ADT reports an invalid model as DTDLParserError.
    py::handle(twinsim_error).attr("code") = py::none();
    py::handle(model_error).attr("code") = py::str("DTDLParserError");

    not_found_error = new_coded_exception(
        m, "NotFoundError", {twinsim_error, PyExc_LookupError},
        "A twin, relationship, component or model that does not exist. Also a LookupError.\n\n"
        ".code: DigitalTwinNotFound, RelationshipNotFound, ModelNotFound, TargetTwinNotFound or ComponentNotFound "
        "(the role of azure.core's ResourceNotFoundError).",
        "NotFound");
    conflict_error = new_coded_exception(
        m, "ConflictError", {twinsim_error},
        "The operation conflicts with the graph's state.\n\n"
        ".code: PreconditionFailed (etag mismatch, azure.core's ResourceModifiedError), DigitalTwinAlreadyExists, "
        "RelationshipAlreadyExists or ModelAlreadyExists (create-only on an existing id, ResourceExistsError), "
        "RelationshipsNotDeleted (deleting a twin that has relationships), ModelReferencesNotDeleted.",
        "Conflict");
    validation_error = new_coded_exception(
        m, "ValidationError", {twinsim_error, PyExc_ValueError},
        "A twin, patch or relationship the models refuse; the message names the twin, the property path and why. "
        "Also a ValueError.\n\n.code: ValidationFailed, InvalidRelationship, JsonPatchInvalid, ModelDecommissioned.",
        "ValidationFailed");
    graph_import_error = new_coded_exception(
        m, "GraphImportError", {twinsim_error, PyExc_ValueError},
        "An NDJSON import file with problems; nothing was loaded. Also a ValueError.\n\n"
        ".problems: every problem as a (line, section, message) tuple, line 1-based, section \"Header\", "
        "\"Models\", \"Twins\" or \"Relationships\".\n.code: ImportFailed.",
        "ImportFailed");
    py::handle(graph_import_error).attr("problems") = py::tuple();

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const dtdl::ModelError& e) {
            raise_model_error(e);
        } catch (const graph::ImportError& e) {
            raise_import_error(e);
        } catch (const graph::NotFoundError& e) {
            raise_graph_error(not_found_error, e, e.what());
        } catch (const graph::ConflictError& e) {
            raise_graph_error(conflict_error, e, e.what());
        } catch (const graph::ValidationError& e) {
            raise_graph_error(validation_error, e, e.what());
        } catch (const graph::GraphError& e) {
            raise_graph_error(twinsim_error, e, e.what());
        } catch (const IoError& e) {
            PyErr_SetString(io_error, e.what());
        } catch (const Error& e) {
            PyErr_SetString(twinsim_error, e.what());
        }
    });
}

}  // namespace twinsim::python
