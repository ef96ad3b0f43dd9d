#pragma once
// The record readers of ingestion (internal to sim/live, but reachable for
// the fuzz target): NDJSON messages and CSV (RFC 4180: quoted fields,
// doubled quotes, line breaks inside quotes), one Record per message or row.

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace twinsim::live::ingest::detail {

/// One message or CSV row. When `error` is set the record could not be read
/// (malformed JSON, wrong field count...) and `fields` holds what is known.
struct Record {
    std::size_t line = 0;   ///< 1-based line where the record starts
    nlohmann::json fields;  ///< a message as parsed; a CSV row as {column: text} (empty cells left out)
    std::string error_field;
    std::string error;
};

using RecordSink = std::function<void(Record&&)>;

/// One message's text (an NDJSON line, an MQTT payload) into `r.fields`;
/// sets `r.error` when it is not a JSON object (malformed, nested deeper
/// than max_json_depth, or another JSON value).
void parse_message(std::string_view text, Record& r);

/// Every non-blank line is one JSON message. Throws MappingError naming the
/// source and line for a line longer than max_line_bytes, IoError when the
/// stream fails.
void read_ndjson(std::istream& in, const std::string& source, const RecordSink& sink);

/// The first record is the header (column names, unique and non-empty);
/// every later non-blank record is a row. Returns the header. Throws
/// MappingError for a record longer than max_line_bytes, more than
/// max_csv_fields fields, or a bad header; IoError when the stream fails.
std::vector<std::string> read_csv(std::istream& in, const std::string& source, const RecordSink& sink);

/// The fields of one CSV record (without its terminator), or false and `why`.
bool split_csv(std::string_view record, std::vector<std::string>& fields, std::string& why);

}  // namespace twinsim::live::ingest::detail
