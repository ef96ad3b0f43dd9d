// ModelSet and read-only views of a compiled model. Every view holds the
// ModelSet alive (a shared_ptr), so an Interface or Content outlives nothing.

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "document_arguments.hpp"
#include "json_conversion.hpp"
#include "twinsim/dtdl/model_summary.hpp"
#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/dtdl/value_validation.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

using dtdl::CompiledInterface;
using dtdl::Content;
using dtdl::ModelSet;
using ModelPtr = std::shared_ptr<const ModelSet>;

struct InterfaceView {
    ModelPtr model;
    const CompiledInterface* iface;
};

struct ContentView {
    ModelPtr model;
    const Content* content;
    std::string declared_in;  ///< "" for a relationship's properties
};

struct SchemaView {
    dtdl::SchemaPtr schema;
};

struct PayloadView {
    ModelPtr model;
    const dtdl::CommandPayload* payload;
};

struct SlotView {
    ModelPtr model;
    const dtdl::PropertySlot* slot;
};

py::object optional_schema(const dtdl::SchemaPtr& schema) {
    return schema ? py::cast(SchemaView{schema}) : py::none();
}

py::object text_or_none(const std::string& text) { return text.empty() ? py::object(py::none()) : py::str(text); }

template <typename T>
py::object optional_value(const std::optional<T>& value) {
    return value ? py::cast(*value) : py::none();
}

std::string repr_of(const std::string& text) { return py::repr(py::str(text)).cast<std::string>(); }

/// ParseOptions whose resolver calls a Python callable with the GIL held. A
/// Python exception raised by the callable is kept in `failure` (the parser
/// does not see it) and the resolver stops supplying documents.
dtdl::ParseOptions parse_options(bool allow_undefined_extensions, const py::object& resolver,
                                 std::shared_ptr<std::exception_ptr> failure) {
    dtdl::ParseOptions options;
    options.allow_undefined_extensions = allow_undefined_extensions;
    if (resolver.is_none()) return options;
    if (!PyCallable_Check(resolver.ptr())) throw py::type_error("resolver must be callable or None");
    // Copies of the std::function may be made or dropped without the GIL: they
    // share this one Python reference, released with the GIL held.
    std::shared_ptr<py::object> callable(new py::object(resolver), [](py::object* p) {
        py::gil_scoped_acquire gil;
        delete p;
    });
    auto counter = std::make_shared<std::size_t>(0);
    options.resolver = [callable, counter, failure](const std::vector<std::string>& unresolved_ids) {
        py::gil_scoped_acquire gil;
        if (*failure) return std::vector<dtdl::Document>{};
        try {
            py::object supplied = (*callable)(py::cast(unresolved_ids));
            return to_documents(supplied, "resolved", *counter);
        } catch (py::error_already_set&) {
            *failure = std::current_exception();
        } catch (const std::exception&) {
            *failure = std::current_exception();
        }
        return std::vector<dtdl::Document>{};
    };
    return options;
}

/// Runs `compile` without the GIL, then re-raises a resolver's Python exception.
template <typename Compile>
std::shared_ptr<ModelSet> compile_released(Compile&& compile, const std::shared_ptr<std::exception_ptr>& failure) {
    ModelPtr model;
    try {
        py::gil_scoped_release release;
        model = compile();
    } catch (const dtdl::ModelError&) {
        if (*failure) std::rethrow_exception(*failure);
        throw;
    }
    if (*failure) std::rethrow_exception(*failure);
    return std::const_pointer_cast<ModelSet>(model);
}

// --- views -------------------------------------------------------------------------------

const InterfaceView interface_view(const ModelPtr& model, std::string_view dtmi) {
    const auto index = model->find(dtmi);
    if (!index) throw py::key_error("no interface " + std::string(dtmi) + " in this ModelSet");
    return {model, &model->at(*index)};
}

std::vector<ContentView> contents_of(const InterfaceView& view, std::optional<dtdl::ContentKind> kind = std::nullopt) {
    std::vector<ContentView> out;
    for (const Content* c : view.iface->contents) {
        if (!kind || c->kind == *kind) out.push_back({view.model, c, dtdl::declared_in(*view.model, *view.iface, c->name)});
    }
    return out;
}

}  // namespace

void define_dtdl(py::module_& m) {
    py::class_<SchemaView>(m, "Schema",
                           "A DTDL schema. str() gives its compact text: \"double\", \"Array<double>\", "
                           "\"Map<string, integer>\", \"Object{x: double}\", \"Enum<string>{on, off}\".")
        .def_property_readonly("kind", [](const SchemaView& s) { return dtdl::to_string(s.schema->kind); },
                               "the DTDL term of its kind, e.g. \"double\", \"dateTime\", \"Object\"")
        .def_property_readonly("id", [](const SchemaView& s) { return text_or_none(s.schema->annotations.id); },
                               "its @id when given, else None")
        .def_property_readonly("element_schema", [](const SchemaView& s) { return optional_schema(s.schema->element_schema); },
                               "Array: the schema of its elements (else None)")
        .def_property_readonly("map_value_schema", [](const SchemaView& s) { return optional_schema(s.schema->map_value_schema); },
                               "Map: the schema of its values (keys are strings; else None)")
        .def_property_readonly("fields",
                               [](const SchemaView& s) {
                                   py::list fields;
                                   for (const dtdl::Field& f : s.schema->fields) {
                                       fields.append(py::make_tuple(f.name, optional_schema(f.schema)));
                                   }
                                   return fields;
                               },
                               "Object: list of (name, Schema)")
        .def_property_readonly("enum_values",
                               [](const SchemaView& s) {
                                   py::list values;
                                   const bool by_int = s.schema->enum_value_schema == dtdl::SchemaKind::integer;
                                   for (const dtdl::EnumValue& v : s.schema->enum_values) {
                                       values.append(py::make_tuple(v.name, by_int ? py::cast(v.int_value)
                                                                                   : py::cast(v.string_value)));
                                   }
                                   return values;
                               },
                               "Enum: list of (name, value)")
        .def("__str__", [](const SchemaView& s) { return dtdl::describe_schema(*s.schema); })
        .def("__repr__", [](const SchemaView& s) { return "Schema(" + repr_of(dtdl::describe_schema(*s.schema)) + ")"; });

    py::class_<PayloadView>(m, "CommandPayload", "A Command's request or response.")
        .def_property_readonly("name", [](const PayloadView& p) { return p.payload->name; })
        .def_property_readonly("schema", [](const PayloadView& p) { return optional_schema(p.payload->schema); })
        .def("__repr__", [](const PayloadView& p) {
            return "CommandPayload(" + repr_of(p.payload->name) + ", " + repr_of(dtdl::describe_schema(p.payload->schema)) + ")";
        });

    const auto payload = [](const ContentView& c, const std::optional<dtdl::CommandPayload>& p) {
        return p ? py::cast(PayloadView{c.model, &*p}) : py::none();
    };
    py::class_<ContentView>(m, "Content",
                            "One element of an interface's flattened contents: a Property, Telemetry, Command, "
                            "Relationship or Component, declared on the interface or inherited.")
        .def_property_readonly("name", [](const ContentView& c) { return c.content->name; })
        .def_property_readonly("kind", [](const ContentView& c) { return dtdl::to_string(c.content->kind); },
                               "its DTDL class: Property, Telemetry, Command, Relationship or Component")
        .def_property_readonly("declared_in", [](const ContentView& c) { return text_or_none(c.declared_in); },
                               "DTMI of the interface that declares it (None for a relationship's properties)")
        .def_property_readonly("schema", [](const ContentView& c) { return optional_schema(c.content->schema); },
                               "Property, Telemetry: its Schema (str() describes it); else None")
        .def_property_readonly("writable", [](const ContentView& c) { return c.content->writable; },
                               "Property, Relationship")
        .def_property_readonly("unit", [](const ContentView& c) { return text_or_none(c.content->annotations.unit); },
                               "unit of its semantic type, else None")
        .def_property_readonly("semantic_types", [](const ContentView& c) { return c.content->annotations.extra_types; },
                               "co-types beyond its class, as written (semantic types such as \"Temperature\")")
        .def_property_readonly("display_name",
                               [](const ContentView& c) { return text_or_none(dtdl::localized(c.content->annotations.display_name)); })
        .def_property_readonly("description",
                               [](const ContentView& c) { return text_or_none(dtdl::localized(c.content->annotations.description)); })
        .def_property_readonly("target", [](const ContentView& c) { return text_or_none(c.content->target); },
                               "Relationship: the target interface's DTMI, None = any twin")
        .def_property_readonly("min_multiplicity", [](const ContentView& c) { return optional_value(c.content->min_multiplicity); })
        .def_property_readonly("max_multiplicity", [](const ContentView& c) { return optional_value(c.content->max_multiplicity); })
        .def_property_readonly("properties",
                               [](const ContentView& c) {
                                   std::vector<ContentView> props;
                                   for (const Content& p : c.content->properties) props.push_back({c.model, &p, {}});
                                   return props;
                               },
                               "Relationship: its properties")
        .def_property_readonly("component_interface",
                               [](const ContentView& c) { return text_or_none(c.content->component_interface); },
                               "Component: DTMI of the component's Interface")
        .def_property_readonly("request", [payload](const ContentView& c) { return payload(c, c.content->request); })
        .def_property_readonly("response", [payload](const ContentView& c) { return payload(c, c.content->response); })
        .def("__repr__", [](const ContentView& c) {
            std::string text = std::string("Content(") + dtdl::to_string(c.content->kind) + " " + repr_of(c.content->name);
            if (c.content->schema) text += ": " + dtdl::describe_schema(c.content->schema);
            if (!c.declared_in.empty()) text += ", declared_in=" + repr_of(c.declared_in);
            return text + ")";
        });

    py::class_<SlotView>(m, "PropertySlot", "One column of an interface's property table (its flattened Properties).")
        .def_property_readonly("name", [](const SlotView& s) { return s.slot->name; })
        .def_property_readonly("column", [](const SlotView& s) { return s.slot->column; }, "position in the table")
        .def_property_readonly("type", [](const SlotView& s) { return dtdl::to_string(s.slot->type); },
                               "column type: \"boolean\", \"int64\", \"float64\", \"string\" or \"json\"")
        .def_property_readonly("declared_in", [](const SlotView& s) { return s.slot->declared_in; })
        .def_property_readonly("writable", [](const SlotView& s) { return s.slot->writable; })
        .def("__repr__", [](const SlotView& s) {
            return "PropertySlot(" + std::to_string(s.slot->column) + ", " + repr_of(s.slot->name) + ", " +
                   dtdl::to_string(s.slot->type) + ")";
        });

    py::class_<InterfaceView>(m, "Interface", "An interface of a ModelSet with its inheritance resolved.")
        .def_property_readonly("id", [](const InterfaceView& v) { return v.iface->definition->id; }, "its DTMI")
        .def_property_readonly("display_name",
                               [](const InterfaceView& v) { return text_or_none(dtdl::localized(v.iface->definition->annotations.display_name)); },
                               "English displayName (else the first language's), None when absent")
        .def_property_readonly("description",
                               [](const InterfaceView& v) { return text_or_none(dtdl::localized(v.iface->definition->annotations.description)); })
        .def_property_readonly("file", [](const InterfaceView& v) { return v.iface->definition->file; },
                               "the document it came from")
        .def_property_readonly("dtdl_version", [](const InterfaceView& v) { return static_cast<int>(v.iface->definition->version); })
        .def_property_readonly("bases", [](const InterfaceView& v) { return dtdl::interface_ids(*v.model, v.iface->bases); },
                               "DTMIs of the direct bases (extends), in declaration order")
        .def_property_readonly("ancestors", [](const InterfaceView& v) { return dtdl::interface_ids(*v.model, v.iface->ancestors); },
                               "DTMIs of all transitive bases, nearest first, no duplicates")
        .def_property_readonly("contents", [](const InterfaceView& v) { return contents_of(v); },
                               "own and inherited contents (list of Content), unique names")
        .def_property_readonly("properties", [](const InterfaceView& v) { return contents_of(v, dtdl::ContentKind::property); })
        .def_property_readonly("telemetry", [](const InterfaceView& v) { return contents_of(v, dtdl::ContentKind::telemetry); })
        .def_property_readonly("commands", [](const InterfaceView& v) { return contents_of(v, dtdl::ContentKind::command); })
        .def_property_readonly("relationships", [](const InterfaceView& v) { return contents_of(v, dtdl::ContentKind::relationship); })
        .def_property_readonly("components", [](const InterfaceView& v) { return contents_of(v, dtdl::ContentKind::component); })
        .def("content",
             [](const InterfaceView& v, std::string_view name) {
                 const Content* c = v.iface->find(name);
                 if (c == nullptr) throw py::key_error("interface " + v.iface->definition->id + " has no content named " + std::string(name));
                 return ContentView{v.model, c, dtdl::declared_in(*v.model, *v.iface, name)};
             },
             py::arg("name"), "Content by name (own or inherited). Raises KeyError when there is none.")
        .def_property_readonly("layout",
                               [](const InterfaceView& v) {
                                   std::vector<SlotView> slots;
                                   for (const dtdl::PropertySlot& s : v.iface->layout.slots) slots.push_back({v.model, &s});
                                   return slots;
                               },
                               "the flattened Properties as typed columns (list of PropertySlot)")
        .def("to_dict", [](const InterfaceView& v) { return to_python(dtdl::interface_json(*v.model, *v.iface)); },
             "Everything `twinsim describe --json` shows about this interface, as a dict.")
        .def("__repr__", [](const InterfaceView& v) {
            std::string text = "Interface(" + repr_of(v.iface->definition->id);
            if (auto name = dtdl::localized(v.iface->definition->annotations.display_name); !name.empty()) text += ", " + repr_of(name);
            return text + ", " + std::to_string(v.iface->contents.size()) + " contents)";
        });

    py::class_<ModelSet, std::shared_ptr<ModelSet>>(
        m, "ModelSet",
        "The compiled DTDL model: interfaces with inheritance flattened, property layouts and an O(1) is-a test. "
        "Immutable. Build one with ModelSet.from_files() or ModelSet.from_json().")
        .def_static(
            "from_files",
            [](const py::object& paths, bool allow_undefined_extensions, const py::object& resolver) {
                const std::vector<std::filesystem::path> files = to_paths(paths);
                auto failure = std::make_shared<std::exception_ptr>();
                const dtdl::ParseOptions options = parse_options(allow_undefined_extensions, resolver, failure);
                return compile_released([&] { return ModelSet::from_files(files, options); }, failure);
            },
            py::arg("paths"), py::arg("allow_undefined_extensions") = false, py::arg("resolver") = py::none(),
            "Reads DTDL files and folders (folders recursively, *.json, in sorted order; a file holds one interface or "
            "an array of them), then parses, validates and compiles them as one model set.\n\n"
            "paths: a str or os.PathLike, or a list of them.\n"
            "allow_undefined_extensions: accept extension contexts, types and members no known extension defines.\n"
            "resolver: called as resolver(unresolved_ids) with the identifiers no document defines; returns documents "
            "(a str of JSON, a dict, a list of them, or None). Called again while it makes progress; an exception it "
            "raises propagates.\n\n"
            "Raises TwinsimIoError for a missing or unreadable path, ModelError when the set is invalid or incomplete.")
        .def_static(
            "from_json",
            [](const py::object& documents, bool allow_undefined_extensions, const py::object& resolver) {
                std::size_t counter = 0;
                const std::vector<dtdl::Document> docs = to_documents(documents, "document", counter);
                auto failure = std::make_shared<std::exception_ptr>();
                const dtdl::ParseOptions options = parse_options(allow_undefined_extensions, resolver, failure);
                return compile_released([&] { return ModelSet::compile(docs, options); }, failure);
            },
            py::arg("documents"), py::arg("allow_undefined_extensions") = false,
            py::arg("resolver") = py::none(),
            "Parses, validates and compiles in-memory DTDL documents as one model set.\n\n"
            "documents: a str of JSON text, a dict, or a list of them; each holds one interface or an array of them. "
            "Errors name them \"<document N>\" (N = position in the list, from 0) and resolver output "
            "\"<resolved N>\".\n"
            "allow_undefined_extensions, resolver: as for from_files().\n\n"
            "Raises ModelError when the set is invalid or incomplete.")
        .def_property_readonly(
            "interfaces",
            [](const ModelSet& model) {
                std::vector<std::string> ids;
                ids.reserve(model.size());
                for (const CompiledInterface& c : model.interfaces()) ids.push_back(c.definition->id);
                return ids;
            },
            "DTMIs of all interfaces, sorted")
        .def("__len__", &ModelSet::size)
        .def("__contains__", [](const ModelSet& model, const py::object& dtmi) {
            return py::isinstance<py::str>(dtmi) && model.find(dtmi.cast<std::string>()).has_value();
        })
        .def("__iter__", [](const ModelSet& model) {
            py::list ids;
            for (const CompiledInterface& c : model.interfaces()) ids.append(c.definition->id);
            return py::iter(ids);
        })
        .def("interface",
             [](const std::shared_ptr<ModelSet>& model, std::string_view dtmi) { return interface_view(model, dtmi); },
             py::arg("dtmi"), "Interface by DTMI. Raises KeyError naming the id when unknown.")
        .def("is_a", py::overload_cast<std::string_view, std::string_view>(&ModelSet::is_a, py::const_),
             py::arg("derived"), py::arg("base"),
             "True when `derived` is `base` or extends it, directly or not; False when either is unknown.")
        .def(
            "validate_value",
            [](const std::shared_ptr<ModelSet>& model, std::string_view interface_id, std::string_view property_name,
               const py::object& value) {
                const InterfaceView view = interface_view(model, interface_id);
                const Content* content = view.iface->find(property_name);
                if (content == nullptr || !content->schema) {
                    throw py::key_error("interface " + std::string(interface_id) + " has no property or telemetry named " +
                                        std::string(property_name));
                }
                std::vector<py::tuple> problems;
                for (const dtdl::ValueError& e : dtdl::validate_value(*content->schema, to_json(value))) {
                    problems.push_back(py::make_tuple(e.path, e.message));
                }
                return problems;
            },
            py::arg("interface_id"), py::arg("property_name"), py::arg("value"),
            "Checks a value (None, bool, int, float, str, list, dict) against the schema of a property or telemetry of "
            "an interface (own or inherited). Returns every problem as a (path, message) tuple, path a JSON Pointer "
            "into the value; an empty list when it conforms. Raises KeyError for an unknown interface or name.")
        .def_property_readonly("warnings", &ModelSet::warnings, "Warnings (SHOULD/RECOMMENDED) found while parsing.")
        .def("__repr__", [](const ModelSet& model) {
            return "<twinsim.ModelSet with " + std::to_string(model.size()) + (model.size() == 1 ? " interface>" : " interfaces>");
        });
}

}  // namespace twinsim::python
