// TwinGraph.ingest (docs/ingest.md): property updates from files (NDJSON
// messages, long or wide CSV) or a pandas DataFrame, through an optional
// mapping (a file or a dict), and twinsim.MappingError. A thin shell over
// live::ingest::Ingestor; the DataFrame is turned into rows by
// twinsim.ingest._frame_rows (Python), everything else happens in C++.

#include <pybind11/chrono.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "document_arguments.hpp"
#include "json_conversion.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/live/ingest/ingest.hpp"
#include "twinsim/live/ingest/message_ids.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

using live::ingest::BadRowPolicy;
using live::ingest::Format;
using live::ingest::IngestOptions;
using live::ingest::IngestReport;
using live::ingest::Mapping;
using live::ingest::MappingError;
using live::ingest::OrderPolicy;

PyObject* mapping_error = nullptr;

// The message ids of the stores open in Python, by their graph (GIL held).
std::map<const graph::TwinGraph*, std::unique_ptr<live::ingest::MessageIds>>& store_message_ids() {
    static auto* ids = new std::map<const graph::TwinGraph*, std::unique_ptr<live::ingest::MessageIds>>();
    return *ids;
}

void raise_mapping_error(const MappingError& e) {
    py::object instance = py::reinterpret_borrow<py::object>(mapping_error)(e.what());
    instance.attr("file") = e.source().empty() ? py::object(py::none()) : py::object(py::str(e.source()));
    instance.attr("line") = e.line() == 0 ? py::object(py::none()) : py::object(py::int_(e.line()));
    instance.attr("field") = e.field().empty() ? py::object(py::none()) : py::object(py::str(e.field()));
    instance.attr("reason") = py::str(e.reason());
    PyErr_SetObject(mapping_error, instance.ptr());
}

bool is_path(const py::handle& h) {
    return py::isinstance<py::str>(h) || py::hasattr(h, "__fspath__");
}

py::dict report_dict(const IngestReport& r) {
    py::list bad;
    for (const live::ingest::BadRow& b : r.bad_rows) {
        bad.append(py::dict(py::arg("source") = b.source, py::arg("line") = b.line, py::arg("field") = b.field,
                            py::arg("reason") = b.reason, py::arg("record") = to_python(b.record)));
    }
    return py::dict(py::arg("applied") = r.applied, py::arg("rows") = r.rows, py::arg("updates") = r.updates,
                    py::arg("twins") = r.twins, py::arg("duplicates") = r.duplicates, py::arg("stale") = r.stale,
                    py::arg("bad_rows") = bad);
}

py::dict ingest(graph::TwinGraph& graph, const py::object& source, const py::object& mapping_arg,
                const std::optional<std::string>& format, const std::string& policy,
                const py::object& dead_letter, const std::string& order, std::size_t dedup_window,
                std::chrono::duration<double> dedup_age) {
    IngestOptions options;
    if (!format || *format == "auto") options.format = Format::automatic;
    else if (*format == "ndjson") options.format = Format::ndjson;
    else if (*format == "long-csv" || *format == "long") options.format = Format::long_csv;
    else if (*format == "wide-csv" || *format == "wide") options.format = Format::wide_csv;
    else throw py::value_error("format must be None, 'ndjson', 'long' or 'wide', not '" + *format + "'");
    if (policy == "reject") options.policy = BadRowPolicy::reject;
    else if (policy == "dead-letter" || policy == "dead_letter") options.policy = BadRowPolicy::dead_letter;
    else throw py::value_error("policy must be 'reject' or 'dead-letter', not '" + policy + "'");
    if (order == "arrival") options.order = OrderPolicy::arrival;
    else if (order == "source-time" || order == "source_time") options.order = OrderPolicy::source_time;
    else throw py::value_error("order must be 'arrival' or 'source-time', not '" + order + "'");
    if (!dead_letter.is_none()) options.dead_letter = to_path(dead_letter);
    options.dedup_window = dedup_window;
    if (dedup_age.count() < 0) throw py::value_error("dedup_age must not be negative");
    if (const auto it = store_message_ids().find(&graph); it != store_message_ids().end()) {
        // A store's graph: duplicates are dropped across restarts too.
        it->second->set_window({dedup_window, std::chrono::duration_cast<std::chrono::seconds>(dedup_age)});
        options.remembered = it->second.get();
    }

    std::unique_ptr<Mapping> mapping;
    const graph::Snapshot snapshot = graph.snapshot();
    if (!mapping_arg.is_none()) {
        if (is_path(mapping_arg)) {
            const auto path = to_path(mapping_arg);
            py::gil_scoped_release release;
            mapping = std::make_unique<Mapping>(Mapping::load_file(path, *snapshot.models()));
        } else if (py::isinstance<py::dict>(mapping_arg)) {
            mapping = std::make_unique<Mapping>(Mapping::from_json(to_json(mapping_arg), "<mapping>", *snapshot.models()));
        } else {
            throw py::type_error("mapping must be a path or a dict");
        }
    }
    live::ingest::Ingestor ingestor(graph, mapping.get(), options);
    IngestReport report;
    if (is_path(source) || py::isinstance<py::list>(source) || py::isinstance<py::tuple>(source)) {
        std::vector<std::filesystem::path> files;
        if (is_path(source)) files.push_back(to_path(source));
        else for (const py::handle item : source) files.push_back(to_path(item));
        py::gil_scoped_release release;
        report = ingestor.ingest_files(files);
    } else if (py::hasattr(source, "columns") && py::hasattr(source, "itertuples")) {
        const std::string time_field = mapping ? mapping->time_field : "time";
        py::tuple converted = py::module_::import("twinsim.ingest").attr("_frame_rows")(source, time_field);
        bool wide = converted[0].cast<bool>();
        if (options.format == Format::long_csv) wide = false;
        if (options.format == Format::wide_csv) wide = true;
        std::vector<live::ingest::TableRow> rows;
        for (const py::handle row : py::reinterpret_borrow<py::list>(converted[1])) rows.push_back({to_json(row)});
        py::gil_scoped_release release;
        report = ingestor.ingest_rows(rows, wide, "<DataFrame>");
    } else {
        throw py::type_error("source must be a path, a list of paths or a pandas DataFrame");
    }
    return report_dict(report);
}

}  // namespace

void note_store_message_ids(const graph::TwinGraph& graph, const std::filesystem::path& directory) {
    store_message_ids()[&graph] = std::make_unique<live::ingest::MessageIds>(live::ingest::message_ids_file(directory));
}

void release_store_message_ids(const graph::TwinGraph* graph) { store_message_ids().erase(graph); }

void define_ingest(py::module_& m) {
    mapping_error = new_located_exception(m, "MappingError",
            "An ingestion mapping the models refuse (an unknown interface, property, relationship or unit), a "
            "malformed mapping, or input that cannot be ingested at all (a line over the size limit, messages "
            "without a mapping). Bad rows are not errors: they are in ingest()'s report. Also a ValueError.\n\n"
            "str(): \"<file>:<line>: <field>: <reason>\"; .file, .line (None when unknown, e.g. for a dict), "
            ".field (dotted, e.g. \"mappings[0].set.sat.property\"), .reason.");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const MappingError& e) {
            raise_mapping_error(e);
        }
    });
    py::class_<graph::TwinGraph>(py::object(m.attr("TwinGraph")))
        .def("ingest", &ingest, py::arg("source"), py::arg("mapping") = py::none(), py::kw_only(),
             py::arg("format") = py::none(), py::arg("policy") = "reject", py::arg("dead_letter") = py::none(),
             py::arg("order") = "arrival", py::arg("dedup_window") = live::ingest::default_dedup_window,
             py::arg("dedup_age") = std::chrono::duration<double>(live::ingest::MessageIdWindow{}.max_age),
             "Applies property updates to this graph as one batch (docs/ingest.md).\n\n"
             "source: a path or a list of paths (.ndjson/.jsonl device messages, .csv long or wide), or a pandas "
             "DataFrame, long (columns time, twin, property, value[, unit][, id]) or wide (a time column, or a "
             "DatetimeIndex, plus one column per twin.property or mapped column).\n"
             "mapping: a mapping file (YAML or JSON) or the same as a dict; checked against the graph's models.\n"
             "policy: 'reject' (any bad row: nothing applied) or 'dead-letter' (good rows applied, bad ones "
             "appended to dead_letter as NDJSON). order: 'arrival' (last read wins, as ADT) or 'source-time' "
             "(an update older than the property's sourceTime is dropped). dedup_window: message ids remembered "
             "(the most recent; on a plain graph, within this call; on a store's graph, "
             "in DIR/message-ids.db, across restarts and processes). dedup_age (a store's graph): ids older than "
             "this (a timedelta or seconds; default 7 days) are forgotten.\n\n"
             "Returns {applied, rows, updates, twins, duplicates, stale, bad_rows: [{source, line, field, reason, "
             "record}]}. Raises MappingError (bad mapping, oversized line, messages without a mapping), "
             "TwinsimIoError (unreadable file).");
}

}  // namespace twinsim::python
