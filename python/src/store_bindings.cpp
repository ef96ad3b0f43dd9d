// The durable store: twinsim.open_store(DIR, ...) -> twinsim.Store, whose
// attributes fall through to its graph (the usual TwinGraph API), and the
// store's exceptions (StoreError and its subclasses).

#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "bindings.hpp"
#include "time_argument.hpp"
#include "document_arguments.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/live/store.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

PyObject* store_error = nullptr;
PyObject* store_locked_error = nullptr;
PyObject* store_corrupt_error = nullptr;
PyObject* store_write_error = nullptr;

PyObject* exception_class(py::module_& m, const char* name, const py::tuple& bases, const char* doc) {
    py::dict attributes;
    attributes["code"] = py::none();
    attributes["path"] = py::none();
    return new_exception(m, name, bases.ptr(), doc, attributes.ptr());
}

void raise(PyObject* type, const live::StoreError& e) {
    py::object instance = py::reinterpret_borrow<py::object>(type)(e.what());
    instance.attr("path") = e.path().string();
    if (const auto* locked = dynamic_cast<const live::StoreLockedError*>(&e)) instance.attr("holder_pid") = locked->holder_pid();
    PyErr_SetObject(type, instance.ptr());
}

live::Durability durability_argument(const std::string& name) {
    if (name == "per_batch") return live::Durability::per_batch;
    if (name == "group") return live::Durability::group;
    throw py::value_error("durability must be \"per_batch\" or \"group\", not \"" + name + "\"");
}

py::dict recovery_dict(const live::RecoveryReport& r) {
    py::dict d;
    d["checkpoint_batch"] = r.checkpoint_batch;
    d["checkpoint"] = r.checkpoint.empty() ? py::object(py::none()) : py::object(py::str(r.checkpoint.string()));
    d["batches_replayed"] = r.batches_replayed;
    d["last_batch"] = r.last_batch;
    d["damaged_checkpoints"] = r.damaged_checkpoints;
    return d;
}

graph::Snapshot snapshot_at(live::Store& store, const py::object& t, const char* name) {
    const Timestamp instant = instant_argument(t, name);
    py::gil_scoped_release release;
    return store.snapshot_at(instant);
}

}  // namespace

void define_store(py::module_& m) {
    const py::object base = m.attr("TwinsimError");
    store_error = exception_class(m, "StoreError", py::make_tuple(base),
                                  "A durable store could not be opened, read or written. .path: the store's directory.");
    store_locked_error = exception_class(m, "StoreLockedError", py::make_tuple(py::handle(store_error)),
                                         "The store is open in another process (or elsewhere in this one). "
                                         ".holder_pid: the pid recorded by the holder.");
    py::handle(store_locked_error).attr("holder_pid") = 0;
    store_corrupt_error = exception_class(m, "StoreCorruptError", py::make_tuple(py::handle(store_error)),
                                          "The store's journal (or every checkpoint) is damaged or not a store's.");
    store_write_error = exception_class(m, "StoreWriteError",
                                        py::make_tuple(py::handle(store_error), py::handle(PyExc_OSError)),
                                        "A write could not be made durable (disk full, I/O error, a failed sync, the "
                                        "store closed). Unless the message says it was applied, nothing changed.");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const live::StoreLockedError& e) {
            raise(store_locked_error, e);
        } catch (const live::StoreCorruptError& e) {
            raise(store_corrupt_error, e);
        } catch (const live::StoreWriteError& e) {
            raise(store_write_error, e);
        } catch (const live::StoreError& e) {
            raise(store_error, e);
        }
    });

    py::class_<live::Store>(
        m, "Store",
        "A twin graph that lives in a directory (twinsim.open_store). Every write is journaled and returns only "
        "once durable. The graph's methods (upsert_digital_twin, query_twins, snapshot, ...) are available on the "
        "store itself, or through .graph. Close it (or use it as a context manager) to release the directory.")
        .def_property_readonly(
            "graph", [](live::Store& s) -> graph::TwinGraph& { return s.graph(); }, py::return_value_policy::reference_internal,
            "The stored TwinGraph (valid while the store object lives).")
        .def_property_readonly("path", [](const live::Store& s) { return s.directory().string(); })
        .def("checkpoint",
             [](live::Store& s) {
                 py::gil_scoped_release release;
                 return s.checkpoint();
             },
             "Writes a checkpoint of the whole graph now; returns the journal batch it holds.")
        .def("flush",
             [](live::Store& s) {
                 py::gil_scoped_release release;
                 s.flush();
             },
             "Waits until every write so far is durable (group commit).")
        .def("close",
             [](live::Store& s) {
                 release_graph_rules(&s.graph());   // the live rules stop before the store closes
                 release_graph_events(&s.graph());  // routed events are delivered first
                 release_store_message_ids(&s.graph());
                 py::gil_scoped_release release;
                 s.close();
             },
             "Stops background work, syncs and releases the directory. Later writes raise StoreWriteError.")
        .def_property_readonly("recovery", [](const live::Store& s) { return recovery_dict(s.recovery()); },
                               "How opening went: checkpoint_batch, checkpoint, batches_replayed, last_batch, "
                               "damaged_checkpoints.")
        .def("stats",
             [](const live::Store& s) {
                 const live::StoreStats st = s.stats();
                 py::dict d;
                 d["written_batch"] = st.written_batch;
                 d["durable_batch"] = st.durable_batch;
                 d["syncs"] = st.syncs;
                 d["checkpoints"] = st.checkpoints;
                 d["last_checkpoint_batch"] = st.last_checkpoint_batch;
                 d["last_checkpoint_error"] = st.last_checkpoint_error;
                 return d;
             },
             "Counters: written_batch, durable_batch, syncs, checkpoints, last_checkpoint_batch, last_checkpoint_error.")
        .def("snapshot_at", [](live::Store& s, const py::object& t) { return snapshot_at(s, t, "t"); }, py::arg("t"),
             "Time travel: a read-only Snapshot of the graph exactly as it was at instant t (an RFC 3339 str or a "
             "timezone-aware datetime): every batch committed at or before t (the graph's commit time, what "
             "$lastUpdateTime holds), none after. Before the first write: an empty graph; after the last: the graph "
             "now. It has query_twins, to_ndjson and the graph's read methods. Releases the GIL. Raises ValueError "
             "(malformed time), TypeError, StoreCorruptError (damaged journal).")
        .def("query_twins",
             [](py::object self, const py::object& query, const py::object& as_of, const py::object& page_size,
                const py::object& max_rows) {
                 const py::object target =
                     as_of.is_none() ? self.attr("graph") : py::cast(snapshot_at(self.cast<live::Store&>(), as_of, "as_of"));
                 return target.attr("query_twins")(query, py::arg("page_size") = page_size, py::arg("max_rows") = max_rows);
             },
             py::arg("query"), py::kw_only(), py::arg("as_of") = py::none(), py::arg("page_size") = py::none(),
             py::arg("max_rows") = py::none(),
             "Runs a query on the stored graph, as TwinGraph.query_twins; with as_of (an RFC 3339 str or a "
             "timezone-aware datetime) on the graph as it was at that instant (store.snapshot_at(as_of)).")
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__",
             [](live::Store& s, const py::object&, const py::object&, const py::object&) {
                 release_graph_rules(&s.graph());
                 release_graph_events(&s.graph());
                 release_store_message_ids(&s.graph());
                 py::gil_scoped_release release;
                 s.close();
                 return false;
             })
        .def("__getattr__",
             [](py::object self, const std::string& name) -> py::object {
                 if (!name.empty() && name[0] == '_') throw py::attribute_error("Store has no attribute '" + name + "'");
                 return self.attr("graph").attr(name.c_str());
             })
        .def("__repr__", [](const live::Store& s) { return "<twinsim.Store " + s.directory().string() + ">"; });

    m.def(
        "open_store",
        [](const py::object& path, const std::string& durability, std::uint64_t checkpoint_every,
           std::optional<std::uint64_t> checkpoint_every_changes, bool create, std::size_t keep_checkpoints, bool history,
           bool history_telemetry) {
            live::StoreOptions o;
            o.durability = durability_argument(durability);
            o.checkpoint_every = checkpoint_every;
            // Not given: the library's default, or off with checkpoint_every=0
            // (then only store.checkpoint() writes one, as documented).
            if (checkpoint_every_changes) o.checkpoint_every_changes = *checkpoint_every_changes;
            else if (checkpoint_every == 0) o.checkpoint_every_changes = 0;
            o.create = create;
            o.keep_checkpoints = keep_checkpoints;
            o.history.enabled = history;
            o.history.telemetry = history_telemetry;
            const std::filesystem::path dir = to_path(path);
            std::unique_ptr<live::Store> store;
            {
                py::gil_scoped_release release;
                store = live::open_store(dir, std::move(o));
            }
            // Routes and endpoints belong to the store's graph for as long as
            // the store lives, whichever `store.graph` wrapper set them up.
            const graph::TwinGraph* graph = &store->graph();
            keep_graph_events(*graph, store->directory());
            note_store_rules(store->graph(), dir);
            note_store_message_ids(store->graph(), store->directory());
            py::object self = py::cast(std::move(store));
            py::cpp_function on_gone([graph](py::handle weak) {
                release_graph_rules(graph);
                release_graph_events(graph);
                release_store_message_ids(graph);
                weak.dec_ref();
            });
            py::weakref(self, on_gone).release();
            return self;
        },
        py::arg("path"), py::kw_only(), py::arg("durability") = "per_batch", py::arg("checkpoint_every") = 10000,
        py::arg("checkpoint_every_changes") = py::none(), py::arg("create") = true, py::arg("keep_checkpoints") = live::StoreOptions{}.keep_checkpoints,
        py::arg("history") = true, py::arg("history_telemetry") = false,
        "Opens (or creates) the durable store in directory `path` and returns a Store, which has the TwinGraph "
        "methods of its graph.\n\n"
        "durability: \"per_batch\" (each write synced before it returns) or \"group\" (concurrent writers share "
        "syncs; each write still returns only once durable).\ncheckpoint_every: batches between background "
        "checkpoints (0: not by batch count).\n"
        "checkpoint_every_changes: change events journaled between background checkpoints, whatever the batch sizes "
        "(bounds what opening replays); None: 1,000,000, or off when checkpoint_every=0; 0: off. With both 0, only "
        "store.checkpoint() writes one.\ncreate: create the directory when missing.\n"
        "keep_checkpoints: how many checkpoints are kept for time travel (store.snapshot_at), spread over the "
        "journal; 2 keeps only the newest and its fallback.\n"
        "history: record every change in DIR/history.db (docs/history.md); history_telemetry: record telemetry too.\n"
        "Raises StoreLockedError (open elsewhere), StoreCorruptError (damaged journal), StoreError. "
        "Releases the GIL. docs/store.md describes the directory.");
}

}  // namespace twinsim::python
