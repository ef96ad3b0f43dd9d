// NDJSON message and CSV readers of ingestion.

#include "twinsim/live/ingest/readers.hpp"

#include <istream>
#include <set>

#include "twinsim/common/excerpt.hpp"
#include "twinsim/common/json_depth.hpp"
#include "twinsim/graph/detail/line_reader.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/live/ingest/ingest.hpp"

namespace twinsim::live::ingest::detail {
namespace {

bool blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

/// Runs the line reader, turning its over-long-line error into ours.
template <class Body>
void each_line(std::istream& in, const std::string& source, Body&& body) {
    graph::detail::LineReader reader(in, source, std::size_t{1} << 20, max_line_bytes);
    std::string_view line;
    while (true) {
        try {
            if (!reader.next(line)) break;
        } catch (const graph::ImportError&) {
            throw MappingError(source, reader.line_number() + 1, "",
                               "line longer than " + std::to_string(max_line_bytes) + " bytes (the limit); nothing was ingested");
        }
        body(line, reader);
    }
}

}  // namespace

void parse_message(std::string_view text, Record& r) {
    if (find_json_depth_excess(text)) {
        r.error = "JSON nested deeper than " + std::to_string(max_json_depth) + " levels";
        r.fields = text.size() > 200 ? std::string(text.substr(0, 200)) : std::string(text);
        return;
    }
    r.fields = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
    if (r.fields.is_discarded()) {
        r.error = "malformed JSON near \"" + excerpt(text) + "\"";
        r.fields = text.size() > 200 ? std::string(text.substr(0, 200)) : std::string(text);
    } else if (!r.fields.is_object()) {
        r.error = "a message must be a JSON object";
    }
}

void read_ndjson(std::istream& in, const std::string& source, const RecordSink& sink) {
    each_line(in, source, [&](std::string_view line, graph::detail::LineReader& reader) {
        if (blank(line)) return;
        Record r;
        r.line = reader.line_number();
        parse_message(line, r);
        sink(std::move(r));
    });
}

bool split_csv(std::string_view record, std::vector<std::string>& fields, std::string& why) {
    fields.clear();
    std::string cell;
    std::size_t i = 0;
    while (true) {
        cell.clear();
        if (i < record.size() && record[i] == '"') {
            ++i;
            while (true) {
                if (i >= record.size()) {
                    why = "a quoted field is not closed";
                    return false;
                }
                if (record[i] == '"') {
                    if (i + 1 < record.size() && record[i + 1] == '"') {
                        cell += '"';
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                cell += record[i++];
            }
            if (i < record.size() && record[i] != ',') {
                why = "text after the closing quote of field " + std::to_string(fields.size() + 1);
                return false;
            }
        } else {
            const std::size_t comma = record.find(',', i);
            const std::size_t end = comma == std::string_view::npos ? record.size() : comma;
            cell.assign(record.substr(i, end - i));
            if (cell.find('"') != std::string::npos) {
                why = "a quote inside unquoted field " + std::to_string(fields.size() + 1) + " (quote the whole field)";
                return false;
            }
            i = end;
        }
        if (fields.size() >= max_csv_fields) {
            why = "more than " + std::to_string(max_csv_fields) + " fields (the limit)";
            return false;
        }
        fields.push_back(cell);
        if (i >= record.size()) return true;
        ++i;  // the comma
        if (i == record.size()) {
            fields.emplace_back();
            return true;
        }
    }
}

std::vector<std::string> read_csv(std::istream& in, const std::string& source, const RecordSink& sink) {
    std::vector<std::string> header;
    bool have_header = false;
    std::string pending;  // a record continued over line breaks inside quotes
    std::size_t start_line = 0;
    std::vector<std::string> fields;
    // True when `text` ends inside a quoted field (a record continued on the
    // next line). Only a quote that opens a field opens a quoted field.
    auto open_quotes = [](std::string_view text) {
        bool quoted = false;
        bool field_start = true;
        for (std::size_t i = 0; i < text.size(); ++i) {
            const char c = text[i];
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < text.size() && text[i + 1] == '"') ++i;
                    else quoted = false;
                }
                continue;
            }
            if (c == '"' && field_start) quoted = true;
            field_start = c == ',';
        }
        return quoted;
    };
    auto finish = [&](std::string_view text, std::size_t line) {
        std::string why;
        const bool ok = split_csv(text, fields, why);
        if (!have_header) {
            if (!ok) throw MappingError(source, line, "header", why);
            std::set<std::string> seen;
            for (std::string& name : fields) {
                const auto b = name.find_first_not_of(" \t");
                const auto e = name.find_last_not_of(" \t");
                name = b == std::string::npos ? std::string() : name.substr(b, e - b + 1);
                if (name.empty()) throw MappingError(source, line, "header", "an empty column name");
                if (!seen.insert(name).second) throw MappingError(source, line, "header", "column '" + name + "' appears twice");
            }
            header = fields;
            have_header = true;
            return;
        }
        Record r;
        r.line = line;
        r.fields = nlohmann::json::object();
        if (!ok) {
            r.error = why;
            r.fields = std::string(text.substr(0, 200));
        } else if (fields.size() != header.size()) {
            r.error = "expected " + std::to_string(header.size()) + " fields (as the header), found " + std::to_string(fields.size());
            for (std::size_t k = 0; k < fields.size() && k < header.size(); ++k) r.fields[header[k]] = fields[k];
        } else {
            for (std::size_t k = 0; k < fields.size(); ++k) {
                if (!fields[k].empty()) r.fields[header[k]] = std::move(fields[k]);
            }
        }
        sink(std::move(r));
    };
    each_line(in, source, [&](std::string_view line, graph::detail::LineReader& reader) {
        if (!pending.empty() || start_line != 0) {
            pending += '\n';
            pending += line;
            if (pending.size() > max_line_bytes)
                throw MappingError(source, start_line, "", "record longer than " + std::to_string(max_line_bytes) + " bytes (the limit); nothing was ingested");
            if (open_quotes(pending)) return;
            const std::size_t at = start_line;
            start_line = 0;
            std::string text = std::move(pending);
            pending.clear();
            finish(text, at);
            return;
        }
        if (blank(line)) return;
        if (open_quotes(line)) {
            pending.assign(line);
            start_line = reader.line_number();
            return;
        }
        finish(line, reader.line_number());
    });
    if (start_line != 0) finish(pending, start_line);  // unclosed quote: reported by split_csv
    if (!have_header) throw MappingError(source, 0, "header", "the CSV file is empty (a header line is required)");
    return header;
}

}  // namespace twinsim::live::ingest::detail
