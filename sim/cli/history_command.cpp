// `twinsim history`: read a durable store's recorded history (docs/history.md)
// as CSV or NDJSON with ADT's data-history column names, or export it to an
// HDF5 history file (docs/history-format.md).

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "graph_input.hpp"
#include "model_input.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::cli {
namespace {

struct HistoryCommandOptions {
    std::string store;
    std::vector<std::string> twins;
    std::vector<std::string> properties;
    std::string start;
    std::string end;
    std::string kind = "properties";
    std::string format = "csv";
    std::string output;
    std::string hdf5;
};

using Cells = std::vector<std::pair<const char*, nlohmann::json>>;  // column, value (null: empty cell)

std::string csv_cell(const nlohmann::json& v) {
    if (v.is_null()) return {};
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (const char c : text) {
        quoted += c;
        if (c == '"') quoted += '"';
    }
    return quoted + "\"";
}

nlohmann::json time_cell(Timestamp t) { return format_timestamp(t); }
nlohmann::json time_cell(const std::optional<Timestamp>& t) { return t ? nlohmann::json(format_timestamp(*t)) : nlohmann::json(); }
nlohmann::json text_cell(const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); }

std::vector<Cells> rows_of(const live::HistoryResult& h, const std::string& kind) {
    std::vector<Cells> rows;
    if (kind == "properties") {
        for (const live::PropertyUpdateRow& r : h.property_updates)
            rows.push_back({{"TimeStamp", time_cell(r.time)},
                            {"SourceTimeStamp", time_cell(r.source_time)},
                            {"Id", r.id},
                            {"ModelId", text_cell(r.model_id)},
                            {"Key", r.key},
                            // The value as JSON text in CSV (a string keeps its quotes), as a JSON value in NDJSON.
                            {"Value", r.value},
                            {"RelationshipTarget", text_cell(r.relationship_target)},
                            {"RelationshipId", text_cell(r.relationship_id)},
                            {"Action", r.action},
                            {"Cause", text_cell(r.cause)}});
    } else if (kind == "twins") {
        for (const live::TwinLifecycleRow& r : h.twin_lifecycle)
            rows.push_back({{"TwinId", r.twin_id}, {"Action", r.action}, {"TimeStamp", time_cell(r.time)},
                            {"ModelId", text_cell(r.model_id)}, {"Cause", text_cell(r.cause)}});
    } else if (kind == "relationships") {
        for (const live::RelationshipLifecycleRow& r : h.relationship_lifecycle)
            rows.push_back({{"RelationshipId", r.relationship_id}, {"Name", text_cell(r.name)}, {"Action", r.action},
                            {"TimeStamp", time_cell(r.time)}, {"Source", r.source}, {"Target", text_cell(r.target)},
                            {"Cause", text_cell(r.cause)}});
    } else {
        for (const live::TelemetryRow& r : h.telemetry)
            rows.push_back({{"TimeStamp", time_cell(r.time)},
                            {"SourceTimeStamp", time_cell(r.source_time)},
                            {"Id", r.id},
                            {"ModelId", text_cell(r.model_id)},
                            {"Key", r.key},
                            {"Value", r.value}});
    }
    return rows;
}

const std::vector<const char*>& header_of(const std::string& kind) {
    static const std::vector<const char*> properties{"TimeStamp", "SourceTimeStamp", "Id", "ModelId", "Key", "Value",
                                                     "RelationshipTarget", "RelationshipId", "Action", "Cause"};
    static const std::vector<const char*> twins{"TwinId", "Action", "TimeStamp", "ModelId", "Cause"};
    static const std::vector<const char*> relationships{"RelationshipId", "Name", "Action", "TimeStamp", "Source", "Target",
                                                        "Cause"};
    static const std::vector<const char*> telemetry{"TimeStamp", "SourceTimeStamp", "Id", "ModelId", "Key", "Value"};
    if (kind == "properties") return properties;
    if (kind == "twins") return twins;
    if (kind == "relationships") return relationships;
    return telemetry;
}

void write_rows(std::ostream& out, const std::vector<Cells>& rows, const std::string& kind, const std::string& format) {
    if (format == "ndjson") {
        for (const Cells& row : rows) {
            nlohmann::ordered_json line = nlohmann::ordered_json::object();
            for (const auto& [name, value] : row) line[name] = value;
            out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
        }
        return;
    }
    const auto& header = header_of(kind);
    for (std::size_t k = 0; k < header.size(); ++k) out << (k ? "," : "") << header[k];
    out << '\n';
    for (const Cells& row : rows) {
        for (std::size_t k = 0; k < row.size(); ++k) {
            const nlohmann::json& v = row[k].second;
            // Value: JSON text (so "21.5" and the string "21.5" differ); other columns: plain text.
            const bool value_column = std::string(row[k].first) == "Value";
            out << (k ? "," : "")
                << (value_column && !v.is_null() ? csv_cell(nlohmann::json(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)))
                                                 : csv_cell(v));
        }
        out << '\n';
    }
}

std::optional<Timestamp> time_option(const std::string& text, const char* option, bool& bad) {
    if (text.empty()) return std::nullopt;
    std::string why;
    auto t = parse_timestamp(text, &why);
    if (!t) {
        std::cerr << "twinsim: error: " << option << " \"" << text << "\" is not an RFC 3339 date-time (" << why
                  << "); write e.g. 2026-07-14T14:00:00Z\n";
        bad = true;
    }
    return t;
}

int run_history(const HistoryCommandOptions& options) {
    bool bad = false;
    live::HistoryQuery query;
    query.twins = options.twins;
    query.properties = options.properties;
    query.start = time_option(options.start, "--start", bad);
    query.end = time_option(options.end, "--end", bad);
    if (bad) return exit_usage;
    if (query.start && query.end && *query.end < *query.start) {
        std::cerr << "twinsim: error: --end " << options.end << " is before --start " << options.start << '\n';
        return exit_usage;
    }
    if (!options.hdf5.empty() && !options.output.empty()) {
        std::cerr << "twinsim: error: --hdf5 writes its own file; --output is for CSV and NDJSON\n";
        return exit_usage;
    }
    if (options.kind == "properties") query.kinds = live::history_property_updates;
    else if (options.kind == "twins") query.kinds = live::history_twin_lifecycle;
    else if (options.kind == "relationships") query.kinds = live::history_relationship_lifecycle;
    else query.kinds = live::history_telemetry;

    LoadedGraph loaded;
    try {
        loaded = open_existing_store(options.store, false);
    } catch (const live::StoreError& e) {
        return report_store_error(e);
    }
    live::Store& store = *loaded.store;
    if (!options.hdf5.empty()) {
        query.kinds = live::history_all_kinds;
        try {
            const live::HistoryExportCounts report = live::export_history(store, options.hdf5, query);
            std::cout << "wrote " << options.hdf5 << ": " << report.property_updates << " property updates, "
                      << report.twin_lifecycle << " twin lifecycle rows, " << report.relationship_lifecycle
                      << " relationship lifecycle rows, " << report.telemetry << " telemetry rows\n";
        } catch (const live::HistoryError& e) {
            std::cerr << "twinsim: error: " << e.what() << '\n';
            return exit_invalid;
        } catch (const io::ResultsError& e) {
            std::cerr << "twinsim: error: " << e.what() << '\n';
            return exit_usage;
        }
        return exit_valid;
    }
    live::HistoryResult h;
    try {
        h = store.history(query);
    } catch (const live::HistoryError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_invalid;
    }
    const std::vector<Cells> rows = rows_of(h, options.kind);
    if (options.output.empty()) {
        write_rows(std::cout, rows, options.kind, options.format);
        std::cout.flush();
        return exit_valid;
    }
    const std::string part = options.output + ".part";
    {
        std::ofstream out(part, std::ios::binary | std::ios::trunc);
        if (!out) {
            std::cerr << "twinsim: error: cannot write " << options.output << " (the file cannot be created)\n";
            return exit_usage;
        }
        write_rows(out, rows, options.kind, options.format);
        out.flush();
        if (!out) {
            std::cerr << "twinsim: error: writing " << options.output << " failed (disk full?)\n";
            std::remove(part.c_str());
            return exit_usage;
        }
    }
    if (std::rename(part.c_str(), options.output.c_str()) != 0) {
        std::cerr << "twinsim: error: cannot rename " << part << " to " << options.output << '\n';
        std::remove(part.c_str());
        return exit_usage;
    }
    return exit_valid;
}

}  // namespace

Command add_history_command(CLI::App& app) {
    auto options = std::make_shared<HistoryCommandOptions>();
    CLI::App* command = app.add_subcommand(
        "history",
        "Print the recorded history of a durable store (ADT's data-history columns) as CSV or NDJSON, or export it "
        "to an HDF5 history file; see docs/history.md");
    command->add_option("--store", options->store, "The durable store's directory")->required();
    command->add_option("--twin", options->twins, "Only this twin (repeatable; a relationship's source for its rows)");
    command->add_option("--property", options->properties, "Only this property key (repeatable), e.g. temperature or thermostat.setpoint");
    command->add_option("--start", options->start, "Rows at or after this instant (RFC 3339)");
    command->add_option("--end", options->end, "Rows before this instant (RFC 3339)");
    command->add_option("--kind", options->kind, "Which table: properties (default), twins, relationships, telemetry")
        ->check(CLI::IsMember({"properties", "twins", "relationships", "telemetry"}));
    command->add_option("--format", options->format, "csv (default) or ndjson")->check(CLI::IsMember({"csv", "ndjson"}));
    command->add_option("--output", options->output, "Write here instead of standard output (replaced when complete)");
    command->add_option("--hdf5", options->hdf5, "Export every kind of row the filters select to this HDF5 history file (docs/history-format.md)");
    command->footer("Exit status: 0 written; 1 the store or its history is damaged or unreadable; 2 usage error (bad "
                    "option, bad time, missing or locked store, unwritable output); 3 internal error.");
    return {command, [options] { return run_history(*options); }};
}

}  // namespace twinsim::cli
