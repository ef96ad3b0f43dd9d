// query_twins on Snapshot and TwinGraph (the ADT SDK's name), the private
// _QueryPages pager behind twinsim.QueryResult (python/twinsim/query.py), and
// twinsim.QueryError.
//
// A query runs on one snapshot: TwinGraph.query_twins takes a snapshot first,
// so every page of its result is consistent even while the graph changes. The
// first page runs when query_twins is called (a malformed query raises there,
// not at the first iteration); later pages run as the result is iterated, each
// from the query's cursor (query::Cursor: the result rows were found once, a
// page renders its rows), which holds the snapshot. The GIL is released while
// a page is computed.

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "json_conversion.hpp"
#include "text_argument.hpp"
#include "twinsim/graph/snapshot.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/query/cursor.hpp"
#include "twinsim/query/query.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

PyObject* query_error = nullptr;  // owned by the module too (see errors_bindings.cpp)

/// Sets twinsim.QueryError(message) with .line, .column, .token, .expected as
/// the pending exception. An error without a position (a cap exceeded, a bad
/// continuation token) has line and column None.
void raise_query_error(const query::QueryError& e) {
    py::object instance = py::reinterpret_borrow<py::object>(query_error)(e.what());
    const query::SourcePos pos = e.position();
    const bool positioned = !e.token().empty() || !e.expected().empty() || pos.offset != 0 || pos.line != 1 || pos.column != 1;
    instance.attr("line") = positioned ? py::object(py::int_(pos.line)) : py::object(py::none());
    instance.attr("column") = positioned ? py::object(py::int_(pos.column)) : py::object(py::none());
    instance.attr("token") = e.token().empty() ? py::object(py::none()) : py::object(py::str(e.token()));
    instance.attr("expected") = e.expected().empty() ? py::object(py::none()) : py::object(py::str(e.expected()));
    PyErr_SetObject(query_error, instance.ptr());
}

/// A std::vector or std::string moved into a NumPy array that owns it (no copy).
template <typename T, typename Container>
py::array_t<T> numpy_of(Container&& values) {
    auto* owned = new Container(std::move(values));
    py::capsule owner(owned, [](void* p) { delete static_cast<Container*>(p); });
    const std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(owned->size())};
    const std::vector<py::ssize_t> strides{static_cast<py::ssize_t>(sizeof(T))};
    return py::array_t<T>(shape, strides, reinterpret_cast<const T*>(owned->data()), owner);
}

/// One TypedColumn as a dict of NumPy arrays (python/twinsim/query.py builds
/// the pandas and Arrow columns from them): name, type, valid (uint8) and, by
/// type, values (int64 / float64 / uint8 array, or a list of Python objects
/// for json), offsets (int64) and chars (uint8), codes (int32) and dictionary
/// (list of str).
py::dict column_to_python(query::TypedColumn& c) {
    using T = query::TypedColumn::Type;
    py::dict d;
    d["name"] = c.name;
    d["size"] = c.size;
    switch (c.type) {
    case T::empty: d["type"] = "empty"; break;
    case T::int64: d["type"] = "int64"; d["values"] = numpy_of<std::int64_t>(std::move(c.i64)); break;
    case T::float64: d["type"] = "float64"; d["values"] = numpy_of<double>(std::move(c.f64)); break;
    case T::boolean: d["type"] = "boolean"; d["values"] = numpy_of<std::uint8_t>(std::move(c.b)); break;
    case T::string:
        d["type"] = "string";
        d["offsets"] = numpy_of<std::int64_t>(std::move(c.offsets));
        d["chars"] = numpy_of<std::uint8_t>(std::move(c.chars));
        break;
    case T::dictionary: {
        d["type"] = "dictionary";
        d["codes"] = numpy_of<std::int32_t>(std::move(c.codes));
        d["dictionary"] = py::cast(c.dictionary);
        break;
    }
    case T::json: {
        d["type"] = "json";
        py::list values(c.values.size());
        for (std::size_t k = 0; k < c.values.size(); ++k) {
            values[k] = c.valid[k] != 0 ? to_python(c.values[k]) : py::none();
            c.values[k] = nlohmann::json();
        }
        d["values"] = values;
        break;
    }
    }
    d["valid"] = numpy_of<std::uint8_t>(std::move(c.valid));
    return d;
}

/// The pages of one query on one snapshot: a query::Cursor, which found every
/// result row when the query ran; each page renders the next rows of it.
class QueryPages {
public:
    QueryPages(graph::Snapshot snapshot, const std::string& text, const query::QueryOptions& options)
        : options_(options) {
        {
            py::gil_scoped_release release;
            query::PreparedQuery prepared(text);
            const query::Query& ast = prepared.ast();
            relationships_ = ast.from == query::FromKind::relationships;
            query_ = ast.text.empty() ? text : ast.text;
            cursor_ = query::Cursor::open(snapshot, std::move(prepared), options_);  // (parsed once)
        }
        documents_ = cursor_->selects_documents();
    }

    /// The next page as a list of dicts, or None after the last.
    py::object next_page() {
        if (started_ && offset_ >= cursor_->size()) return py::none();
        started_ = true;
        query::QueryResult page;
        {
            py::gil_scoped_release release;
            page = cursor_->page(offset_, options_.page_size);
        }
        offset_ += page.rows.size();
        py::list rows(page.rows.size());
        for (std::size_t i = 0; i < page.rows.size(); ++i) {
            rows[i] = to_python(page.rows[i]);
            page.rows[i] = nlohmann::json();  // free each row once converted
        }
        return rows;
    }

    /// Every result row as typed columns (a list of dicts, column_to_python), whatever was fetched.
    py::list typed_columns() const {
        std::vector<query::TypedColumn> columns;
        {
            py::gil_scoped_release release;
            columns = cursor_->typed_columns(0, 0);
        }
        py::list out;
        for (query::TypedColumn& c : columns) out.append(column_to_python(c));
        return out;
    }

    [[nodiscard]] bool done() const noexcept { return started_ && offset_ >= cursor_->size(); }
    /// The token resuming at the next page through continue_query (registers the cursor), or None when done.
    [[nodiscard]] py::object token() const {
        if (done()) return py::none();
        return py::str(cursor_->page_token(offset_));
    }
    [[nodiscard]] std::size_t size() const noexcept { return cursor_->size(); }
    [[nodiscard]] const std::vector<std::string>& warnings() const noexcept { return cursor_->warnings(); }
    [[nodiscard]] const std::vector<std::string>& columns() const noexcept { return cursor_->columns(); }
    [[nodiscard]] bool documents() const noexcept { return documents_; }
    [[nodiscard]] bool relationships() const noexcept { return relationships_; }
    [[nodiscard]] const std::string& query() const noexcept { return query_; }
    [[nodiscard]] const graph::Snapshot& snapshot() const noexcept { return cursor_->snapshot(); }

private:
    query::QueryOptions options_;
    std::shared_ptr<query::Cursor> cursor_;
    std::size_t offset_ = 0;
    bool started_ = false;
    bool documents_ = false;
    bool relationships_ = false;
    std::string query_;
};

query::QueryOptions options_of(const std::optional<std::size_t>& page_size, const std::optional<std::size_t>& max_rows) {
    query::QueryOptions options;
    options.page_size = page_size.value_or(1000);
    if (max_rows) {
        if (*max_rows == 0) throw py::value_error("max_rows must be positive");
        options.max_rows = *max_rows;
    }
    return options;
}

py::object query_result(graph::Snapshot snapshot, const std::string& query, const std::optional<std::size_t>& page_size,
                        const std::optional<std::size_t>& max_rows) {
    auto pages = std::make_shared<QueryPages>(std::move(snapshot), query, options_of(page_size, max_rows));
    return py::module_::import("twinsim.query").attr("QueryResult")(py::cast(pages));
}

constexpr const char* query_twins_doc =
    "Runs a query of the Azure Digital Twins query language (SELECT * | projections | COUNT() | TOP(n), FROM "
    "DIGITALTWINS or RELATIONSHIPS, JOIN ... RELATED, MATCH, WHERE with IS_OF_MODEL, IS_DEFINED, STARTSWITH, IN, "
    "...; plus ORDER BY, GROUP BY, aggregates and AS) and returns a twinsim.QueryResult: iterate it for the rows "
    "as dicts (SELECT * rows are the twins or relationships; projections {name: value}; COUNT() {\"COUNT\": n}). "
    "It pages transparently, every page from the same snapshot; .to_list(), len(), .by_page(), .to_dataframe() "
    "(pandas) and .warnings (unknown models or properties, which yield no rows rather than an error).\n\n"
    "page_size: rows fetched per page (default 1000, ADT's; 0 = all at once). max_rows: cap on result and "
    "intermediate rows (default 10,000,000); exceeding it raises QueryError.\n"
    "The first page is computed here, so a malformed query raises QueryError (also a ValueError; .line, .column, "
    ".token, .expected) at this call. Releases the GIL while a page is computed.";

}  // namespace

void define_query(py::module_& m) {
    {
        py::tuple bases = py::make_tuple(m.attr("TwinsimError"), py::handle(PyExc_ValueError));
        py::dict attributes;
        attributes["code"] = py::str("BadRequest");
        attributes["line"] = py::none();
        attributes["column"] = py::none();
        attributes["token"] = py::none();
        attributes["expected"] = py::none();
        query_error = new_exception(m, "QueryError", bases.ptr(),
            "A malformed query, or one that cannot run (a max_rows cap exceeded, a stale continuation token). "
            "Also a ValueError.\n\n.line, .column: 1-based position of the offending token (None when the error "
            "has no position); .token: the offending token as written; .expected: what the parser expected there "
            "(None when not a syntax error). .code: BadRequest, as ADT answers a bad query.", attributes.ptr());
    }
    // Registered after define_errors' translator, so it is tried first.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const query::QueryError& e) {
            raise_query_error(e);
        }
    });

    py::class_<QueryPages, std::shared_ptr<QueryPages>>(
        m, "_QueryPages", "The pages of one query on one snapshot (private: use twinsim.QueryResult).")
        .def("next_page", &QueryPages::next_page, "The next page as a list of dicts, or None after the last.")
        .def_property_readonly("done", &QueryPages::done)
        .def("typed_columns", &QueryPages::typed_columns,
             "Every result row as one dict per column: name, size, type (empty, int64, float64, boolean, string, "
             "dictionary, json), valid (uint8 array) and the type's arrays (values; offsets and chars; codes and "
             "dictionary). Built from the engine's typed columns, not from the rows.")
        .def_property_readonly("size", &QueryPages::size, "Result rows in all.")
        .def_property_readonly("continuation_token", &QueryPages::token,
                               "A token resuming at the next page (continue_query), or None when every page was fetched.")
        .def_property_readonly("warnings", &QueryPages::warnings)
        .def_property_readonly("columns", &QueryPages::columns,
                               "The row members in SELECT order (QueryResult::columns); empty when rows are whole twins or "
                               "relationships.")
        .def_property_readonly("selects_documents", &QueryPages::documents, "SELECT *: rows are whole twins or relationships.")
        .def_property_readonly("from_relationships", &QueryPages::relationships)
        .def_property_readonly("query", &QueryPages::query)
        .def_property_readonly("snapshot", &QueryPages::snapshot);

    py::class_<graph::Snapshot>(py::object(m.attr("Snapshot")))
        .def("query_twins",
             [](const graph::Snapshot& self, const Text& query, const std::optional<std::size_t>& page_size,
                const std::optional<std::size_t>& max_rows) { return query_result(self, query, page_size, max_rows); },
             py::arg("query"), py::kw_only(), py::arg("page_size") = py::none(), py::arg("max_rows") = py::none(),
             query_twins_doc);
    py::class_<graph::TwinGraph>(py::object(m.attr("TwinGraph")))
        .def("query_twins",
             [](const graph::TwinGraph& self, const Text& query, const std::optional<std::size_t>& page_size,
                const std::optional<std::size_t>& max_rows) {
                 graph::Snapshot snapshot;
                 {
                     py::gil_scoped_release release;
                     snapshot = self.snapshot();
                 }
                 return query_result(std::move(snapshot), query, page_size, max_rows);
             },
             py::arg("query"), py::kw_only(), py::arg("page_size") = py::none(), py::arg("max_rows") = py::none(),
             (std::string(query_twins_doc) +
              "\nThe query runs on a snapshot taken now: writes made while the result is iterated do not show in it.")
                 .c_str());
}

}  // namespace twinsim::python
