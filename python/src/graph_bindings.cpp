// TwinGraph and Snapshot, with the method and argument names of the Azure Digital
// Twins Python SDK's DigitalTwinsClient (azure-digitaltwins-core), so code written
// against ADT runs against a local graph.
//
// GIL: every call that takes the graph's mutex releases the GIL first. That is
// not only for speed: a listener runs with the GIL held on the writer's thread,
// so a thread that waited for the mutex while holding the GIL would deadlock
// against it. Snapshot reads take no lock; the snapshot-wide ones (column,
// export, list_models) release the GIL too.

#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "document_arguments.hpp"
#include "json_conversion.hpp"
#include "text_argument.hpp"
#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/dtdl/parser.hpp"
#include "twinsim/graph/adt_api.hpp"
#include "twinsim/graph/change_event.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/snapshot.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/graph/twin_graph.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

using graph::Snapshot;
using graph::TwinGraph;

// --- listeners may not call back into their own graph --------------------------------

// The graph whose listeners this thread is running (nullptr: none). A listener
// runs while the graph commits a change; the C++ API forbids it to modify the
// graph, so a write from a callback raises RuntimeError with a clear message
// before the GIL is released. Reads are fine (see snapshot_of).
thread_local const TwinGraph* notifying_graph = nullptr;

class NotifyingScope {
public:
    explicit NotifyingScope(const TwinGraph* graph) : previous_(notifying_graph) { notifying_graph = graph; }
    NotifyingScope(const NotifyingScope&) = delete;
    NotifyingScope& operator=(const NotifyingScope&) = delete;
    ~NotifyingScope() { notifying_graph = previous_; }

private:
    const TwinGraph* previous_;
};

void refuse_from_listener(const TwinGraph& graph) {
    if (notifying_graph == &graph) {
        throw std::runtime_error(
            "a TwinGraph listener must not call its own graph: the change it reports is being committed "
            "(use the event's data, or act after the write returns)");
    }
}

// --- arguments ---------------------------------------------------------------------

/// twinsim.MatchConditions, azure.core.MatchConditions (anything with the
/// member's .name) or the name as a str; nullopt for None (adt::effective_condition
/// decides what no condition means).
std::optional<graph::adt::MatchCondition> match_of(const py::object& match_condition) {
    if (match_condition.is_none()) return std::nullopt;
    std::string name;
    if (py::isinstance<py::str>(match_condition)) {
        name = match_condition.cast<std::string>();
    } else if (py::hasattr(match_condition, "name") && py::isinstance<py::str>(match_condition.attr("name"))) {
        name = match_condition.attr("name").cast<std::string>();
    } else {
        throw py::type_error("match_condition must be a MatchConditions member (or its name), not " +
                             py::repr(match_condition).cast<std::string>());
    }
    const auto condition = graph::adt::parse_match_condition(name);
    if (!condition) throw py::value_error("unknown match_condition " + py::repr(match_condition).cast<std::string>());
    return condition;
}

/// The condition of an upsert (create or replace).
graph::WriteCondition upsert_condition(const py::object& match_condition, const std::optional<std::string>& etag) {
    return graph::adt::upsert_condition(match_of(match_condition), etag);
}

/// The If-Match of an update or delete.
std::optional<std::string> if_match_of(const py::object& match_condition, const std::optional<std::string>& etag) {
    return graph::adt::if_match(match_of(match_condition), etag);
}

nlohmann::json json_object_argument(py::handle value, const char* name) {
    if (!PyDict_Check(value.ptr())) {
        throw py::type_error(std::string(name) + " must be a dict, not " +
                             py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>());
    }
    return to_json(value);
}

nlohmann::json json_patch_argument(py::handle value) {
    if (!PyList_Check(value.ptr()) && !PyTuple_Check(value.ptr())) {
        throw py::type_error("json_patch must be a list of operations (dicts with op, path and value), not " +
                             py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>());
    }
    return to_json(value);
}

// --- results -----------------------------------------------------------------------

py::object graph_module() { return py::module_::import("twinsim.graph"); }

py::object model_data(const graph::ModelInfo& info, bool include_model_definition, const py::object& type) {
    const nlohmann::json data = graph::adt::model_data(info, include_model_definition);
    py::dict out;  // in the REST API's key order (nlohmann::json sorts its keys)
    for (const char* key : {"id", "displayName", "description", "uploadTime", "decommissioned", "model"}) {
        const auto it = data.find(key);
        if (it != data.end()) out[key] = to_python(*it);
    }
    return type(out);
}

py::object list_models(const Snapshot& snapshot, const py::object& dependencies_for, bool include_model_definition) {
    std::vector<graph::ModelInfo> infos;
    if (dependencies_for.is_none()) {
        py::gil_scoped_release release;
        infos = snapshot.list_models();
    } else {
        if (py::isinstance<py::str>(dependencies_for)) throw py::type_error("dependencies_for must be a list of model ids, not a str");
        const auto ids = dependencies_for.cast<std::vector<std::string>>();
        py::gil_scoped_release release;
        infos = graph::adt::dependencies_for(snapshot, ids);
    }
    const py::object type = graph_module().attr("DigitalTwinsModelData");
    py::list out;
    for (const graph::ModelInfo& info : infos) out.append(model_data(info, include_model_definition, type));
    return out;
}

py::list json_list(const std::vector<nlohmann::json>& items, const py::object& type = py::object()) {
    py::list out;
    for (const nlohmann::json& item : items) out.append(type ? type(to_python(item)) : to_python(item));
    return out;
}

/// A read-only float64 array that owns `values` (moved, not copied).
py::array_t<double> read_only_array(std::vector<double>&& values) {
    auto* owned = new std::vector<double>(std::move(values));
    py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<double>*>(p); });
    // Shape and strides spelled out: pybind11 2.10's array_t(count, ptr, base)
    // builds the array with a zero stride (every element reads the first).
    const std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(owned->size())};
    const std::vector<py::ssize_t> strides{static_cast<py::ssize_t>(sizeof(double))};
    py::array_t<double> array(shape, strides, owned->data(), owner);
    array.attr("setflags")(py::arg("write") = false);
    return array;
}

py::object column(const Snapshot& snapshot, const std::string& model_id, const std::string& property, bool include_derived) {
    graph::NumericColumn gathered;
    {
        py::gil_scoped_release release;
        gathered = snapshot.numeric_column(model_id, property, include_derived);
    }
    py::list ids(gathered.twins.size());
    for (std::size_t i = 0; i < gathered.twins.size(); ++i) {
        const std::string& id = snapshot.twin_id(gathered.twins[i]);
        PyObject* text = PyUnicode_DecodeUTF8(id.data(), static_cast<Py_ssize_t>(id.size()), "replace");
        if (text == nullptr) throw py::error_already_set();
        PyList_SET_ITEM(ids.ptr(), static_cast<Py_ssize_t>(i), text);
    }
    py::object unit = gathered.unit.empty() ? py::object(py::none()) : py::object(py::str(gathered.unit));
    return graph_module().attr("Column")(ids, read_only_array(std::move(gathered.values)), unit);
}

py::dict event_dict(const graph::ChangeEvent& event) {
    py::dict out;
    out["type"] = graph::event_type(event.type);
    out["subject"] = event.subject;
    out["twin_id"] = event.twin_id;
    out["relationship_id"] = event.relationship_id.empty() ? py::object(py::none()) : py::object(py::str(event.relationship_id));
    out["time"] = format_timestamp(event.time);
    out["sequence"] = event.sequence;
    out["data"] = to_python(event.data);
    return out;
}

// --- the read methods shared by Snapshot and TwinGraph ---------------------------------

const Snapshot& snapshot_of(const Snapshot& snapshot) { return snapshot; }

// Reads are allowed from a listener: it runs on the writer's thread, which
// already holds the graph's (recursive) mutex, and sees the committed change.
Snapshot snapshot_of(const TwinGraph& graph) {
    py::gil_scoped_release release;
    return graph.snapshot();
}

void export_to(const Snapshot& snapshot, const py::object& path) {
    const std::filesystem::path file = to_path(path);
    py::gil_scoped_release release;
    graph::export_ndjson(snapshot, file);
}

template <class Class>
void define_reads(Class& cls, const char* what) {
    using T = typename Class::type;
    const std::string of = std::string(" of this ") + what;
    cls.def("get_model",
            [](const T& self, const std::string& model_id, bool include_model_definition) {
                const graph::ModelInfo info = snapshot_of(self).get_model(model_id);
                return model_data(info, include_model_definition, graph_module().attr("DigitalTwinsModelData"));
            },
            py::arg("model_id"), py::kw_only(), py::arg("include_model_definition") = false,
            "A model as a DigitalTwinsModelData (a dict with keys id, displayName, description, uploadTime, "
            "decommissioned and, with include_model_definition=True, model: the DTDL interface as uploaded). "
            "Raises NotFoundError (code ModelNotFound).")
        .def("list_models",
             [](const T& self, const py::object& dependencies_for, bool include_model_definition,
                const py::object& /*results_per_page*/) {
                 return list_models(snapshot_of(self), dependencies_for, include_model_definition);
             },
             py::arg("dependencies_for") = py::none(), py::kw_only(), py::arg("include_model_definition") = false,
             py::arg("results_per_page") = py::none(),
             "Every model (DigitalTwinsModelData, as get_model), or with dependencies_for (a list of model ids) those "
             "models and, transitively, the interfaces they extend or use as components.\n\n"
             "Returns a list, not the SDK's pager (iterating it works the same; results_per_page is accepted and "
             "ignored). Raises NotFoundError for an unknown id in dependencies_for.")
        .def("get_digital_twin",
             [](const T& self, const Text& digital_twin_id) {
                 if constexpr (std::is_same_v<T, TwinGraph>) {
                     nlohmann::json twin;
                     {
                         py::gil_scoped_release release;
                         twin = self.get_twin(digital_twin_id);
                     }
                     return to_python(twin);
                 } else {
                     return to_python(self.get_twin(digital_twin_id));
                 }
             },
             py::arg("digital_twin_id"),
             "The twin as ADT JSON (a dict): $dtId, $etag, $metadata ($model, $lastUpdateTime, per property "
             "lastUpdateTime and sourceTime), the properties that are set, and its components. "
             "Raises NotFoundError (code DigitalTwinNotFound).")
        .def("get_component",
             [](const T& self, const Text& digital_twin_id, const std::string& component_name) {
                 return to_python(graph::adt::get_component(snapshot_of(self), digital_twin_id, component_name));
             },
             py::arg("digital_twin_id"), py::arg("component_name"),
             "One component of a twin as a dict (its properties and $metadata). Raises NotFoundError for an unknown "
             "twin (DigitalTwinNotFound) or component (ComponentNotFound).")
        .def("get_relationship",
             [](const T& self, const Text& digital_twin_id, const Text& relationship_id) {
                 return to_python(snapshot_of(self).get_relationship(digital_twin_id, relationship_id));
             },
             py::arg("digital_twin_id"), py::arg("relationship_id"),
             "A relationship as ADT JSON: $relationshipId, $sourceId, $targetId, $relationshipName, $etag and its "
             "properties. Raises NotFoundError (DigitalTwinNotFound or RelationshipNotFound).")
        .def("list_relationships",
             [](const T& self, const Text& digital_twin_id, const std::optional<std::string>& relationship_id) {
                 return json_list(snapshot_of(self).list_relationships(digital_twin_id, relationship_id.value_or("")));
             },
             py::arg("digital_twin_id"), py::arg("relationship_id") = py::none(),
             "The twin's outgoing relationships (a list of dicts, as get_relationship).\n\n"
             "relationship_id: despite its name (kept from the SDK, which sends it as relationshipName), a relationship "
             "NAME such as \"contains\": only relationships of that name are listed. None lists all.\n"
             "Returns a list, not a pager. Raises NotFoundError for an unknown twin.")
        .def("list_incoming_relationships",
             [](const T& self, const Text& digital_twin_id) {
                 return json_list(snapshot_of(self).list_incoming_relationships(digital_twin_id),
                                  graph_module().attr("IncomingRelationship"));
             },
             py::arg("digital_twin_id"),
             "The relationships that target this twin, as a list of IncomingRelationship (dicts with keys "
             "$relationshipId, $sourceId, $relationshipName, $relationshipLink; attributes relationship_id, "
             "source_id, relationship_name, relationship_link). Raises NotFoundError for an unknown twin.")
        .def("column",
             [](const T& self, const std::string& model_id, const std::string& property, bool include_derived) {
                 return column(snapshot_of(self), model_id, property, include_derived);
             },
             py::arg("model_id"), py::arg("property"), py::arg("include_derived") = true,
             ("A numeric property over the twins of a model" + of +
              ", as a Column: `ids, values = column(...)`, ids a list of twin ids in twin-index order, values a "
              "read-only numpy float64 array of the same length (integers and booleans converted), .unit the DTDL "
              "unit or None. Twins whose property is unset are left out. include_derived: also the twins of models "
              "that extend model_id. Raises NotFoundError for an unknown model, ValidationError when the property is "
              "not declared or not numeric. The GIL is released while values are gathered.")
                 .c_str())
        .def("to_ndjson", [](const T& self, const py::object& path) { export_to(snapshot_of(self), path); },
             py::arg("path"),
             "Writes the models, twins and relationships in the ADT import-job NDJSON format (a temporary file renamed "
             "when complete); TwinGraph.from_ndjson(path) reproduces them. Releases the GIL. Raises TwinsimIoError.")
        .def_property_readonly("models",
                               [](const T& self) {
                                   return std::const_pointer_cast<dtdl::ModelSet>(snapshot_of(self).models());
                               },
                               "The compiled ModelSet of every uploaded model (decommissioned included).")
        .def_property_readonly("relationship_count",
                               [](const T& self) { return snapshot_of(self).relationship_count(); },
                               "Number of relationships.")
        .def("__len__", [](const T& self) { return snapshot_of(self).twin_count(); }, "Number of twins.")
        .def("__contains__",
             [](const T& self, const py::object& digital_twin_id) {
                 return py::isinstance<py::str>(digital_twin_id) &&
                        snapshot_of(self).contains(digital_twin_id.cast<std::string>());
             },
             "True when a twin with this id exists.")
        .def("__iter__",
             [](const T& self) {
                 const auto snapshot = snapshot_of(self);
                 py::list ids;
                 for (const graph::TwinIndex twin : snapshot.twins()) ids.append(snapshot.twin_id(twin));
                 return py::iter(ids);
             },
             "Iterates over the twin ids (in twin-index order; for a TwinGraph, as of the call).");
}

// --- TwinGraph mutations ----------------------------------------------------------------

/// Runs `write` on the graph without the GIL (listeners take it back).
template <class Write>
decltype(auto) write_released(TwinGraph& graph, Write&& write) {
    refuse_from_listener(graph);
    py::gil_scoped_release release;
    return write();
}

// --- batched writes (twinsim extensions beyond the ADT SDK) ---------------------------

/// update_digital_twins' argument: (digital_twin_id, json_patch[, etag]) tuples
/// or {"digital_twin_id", "json_patch", "etag"?} dicts.
std::vector<graph::TwinPatch> twin_patches_argument(const py::handle& patches) {
    if (py::isinstance<py::str>(patches) || py::isinstance<py::dict>(patches) || !py::isinstance<py::iterable>(patches))
        throw py::type_error("patches must be a list of (digital_twin_id, json_patch[, etag]) tuples or dicts");
    std::vector<graph::TwinPatch> out;
    std::size_t i = 0;
    for (const py::handle item : patches) {
        const std::string where = "patches[" + std::to_string(i++) + "]";
        graph::TwinPatch patch;
        py::object id;
        py::object json_patch;
        py::object etag = py::none();
        if (py::isinstance<py::dict>(item)) {
            const py::dict d = py::reinterpret_borrow<py::dict>(item);
            for (const auto& [key, value] : d) {
                const std::string name = py::str(key).cast<std::string>();
                if (name == "digital_twin_id") id = py::reinterpret_borrow<py::object>(value);
                else if (name == "json_patch") json_patch = py::reinterpret_borrow<py::object>(value);
                else if (name == "etag") etag = py::reinterpret_borrow<py::object>(value);
                else throw py::type_error(where + ": unknown key " + py::repr(key).cast<std::string>() +
                                          " (expected digital_twin_id, json_patch, etag)");
            }
            if (!id || !json_patch) throw py::type_error(where + ": a dict needs digital_twin_id and json_patch");
        } else if (py::isinstance<py::tuple>(item) || py::isinstance<py::list>(item)) {
            const py::sequence t = py::reinterpret_borrow<py::sequence>(item);
            if (t.size() != 2 && t.size() != 3)
                throw py::type_error(where + ": expected (digital_twin_id, json_patch[, etag]), got " +
                                     std::to_string(t.size()) + " items");
            id = t[0];
            json_patch = t[1];
            if (t.size() == 3) etag = t[2];
        } else {
            throw py::type_error(where + ": expected a (digital_twin_id, json_patch[, etag]) tuple or a dict, not " +
                                 py::str(py::type::handle_of(item).attr("__name__")).cast<std::string>());
        }
        if (!py::isinstance<py::str>(id)) throw py::type_error(where + ": digital_twin_id must be a str");
        patch.twin_id = id.cast<std::string>();
        patch.patch = json_patch_argument(json_patch);
        if (!etag.is_none()) {
            if (!py::isinstance<py::str>(etag)) throw py::type_error(where + ": etag must be a str or None");
            patch.if_match = etag.cast<std::string>();
        }
        out.push_back(std::move(patch));
    }
    return out;
}

/// `twin "<id>"` (appended, not "literal" + std::string: GCC 12's false -Wrestrict).
std::string twin_named(const std::string& id) {
    std::string out = "twin \"";
    out += id;
    out += '"';
    return out;
}

/// write_properties: one numeric property of many twins of a model (or of
/// models derived from it), by id. Ids are resolved, and the property's column
/// found once per twin model, inside one atomic change with the GIL released,
/// so no other writer can delete or replace a twin in between.
void write_properties(TwinGraph& graph, const std::string& model_id, const std::string& property,
                      const py::object& twin_ids, const py::object& values) {
    if (py::isinstance<py::str>(twin_ids)) throw py::type_error("twin_ids must be a sequence of twin ids, not a str");
    std::vector<std::string> ids;
    for (const py::handle id : twin_ids) {
        if (!py::isinstance<py::str>(id))
            throw py::type_error("twin_ids must hold str, not " +
                                 py::str(py::type::handle_of(id).attr("__name__")).cast<std::string>());
        ids.push_back(id.cast<std::string>());
    }
    const auto array = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(values);
    if (!array || array.ndim() != 1)
        throw py::type_error("values must be a one-dimensional sequence or array of numbers");
    if (static_cast<std::size_t>(array.shape(0)) != ids.size())
        throw py::value_error("twin_ids and values differ in length (" + std::to_string(ids.size()) + " and " +
                              std::to_string(array.shape(0)) + ")");
    const double* data = array.data();
    write_released(graph, [&] {
        graph.atomically([&](TwinGraph& g) {
            const Snapshot now = g.snapshot();
            const auto& models = now.models();
            const auto base = models ? models->find(model_id) : std::nullopt;
            if (!base) throw graph::NotFoundError("ModelNotFound", std::string("model ").append(model_id).append(" does not exist"));
            const dtdl::PropertySlot* slot = models->at(*base).layout.find(property);
            if (slot == nullptr)
                throw graph::ValidationError("ValidationFailed", model_id + ": " + property + " is not a property of the model");
            // The property's column in each twin model seen (-1: not yet resolved).
            std::vector<std::int64_t> column_of(models->size(), -1);
            std::vector<graph::PropertyWrite> writes(ids.size());
            for (std::size_t i = 0; i < ids.size(); ++i) {
                const auto twin = now.find(ids[i]);
                if (!twin) throw graph::NotFoundError("DigitalTwinNotFound", twin_named(ids[i]).append(" does not exist"));
                const dtdl::InterfaceIndex model = now.twin_model(*twin);
                std::int64_t& column = column_of[model];
                if (column < 0) {
                    const dtdl::PropertySlot* own = models->is_a(model, *base) ? models->at(model).layout.find(property) : nullptr;
                    if (own == nullptr)
                        throw graph::ValidationError("ValidationFailed",
                                                     twin_named(ids[i]) + " has model " + models->at(model).definition->id +
                                                         ", which is neither " + model_id + " nor derived from it");
                    column = own->column;
                }
                writes[i] = graph::PropertyWrite{*twin, static_cast<std::uint32_t>(column), data[i], std::nullopt};
            }
            g.write_properties(writes);
        });
    });
}

TwinGraph::ListenerId subscribe(TwinGraph& graph, const py::object& callback) {
    if (!PyCallable_Check(callback.ptr())) throw py::type_error("callback must be callable");
    // Copies of the std::function may be made or dropped without the GIL: they
    // share this one Python reference, released with the GIL held.
    std::shared_ptr<py::object> function(new py::object(callback), [](py::object* p) {
        py::gil_scoped_acquire gil;
        delete p;
    });
    const TwinGraph* owner = &graph;
    graph::ChangeListener listener = [function, owner](const graph::ChangeEvent& event) {
        py::gil_scoped_acquire gil;
        NotifyingScope scope(owner);
        try {
            (*function)(event_dict(event));
        } catch (py::error_already_set& error) {
            // The change is committed; the writer is not the place to report a
            // listener's failure. Python reports it as for any callback
            // (sys.unraisablehook; pytest turns it into a warning).
            error.discard_as_unraisable(*function);
        }
    };
    return write_released(graph, [&] { return graph.subscribe(std::move(listener)); });
}

std::unique_ptr<TwinGraph> from_ndjson(const py::object& path, const py::object& models) {
    const std::filesystem::path file = to_path(path);
    const std::vector<std::filesystem::path> model_paths = models.is_none() ? std::vector<std::filesystem::path>{} : to_paths(models);
    auto graph = std::make_unique<TwinGraph>();
    py::gil_scoped_release release;
    if (!model_paths.empty()) {
        const std::vector<dtdl::Document> documents = dtdl::read_documents(model_paths);
        graph->add_models(documents);
    }
    graph::import_ndjson(*graph, file);
    return graph;
}

py::dict stats_dict(const graph::ImportStats& stats) {
    return py::dict(py::arg("models") = stats.models, py::arg("twins") = stats.twins,
                    py::arg("relationships") = stats.relationships, py::arg("lines") = stats.lines,
                    py::arg("bytes") = stats.bytes);
}

constexpr const char* condition_doc =
    "etag, match_condition: as the SDK's keyword arguments. match_condition is a MatchConditions member "
    "(twinsim's or azure.core's) or its name: IfNotModified applies only if the current etag equals etag "
    "(else ConflictError, code PreconditionFailed), IfPresent only if it exists, Unconditionally always. "
    "Unlike the SDK, an etag given without match_condition means IfNotModified (the SDK silently ignores it).";

}  // namespace

void define_graph(py::module_& m) {
    py::class_<Snapshot> snapshot(
        m, "Snapshot",
        "An immutable, consistent view of a TwinGraph at one moment (graph.snapshot()). Taking one costs the same "
        "whatever the graph's size; later writes to the graph never show in it. It has the graph's read methods "
        "(get_digital_twin, get_relationship, list_relationships, list_incoming_relationships, get_model, "
        "list_models, get_component, column), len(), `id in snapshot` and iteration over twin ids. Safe to read "
        "from many threads at once.");
    define_reads(snapshot, "snapshot");
    snapshot.def("__copy__", [](const Snapshot& self) { return self; })
        .def("__deepcopy__", [](const Snapshot& self, const py::object&) { return self; }, py::arg("memo"))
        .def("__repr__", [](const Snapshot& self) {
            return "<twinsim.Snapshot with " + std::to_string(self.twin_count()) + " twins, " +
                   std::to_string(self.relationship_count()) + " relationships>";
        });

    py::class_<TwinGraph> graph(
        m, "TwinGraph",
        "The live graph of twins and relationships, with the methods and argument names of the Azure Digital Twins "
        "SDK's DigitalTwinsClient (create_models, get_model, list_models, decommission_model, delete_model, "
        "upsert_digital_twin, get_digital_twin, update_digital_twin, delete_digital_twin, get_component, "
        "update_component, upsert_relationship, get_relationship, update_relationship, delete_relationship, "
        "list_relationships, list_incoming_relationships). Lists come back as lists, not pagers.\n\n"
        "Every write is validated against the models, applies whole or not at all, changes the twin's $etag and "
        "notifies the subscribed callbacks. Errors: NotFoundError (also a LookupError), ConflictError, "
        "ValidationError (also a ValueError), ModelError; each has .code, the ADT error code.");
    define_reads(graph, "graph");
    graph.def(py::init([] { return std::make_unique<TwinGraph>(); }), "An empty graph with no models.")
        .def_static("from_ndjson", &from_ndjson, py::arg("path"), py::arg("models") = py::none(),
                    "A new graph loaded from an ADT import-job NDJSON file (Header, Models, Twins, Relationships "
                    "sections; models ordered by dependency automatically).\n\n"
                    "models: DTDL files or folders (a path or a list of them) added before the file, for files "
                    "without a Models section.\n"
                    "Releases the GIL. Raises GraphImportError (.problems: every bad line as (line, section, "
                    "message)), ModelError for invalid models, TwinsimIoError for an unreadable file.")
        .def("import_ndjson",
             [](TwinGraph& self, const py::object& path) {
                 const std::filesystem::path file = to_path(path);
                 return stats_dict(write_released(self, [&] { return graph::import_ndjson(self, file); }));
             },
             py::arg("path"),
             "Loads an NDJSON import file into this graph, atomically (on any problem nothing changes). Returns "
             "{models, twins, relationships, lines, bytes}. Releases the GIL. Raises as from_ndjson.")
        .def("snapshot", [](const TwinGraph& self) { return snapshot_of(self); },
             "A Snapshot of the graph now: O(number of models' columns), independent of the number of twins.")
        // --- models
        .def("create_models",
             [](TwinGraph& self, const py::object& dtdl_models) {
                 std::size_t counter = 0;
                 const std::vector<dtdl::Document> documents = to_documents(dtdl_models, "model", counter);
                 std::vector<graph::ModelInfo> added;
                 write_released(self, [&] {
                     const std::vector<std::string> ids = self.add_models(documents);
                     const Snapshot now = self.snapshot();
                     for (const std::string& id : ids) added.push_back(now.get_model(id));
                 });
                 const py::object type = graph_module().attr("DigitalTwinsModelData");
                 py::list out;
                 for (const graph::ModelInfo& info : added) out.append(model_data(info, false, type));
                 return out;
             },
             py::arg("dtdl_models"),
             "Adds DTDL interfaces (a list of dicts, or JSON strings), all or nothing; they may reference each other "
             "and models already added. Returns the new models as DigitalTwinsModelData (without definitions). "
             "Raises ModelError (invalid or incomplete DTDL; errors name \"<model N>\"), ConflictError "
             "(ModelAlreadyExists).")
        .def("decommission_model",
             [](TwinGraph& self, const std::string& model_id) {
                 write_released(self, [&] { self.decommission_model(model_id); });
             },
             py::arg("model_id"), "No new twins of this model may be created. Raises NotFoundError (ModelNotFound).")
        .def("delete_model",
             [](TwinGraph& self, const std::string& model_id) { write_released(self, [&] { self.delete_model(model_id); }); },
             py::arg("model_id"),
             "Removes a model. Raises NotFoundError; ConflictError (ModelReferencesNotDeleted) while a twin has it "
             "or another model extends or uses it.")
        // --- twins
        .def("upsert_digital_twin",
             [](TwinGraph& self, const Text& digital_twin_id, const py::object& digital_twin,
                const std::optional<std::string>& etag, const py::object& match_condition) {
                 const nlohmann::json twin = json_object_argument(digital_twin, "digital_twin");
                 const graph::WriteCondition condition = upsert_condition(match_condition, etag);
                 const nlohmann::json stored =
                     write_released(self, [&] { return self.upsert_twin(digital_twin_id, twin, condition); });
                 return to_python(stored);
             },
             py::arg("digital_twin_id"), py::arg("digital_twin"), py::kw_only(), py::arg("etag") = py::none(),
             py::arg("match_condition") = py::none(),
             (std::string("Creates or replaces a twin from ADT JSON ($metadata.$model required; every component "
                          "present). Returns the stored twin (with its new $etag).\n\nmatch_condition=IfMissing "
                          "creates only (ConflictError DigitalTwinAlreadyExists when the id exists). ") +
              condition_doc +
              "\nRaises ValidationError (unknown or decommissioned model, undeclared property, wrong type, missing "
              "component), ConflictError, NotFoundError.")
                 .c_str())
        .def("update_digital_twin",
             [](TwinGraph& self, const Text& digital_twin_id, const py::object& json_patch,
                const std::optional<std::string>& etag, const py::object& match_condition) {
                 const nlohmann::json patch = json_patch_argument(json_patch);
                 const std::optional<std::string> if_match = if_match_of(match_condition, etag);
                 write_released(self, [&] { self.update_twin(digital_twin_id, patch, if_match); });
             },
             py::arg("digital_twin_id"), py::arg("json_patch"), py::kw_only(), py::arg("etag") = py::none(),
             py::arg("match_condition") = py::none(),
             (std::string("Applies a JSON Patch (a list of {op, path, value}; op add, replace or remove; component "
                          "paths such as /thermostat/setpoint; /$metadata/$model migrates the twin, "
                          "/$metadata/<p>/sourceTime sets a source time), whole or not at all. ") +
              condition_doc + "\nRaises NotFoundError, ValidationError, ConflictError.")
                 .c_str())
        .def("update_component",
             [](TwinGraph& self, const Text& digital_twin_id, const std::string& component_name,
                const py::object& json_patch, const std::optional<std::string>& etag, const py::object& match_condition) {
                 const nlohmann::json patch = json_patch_argument(json_patch);
                 const std::optional<std::string> if_match = if_match_of(match_condition, etag);
                 write_released(self, [&] {
                     graph::adt::update_component(self, digital_twin_id, component_name, patch, if_match);
                 });
             },
             py::arg("digital_twin_id"), py::arg("component_name"), py::arg("json_patch"), py::kw_only(),
             py::arg("etag") = py::none(), py::arg("match_condition") = py::none(),
             "update_digital_twin with paths relative to a component (\"/setpoint\" means "
             "\"/<component_name>/setpoint\"); the etag is the twin's. Raises NotFoundError for an unknown twin "
             "(DigitalTwinNotFound) or component (ComponentNotFound), and as update_digital_twin.")
        .def("delete_digital_twin",
             [](TwinGraph& self, const Text& digital_twin_id, const std::optional<std::string>& etag,
                const py::object& match_condition, bool cascade) {
                 const std::optional<std::string> if_match = if_match_of(match_condition, etag);
                 write_released(self, [&] { self.delete_twin(digital_twin_id, if_match, cascade); });
             },
             py::arg("digital_twin_id"), py::kw_only(), py::arg("etag") = py::none(),
             py::arg("match_condition") = py::none(), py::arg("cascade") = false,
             (std::string("Deletes a twin. As in ADT it is refused (ConflictError, code RelationshipsNotDeleted) "
                          "while the twin has incoming or outgoing relationships, unless cascade=True (not in ADT) "
                          "deletes those relationships with it. ") +
              condition_doc + "\nRaises NotFoundError, ConflictError.")
                 .c_str())
        // --- batched writes: twinsim extensions beyond the ADT SDK
        .def("update_digital_twins",
             [](TwinGraph& self, const py::object& patches) {
                 const std::vector<graph::TwinPatch> batch = twin_patches_argument(patches);
                 write_released(self, [&] { self.update_twins(batch); });
             },
             py::arg("patches"),
             "twinsim extension (not in the ADT SDK): many update_digital_twin calls in one, atomically — every "
             "patch applies or none does. patches: a list of (digital_twin_id, json_patch) or (digital_twin_id, "
             "json_patch, etag) tuples, or dicts with the keys digital_twin_id, json_patch and optionally etag "
             "(an etag makes that patch If-Match). Patches apply in order, so later ones see earlier ones. Releases "
             "the GIL. Raises as update_digital_twin (NotFoundError, ValidationError, ConflictError), for the first "
             "patch that fails; then nothing is applied.")
        .def("write_properties", &write_properties, py::arg("model_id"), py::arg("property"), py::arg("twin_ids"),
             py::arg("values"),
             "twinsim extension (not in the ADT SDK), the fastest way to ingest numbers: sets the top-level numeric "
             "property `property` of the twins twin_ids (of model_id or of models derived from it) to values, "
             "atomically. twin_ids: a sequence of str; values: a sequence or numpy array of numbers, converted to "
             "float64, the same length (integer properties need integral values, booleans 0 or 1). Each twin's "
             "$etag, $lastUpdateTime and the property's lastUpdateTime change, and one Twin.Update event per twin is "
             "sent. Ids and the property's column are resolved once, with the GIL released. Raises NotFoundError "
             "(unknown model or twin), ValidationError (undeclared or non-numeric property, a twin of another "
             "model, a value the property cannot hold — \"write <i>: ...\"; then nothing is written), ValueError "
             "(lengths differ), TypeError.")
        // --- relationships
        .def("upsert_relationship",
             [](TwinGraph& self, const Text& digital_twin_id, const Text& relationship_id,
                const py::object& relationship, const std::optional<std::string>& etag, const py::object& match_condition) {
                 const nlohmann::json body =
                     relationship.is_none() ? nlohmann::json::object() : json_object_argument(relationship, "relationship");
                 const graph::WriteCondition condition = upsert_condition(match_condition, etag);
                 const nlohmann::json stored = write_released(
                     self, [&] { return self.upsert_relationship(digital_twin_id, relationship_id, body, condition); });
                 return to_python(stored);
             },
             py::arg("digital_twin_id"), py::arg("relationship_id"), py::arg("relationship") = py::none(),
             py::kw_only(), py::arg("etag") = py::none(), py::arg("match_condition") = py::none(),
             (std::string("Creates or replaces the relationship relationship_id of twin digital_twin_id from ADT "
                          "JSON ($targetId, $relationshipName, properties). Returns the stored relationship. "
                          "Self-relationships, unknown targets, a target whose model does not satisfy the "
                          "Relationship's target, and bad properties raise ValidationError or NotFoundError. "
                          "match_condition=IfMissing creates only. ") +
              condition_doc)
                 .c_str())
        .def("update_relationship",
             [](TwinGraph& self, const Text& digital_twin_id, const Text& relationship_id,
                const py::object& json_patch, const std::optional<std::string>& etag, const py::object& match_condition) {
                 const nlohmann::json patch = json_patch_argument(json_patch);
                 const std::optional<std::string> if_match = if_match_of(match_condition, etag);
                 write_released(self, [&] { self.update_relationship(digital_twin_id, relationship_id, patch, if_match); });
             },
             py::arg("digital_twin_id"), py::arg("relationship_id"), py::arg("json_patch"), py::kw_only(),
             py::arg("etag") = py::none(), py::arg("match_condition") = py::none(),
             (std::string("Applies a JSON Patch to a relationship's properties, whole or not at all. ") + condition_doc)
                 .c_str())
        .def("delete_relationship",
             [](TwinGraph& self, const Text& digital_twin_id, const Text& relationship_id,
                const std::optional<std::string>& etag, const py::object& match_condition) {
                 const std::optional<std::string> if_match = if_match_of(match_condition, etag);
                 write_released(self, [&] { self.delete_relationship(digital_twin_id, relationship_id, if_match); });
             },
             py::arg("digital_twin_id"), py::arg("relationship_id"), py::kw_only(), py::arg("etag") = py::none(),
             py::arg("match_condition") = py::none(),
             (std::string("Deletes a relationship. Raises NotFoundError. ") + condition_doc).c_str())
        // --- listeners
        .def("subscribe", &subscribe, py::arg("callback"),
             "Calls callback(event) after every committed change (for an import: after the whole import), on the "
             "writing thread with the GIL held. event is a dict: type (\"Microsoft.DigitalTwins.Twin.Create\", "
             "...Twin.Update, ...Twin.Delete, ...Relationship.Create/Update/Delete), subject (twin id, or "
             "\"<source>/relationships/<id>\"), twin_id, relationship_id (None for twin events), time (ADT "
             "timestamp text), sequence (gap-free, increasing), data (the twin or relationship; for updates "
             "{modelId, patch}).\n\nThe callback must not call this graph (RuntimeError). An exception it raises "
             "does not undo the change; Python reports it through sys.unraisablehook. Returns an id for "
             "unsubscribe().")
        .def("unsubscribe",
             [](TwinGraph& self, TwinGraph::ListenerId listener_id) { write_released(self, [&] { self.unsubscribe(listener_id); }); },
             py::arg("listener_id"), "Stops the callback subscribe() returned this id for.")
        .def("stats",
             [](const TwinGraph& self) {
                 graph::GraphStats stats;
                 {
                     py::gil_scoped_release release;
                     stats = self.stats();
                 }
                 return py::dict(py::arg("twins") = stats.twins, py::arg("relationships") = stats.relationships,
                                 py::arg("models") = stats.models, py::arg("bytes_copied") = stats.bytes_copied,
                                 py::arg("chunks_copied") = stats.chunks_copied,
                                 py::arg("directories_copied") = stats.directories_copied,
                                 py::arg("events_emitted") = stats.events_emitted);
             },
             "Counters as a dict: twins, relationships, models, and what copy-on-write has copied since the graph "
             "was created (bytes_copied, chunks_copied, directories_copied: state un-shared from snapshots), "
             "events_emitted.")
        .def("__repr__", [](const TwinGraph& self) {
            const Snapshot now = snapshot_of(self);
            return "<twinsim.TwinGraph with " + std::to_string(now.twin_count()) + " twins, " +
                   std::to_string(now.relationship_count()) + " relationships>";
        });
}

}  // namespace twinsim::python
