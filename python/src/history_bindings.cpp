// A store's history on twinsim.Store: the private column readers behind
// Store.history / Store.history_arrow (python/twinsim/history.py), the HDF5
// export, retention, and twinsim.HistoryError.

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <climits>
#include <optional>
#include <type_traits>
#include <string>
#include <variant>
#include <vector>

#include "bindings.hpp"
#include "document_arguments.hpp"
#include "json_conversion.hpp"
#include "time_argument.hpp"
#include "twinsim/live/store.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

PyObject* history_error = nullptr;

live::HistoryQuery make_query(const std::optional<std::vector<std::string>>& twins,
                              const std::optional<std::vector<std::string>>& properties, const py::object& start,
                              const py::object& end) {
    live::HistoryQuery q;
    if (twins) q.twins = *twins;
    if (properties) q.properties = *properties;
    q.start = optional_instant_argument(start, "start");
    q.end = optional_instant_argument(end, "end");
    return q;
}

// Cause: the live rule that made a change ("rule:<name>"), None for a direct write.
py::object cause_cell(const std::string& cause) { return cause.empty() ? py::object(py::none()) : py::object(py::str(cause)); }

std::int64_t ns_or_missing(const std::optional<Timestamp>& t) { return t ? t->ns : INT64_MIN; }

// Columns named as ADT's data history names them; times as int64 ns (INT64_MIN: none, NaT once viewed as datetime64).
py::dict columns_of(const live::HistoryResult& h, const std::string& kind) {
    py::dict d;
    if (kind == "properties") {
        std::vector<std::int64_t> time, source;
        py::list id, model, key, value, target, rel, action, cause;
        std::vector<std::uint64_t> sequence;
        for (const live::PropertyUpdateRow& r : h.property_updates) {
            time.push_back(r.time.ns);
            source.push_back(ns_or_missing(r.source_time));
            id.append(r.id);
            model.append(r.model_id);
            key.append(r.key);
            value.append(to_python(r.value));
            target.append(r.relationship_target.empty() ? py::object(py::none()) : py::object(py::str(r.relationship_target)));
            rel.append(r.relationship_id.empty() ? py::object(py::none()) : py::object(py::str(r.relationship_id)));
            action.append(r.action);
            cause.append(cause_cell(r.cause));
            sequence.push_back(r.sequence);
        }
        d["TimeStamp"] = time;
        d["SourceTimeStamp"] = source;
        d["Id"] = id;
        d["ModelId"] = model;
        d["Key"] = key;
        d["Value"] = value;
        d["RelationshipTarget"] = target;
        d["RelationshipId"] = rel;
        d["Action"] = action;
        d["Cause"] = cause;
        d["Sequence"] = sequence;
    } else if (kind == "twins") {
        std::vector<std::int64_t> time;
        py::list id, action, model, cause;
        for (const live::TwinLifecycleRow& r : h.twin_lifecycle) {
            time.push_back(r.time.ns);
            id.append(r.twin_id);
            action.append(r.action);
            model.append(r.model_id);
            cause.append(cause_cell(r.cause));
        }
        d["TwinId"] = id;
        d["Action"] = action;
        d["TimeStamp"] = time;
        d["ModelId"] = model;
        d["Cause"] = cause;
    } else if (kind == "relationships") {
        std::vector<std::int64_t> time;
        py::list rel, name, action, source, target, cause;
        for (const live::RelationshipLifecycleRow& r : h.relationship_lifecycle) {
            time.push_back(r.time.ns);
            rel.append(r.relationship_id);
            name.append(r.name);
            action.append(r.action);
            source.append(r.source);
            target.append(r.target);
            cause.append(cause_cell(r.cause));
        }
        d["RelationshipId"] = rel;
        d["Name"] = name;
        d["Action"] = action;
        d["TimeStamp"] = time;
        d["Source"] = source;
        d["Target"] = target;
        d["Cause"] = cause;
    } else {
        std::vector<std::int64_t> time, source;
        py::list id, model, key, value;
        for (const live::TelemetryRow& r : h.telemetry) {
            time.push_back(r.time.ns);
            source.push_back(ns_or_missing(r.source_time));
            id.append(r.id);
            model.append(r.model_id);
            key.append(r.key);
            value.append(to_python(r.value));
        }
        d["TimeStamp"] = time;
        d["SourceTimeStamp"] = source;
        d["Id"] = id;
        d["ModelId"] = model;
        d["Key"] = key;
        d["Value"] = value;
    }
    return d;
}

unsigned kinds_of(const std::string& kind) {
    if (kind == "properties") return live::history_property_updates;
    if (kind == "twins") return live::history_twin_lifecycle;
    if (kind == "relationships") return live::history_relationship_lifecycle;
    if (kind == "telemetry") return live::history_telemetry;
    throw py::value_error("kind must be \"properties\", \"twins\", \"relationships\" or \"telemetry\", not \"" + kind + "\"");
}

}  // namespace

void define_history(py::module_& m) {
    history_error = new_exception(m, "HistoryError", m.attr("TwinsimError").ptr(),
                                  "A store's history could not be read, thinned or recorded, or a history query is "
                                  "invalid (the message says which and why).");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const live::HistoryError& e) {
            PyErr_SetString(history_error, e.what());
        }
    });

    auto store = py::reinterpret_borrow<py::class_<live::Store>>(m.attr("Store"));
    store.def(
        "_history_columns",
        [](live::Store& s, const std::optional<std::vector<std::string>>& twins,
           const std::optional<std::vector<std::string>>& properties, const py::object& start, const py::object& end,
           const std::string& kind) {
            live::HistoryQuery q = make_query(twins, properties, start, end);
            q.kinds = kinds_of(kind);
            live::HistoryResult h;
            {
                py::gil_scoped_release release;
                h = s.history(q);
            }
            return columns_of(h, kind);
        },
        py::arg("twins") = py::none(), py::arg("properties") = py::none(), py::arg("start") = py::none(),
        py::arg("end") = py::none(), py::arg("kind") = "properties",
        "The history's columns (a dict of lists; times as int64 ns). Use Store.history() instead.");
    store.def(
        "_history_series",
        [](live::Store& s, const std::string& twin, const std::string& key, const py::object& start, const py::object& end) {
            const std::optional<Timestamp> from = optional_instant_argument(start, "start");
            const std::optional<Timestamp> to = optional_instant_argument(end, "end");
            live::HistorySeries h;
            {
                py::gil_scoped_release release;
                h = s.history_series(twin, key, from, to);
            }
            // Moved into numpy arrays that own them: no copy.
            auto owned = [](auto&& v) {
                using V = std::decay_t<decltype(v)>;
                auto* heap = new V(std::move(v));
                py::capsule free_it(heap, [](void* p) { delete static_cast<V*>(p); });
                using T = typename V::value_type;
                return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {static_cast<py::ssize_t>(sizeof(T))},
                                      heap->data(), free_it);
            };
            return py::make_tuple(owned(std::move(h.time_ns)), owned(std::move(h.value)), owned(std::move(h.source_time_ns)));
        },
        py::arg("twin"), py::arg("key"), py::arg("start") = py::none(), py::arg("end") = py::none(),
        "(time_ns, value, source_time_ns) numpy arrays of one property of one twin. Use Store.history_series() instead.");
    store.def(
        "_export_history",
        [](live::Store& s, const py::object& path, const std::optional<std::vector<std::string>>& twins,
           const std::optional<std::vector<std::string>>& properties, const py::object& start, const py::object& end) {
            const live::HistoryQuery q = make_query(twins, properties, start, end);
            const std::filesystem::path file = to_path(path);
            live::HistoryExportCounts c;
            {
                py::gil_scoped_release release;
                c = live::export_history(s, file, q);
            }
            py::dict d;
            d["property_updates"] = c.property_updates;
            d["twin_lifecycle"] = c.twin_lifecycle;
            d["relationship_lifecycle"] = c.relationship_lifecycle;
            d["telemetry"] = c.telemetry;
            return d;
        },
        py::arg("path"), py::arg("twins") = py::none(), py::arg("properties") = py::none(), py::arg("start") = py::none(),
        py::arg("end") = py::none());
    store.def(
        "_thin_history",
        [](live::Store& s, std::int64_t older_than_ns, std::int64_t interval_ns, const py::object& now) {
            const std::optional<Timestamp> reference = optional_instant_argument(now, "now");
            py::gil_scoped_release release;
            return s.thin_history(live::RetentionPolicy{older_than_ns, interval_ns}, reference);
        },
        py::arg("older_than_ns"), py::arg("interval_ns"), py::arg("now") = py::none());
    store.def(
        "_record_telemetry",
        [](live::Store& s, const std::string& twin, const std::string& component, const std::string& model,
           const py::object& payload, std::int64_t time_ns, std::optional<std::int64_t> source_ns) {
            const nlohmann::json j = to_json(payload);
            py::gil_scoped_release release;
            return s.record_telemetry(twin, component, model, j, Timestamp{time_ns},
                                      source_ns ? std::optional<Timestamp>(Timestamp{*source_ns}) : std::nullopt);
        },
        py::arg("twin"), py::arg("component"), py::arg("model"), py::arg("payload"), py::arg("time_ns"),
        py::arg("source_time_ns") = py::none());
}

}  // namespace twinsim::python
