// query_twins on Snapshot and TwinGraph (the ADT SDK's name), the private
// _QueryPages pager behind twinsim.QueryResult (python/twinsim/query.py), and
// twinsim.QueryError.
//
// A query runs on one snapshot: TwinGraph.query_twins takes a snapshot first,
// so every page of its result is consistent even while the graph changes. The
// first page runs when query_twins is called (a malformed query raises there,
// not at the first iteration); later pages run as the result is iterated, each
// through continue_query on the same snapshot. The GIL is released while a
// page is computed.

#include <pybind11/stl.h>

#include <cstddef>
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

/// The pages of one query on one snapshot.
class QueryPages {
public:
    QueryPages(graph::Snapshot snapshot, const std::string& text, const query::QueryOptions& options)
        : snapshot_(std::move(snapshot)), options_(options) {
        {
            py::gil_scoped_release release;
            prepared_ = std::make_unique<query::PreparedQuery>(text);
            first_ = prepared_->run(snapshot_, options_);
        }
        const query::Query& ast = prepared_->ast();
        documents_ = ast.select.size() == 1 && ast.select.front().expr &&
                     ast.select.front().expr->kind == query::ExprKind::star;
        relationships_ = ast.from == query::FromKind::relationships;
        columns_ = first_.columns;
        warnings_ = first_.warnings;
        query_ = ast.text.empty() ? text : ast.text;
    }

    /// The next page as a list of dicts, or None after the last.
    py::object next_page() {
        query::QueryResult page;
        if (!started_) {
            started_ = true;
            page = std::move(first_);
        } else if (token_.empty()) {
            return py::none();
        } else {
            py::gil_scoped_release release;
            page = query::continue_query(snapshot_, token_, options_);
        }
        token_ = std::move(page.continuation_token);
        py::list rows(page.rows.size());
        for (std::size_t i = 0; i < page.rows.size(); ++i) {
            rows[i] = to_python(page.rows[i]);
            page.rows[i] = nlohmann::json();  // free each row once converted
        }
        return rows;
    }

    [[nodiscard]] bool done() const noexcept { return started_ && token_.empty(); }
    [[nodiscard]] const std::string& token() const noexcept { return token_; }
    [[nodiscard]] const std::vector<std::string>& warnings() const noexcept { return warnings_; }
    [[nodiscard]] const std::vector<std::string>& columns() const noexcept { return columns_; }
    [[nodiscard]] bool documents() const noexcept { return documents_; }
    [[nodiscard]] bool relationships() const noexcept { return relationships_; }
    [[nodiscard]] const std::string& query() const noexcept { return query_; }
    [[nodiscard]] const graph::Snapshot& snapshot() const noexcept { return snapshot_; }

private:
    graph::Snapshot snapshot_;
    query::QueryOptions options_;
    std::unique_ptr<query::PreparedQuery> prepared_;
    query::QueryResult first_;
    bool started_ = false;
    std::string token_;
    std::vector<std::string> warnings_;
    std::vector<std::string> columns_;
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
        .def_property_readonly("continuation_token",
                               [](const QueryPages& self) {
                                   return self.token().empty() ? py::object(py::none()) : py::object(py::str(self.token()));
                               })
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
