// `twinsim query`: load an ADT import file (as `twinsim import` does) and run
// one query on it, printing every row of every page as ADT's JSON or a table.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstddef>
#include <optional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "graph_input.hpp"
#include "model_input.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/graph/snapshot.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/query/query.hpp"

namespace twinsim::cli {
namespace {

struct QueryCommandOptions {
    GraphInputOptions input;
    std::string store;  ///< --store DIR: query the stored graph
    std::string as_of;  ///< --as-of TIME (with --store): query the stored graph as it was then
    std::string query;
    std::string format = "json";
    std::size_t page_size = 1000;
    std::size_t max_rows = query::QueryOptions{}.max_rows;
    std::optional<int> precision;  ///< table: significant digits of non-integral numbers; none = shortest exact
};

struct AllRows {
    std::vector<nlohmann::json> rows;
    std::vector<std::string> columns;  ///< QueryResult::columns (SELECT order)
};

/// Every row of every page (paging through continue_query on one snapshot).
AllRows all_rows(const graph::Snapshot& snapshot, const query::PreparedQuery& prepared, const query::QueryOptions& options) {
    query::QueryResult page = prepared.run(snapshot, options);
    AllRows out{std::move(page.rows), std::move(page.columns)};
    for (const std::string& warning : page.warnings) std::cerr << "twinsim: warning: " << warning << '\n';
    while (!page.continuation_token.empty()) {
        page = query::continue_query(snapshot, page.continuation_token, options);
        out.rows.insert(out.rows.end(), std::make_move_iterator(page.rows.begin()), std::make_move_iterator(page.rows.end()));
    }
    return out;
}

/// SELECT * (twins or relationships): rows are documents, shown as their id
/// and properties (the $etag and $metadata members are left out).
bool selects_documents(const query::Query& ast) {
    return ast.select.size() == 1 && ast.select.front().expr && ast.select.front().expr->kind == query::ExprKind::star;
}

/// A non-integral number: its shortest form that reads back as the same
/// double (std::to_chars), or `precision` significant digits when given.
std::string number_text(double value, std::optional<int> precision) {
    char buffer[64];
    const auto result = precision ? std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general, *precision)
                                  : std::to_chars(buffer, buffer + sizeof buffer, value);
    return {buffer, result.ptr};
}

/// A cell: strings as they are, numbers as number_text, everything else as compact JSON.
std::string cell_text(const nlohmann::json& value, std::optional<int> precision) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_number_float()) return number_text(value.get<double>(), precision);
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// Aligned columns, one line per row; a member a row lacks is blank. The
/// columns are the query's result columns in SELECT order, then any other
/// member in first-seen order over all rows (SELECT * rows: every member but
/// $etag and $metadata).
void print_table(std::ostream& out, const AllRows& all, bool documents, std::optional<int> precision) {
    const std::vector<nlohmann::json>& rows = all.rows;
    std::vector<std::string> columns = documents ? std::vector<std::string>{} : all.columns;
    auto shown = [&](const std::string& key) { return !documents || (key != "$etag" && key != "$metadata"); };
    for (const nlohmann::json& row : rows) {
        if (!row.is_object()) continue;
        for (const auto& [key, value] : row.items()) {
            if (shown(key) && std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
        }
    }
    if (columns.empty()) columns.emplace_back("value");  // rows that are not objects (none in ADT's shapes)
    std::vector<std::vector<std::string>> cells;
    cells.reserve(rows.size());
    std::vector<std::size_t> width(columns.size());
    for (std::size_t c = 0; c < columns.size(); ++c) width[c] = columns[c].size();
    for (const nlohmann::json& row : rows) {
        std::vector<std::string>& line = cells.emplace_back(columns.size());
        for (std::size_t c = 0; c < columns.size(); ++c) {
            if (row.is_object()) {
                const auto it = row.find(columns[c]);
                if (it != row.end()) line[c] = cell_text(*it, precision);
            } else if (c == 0) {
                line[c] = cell_text(row, precision);
            }
            width[c] = std::max(width[c], line[c].size());
        }
    }
    auto print_line = [&](const std::vector<std::string>& line) {
        std::string text;
        for (std::size_t c = 0; c < line.size(); ++c) {
            text += line[c];
            if (c + 1 < line.size()) text.append(width[c] - line[c].size() + 2, ' ');
        }
        out << text << '\n';
    };
    print_line(columns);
    std::vector<std::string> rule(columns.size());
    for (std::size_t c = 0; c < columns.size(); ++c) rule[c].assign(width[c], '-');
    print_line(rule);
    for (const std::vector<std::string>& line : cells) print_line(line);
    out << "(" << rows.size() << (rows.size() == 1 ? " row)\n" : " rows)\n");
}

/// {"value": [...], "continuationToken": null} in ADT's member order, one
/// compact row per line (invalid UTF-8 replaced by U+FFFD).
void print_value(std::ostream& out, const std::vector<nlohmann::json>& rows) {
    out << "{\"value\": [";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        out << (i == 0 ? "\n  " : ",\n  ") << rows[i].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    out << (rows.empty() ? "" : "\n") << "], \"continuationToken\": null}\n";
}

int run_query(QueryCommandOptions options) {
    if (!options.store.empty()) {
        // With --store the one positional is the query.
        if (!options.input.file.empty() && !options.query.empty()) {
            std::cerr << "twinsim: error: with --store give only the query, not an import file\n";
            return exit_usage;
        }
        if (options.query.empty()) std::swap(options.query, options.input.file);
        if (!options.input.model_paths.empty()) {
            std::cerr << "twinsim: error: --models cannot be used with --store (the store holds its models)\n";
            return exit_usage;
        }
    }
    if (options.query.empty()) {
        std::cerr << "twinsim: error: give an import file (GRAPH) and a QUERY, or --store DIR and a QUERY\n";
        return exit_usage;
    }
    std::optional<Timestamp> as_of;
    if (!options.as_of.empty()) {
        if (options.store.empty()) {
            std::cerr << "twinsim: error: --as-of needs --store DIR (only a store keeps the graph's history)\n";
            return exit_usage;
        }
        std::string why;
        as_of = parse_timestamp(options.as_of, &why);
        if (!as_of) {
            std::cerr << "twinsim: error: --as-of \"" << options.as_of << "\" is not an RFC 3339 time such as "
                      << "2026-07-14T14:00:00Z (" << why << ")\n";
            return exit_usage;
        }
    }
    // Parse first: a malformed query needs no graph.
    std::unique_ptr<query::PreparedQuery> prepared;
    try {
        prepared = std::make_unique<query::PreparedQuery>(options.query);
    } catch (const query::QueryError& e) {
        std::cerr << "twinsim: query error: " << e.what() << '\n';
        return exit_invalid;
    }
    LoadedGraph loaded;
    if (const auto status = load_command_graph(options.input, options.store, loaded)) return *status;
    graph::Snapshot snapshot;
    if (as_of) {
        try {
            snapshot = loaded.store->snapshot_at(*as_of);
        } catch (const live::StoreCorruptError& e) {
            std::cerr << "twinsim: error: " << e.what() << '\n';
            return exit_invalid;
        } catch (const live::StoreError& e) {
            std::cerr << "twinsim: error: " << e.what() << '\n';
            return exit_usage;
        }
    } else {
        snapshot = loaded.target().snapshot();
    }
    query::QueryOptions query_options;
    query_options.page_size = options.page_size;
    query_options.max_rows = options.max_rows;
    AllRows rows;
    try {
        rows = all_rows(snapshot, *prepared, query_options);
    } catch (const query::QueryError& e) {
        std::cerr << "twinsim: query error: " << e.what() << '\n';
        return exit_invalid;
    }
    if (options.format == "table") {
        print_table(std::cout, rows, selects_documents(prepared->ast()), options.precision);
    } else {
        print_value(std::cout, rows.rows);
    }
    return exit_valid;
}

}  // namespace

Command add_query_command(CLI::App& app) {
    auto options = std::make_shared<QueryCommandOptions>();
    CLI::App* command = app.add_subcommand(
        "query",
        "Load an Azure Digital Twins import file (as `twinsim import` does) and run one query of the ADT query "
        "language (plus ORDER BY, GROUP BY and aggregates) on it");
    command->add_option("--format", options->format,
                        "json: {\"value\": [rows], \"continuationToken\": null} as ADT returns it, every page "
                        "concatenated; table: aligned columns in SELECT order, one line per row (objects as compact JSON; "
                        "SELECT * rows without $etag and $metadata)")
        ->check(CLI::IsMember({"json", "table"}))
        ->capture_default_str();
    command->add_option("--precision", options->precision,
                        "table: show non-integral numbers with this many significant digits (1-17); by default "
                        "each is shown in its shortest form that reads back as the same double")
        ->check(CLI::Range(1, 17));
    command->add_option("--page-size", options->page_size, "Rows fetched per page (0: all at once)")
        ->capture_default_str();
    command->add_option("--max-rows", options->max_rows,
                        "Cap on result and intermediate rows; exceeding it is a query error")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    command->add_option("--store", options->store,
                        "Query the graph of the durable store in directory DIR (docs/store.md) instead of an import "
                        "file; then the only positional is the QUERY");
    command->add_option("--as-of", options->as_of,
                        "With --store: query the graph as it was at this instant, an RFC 3339 time such as "
                        "2026-07-14T14:00:00Z (every batch committed at or before it; docs/store.md, \"Time travel\")");
    add_graph_input_options(*command, options->input, "GRAPH", /*required=*/false);  // before QUERY: positionals keep their order
    command->add_option("QUERY", options->query, "The query, e.g. \"SELECT * FROM DIGITALTWINS T WHERE T.area > 30\"");
    command->footer(
        "Exit status: 0 ran, 1 query error (with its line and column) or invalid graph (every bad line on stderr), "
        "2 usage error, unreadable input or a store that cannot be opened.");
    return {command, [options] { return run_query(*options); }};
}

}  // namespace twinsim::cli
