#pragma once
// Ingestion: property updates from files and tables into a TwinGraph
// (docs/ingest.md). Reads NDJSON device messages (through a Mapping), long
// CSV (time, twin, property, value), wide CSV (a time column plus one column
// per twin.property or per mapped column) and rows handed over by a front end
// (pandas DataFrames), turns every row into JSON Patches with sourceTimes,
// drops duplicate message ids, and applies the whole call as one batch
// according to the bad-row policy.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/live/ingest/mapping.hpp"
#include "twinsim/live/ingest/message_ids.hpp"

namespace twinsim::live::ingest {

/// Limits on what one ingestion reads (documented in docs/ingest.md).
inline constexpr std::size_t max_line_bytes = std::size_t{1} << 20;        ///< one NDJSON line or CSV record: 1 MiB
inline constexpr std::size_t max_csv_fields = 10'000;                      ///< columns of one CSV record
inline constexpr std::uintmax_t max_file_bytes = std::uintmax_t{1} << 32;  ///< one input file: 4 GiB
inline constexpr std::size_t default_dedup_window = 1'000'000;             ///< message ids remembered

enum class Format { automatic, ndjson, long_csv, wide_csv };
/// What happens to the good rows when some are bad.
enum class BadRowPolicy {
    reject,       ///< nothing is applied
    dead_letter,  ///< the good rows are applied; the bad ones are written to IngestOptions::dead_letter
};
/// Which of two updates of one property wins.
enum class OrderPolicy {
    arrival,      ///< the later one read (ADT: last writer wins, sourceTime is only recorded)
    source_time,  ///< an update whose sourceTime is older than the property's current one is dropped
};

struct IngestOptions {
    Format format = Format::automatic;
    BadRowPolicy policy = BadRowPolicy::reject;
    OrderPolicy order = OrderPolicy::arrival;
    /// Dead-letter file (NDJSON, one bad row per line); required with dead_letter.
    std::filesystem::path dead_letter;
    /// How many message ids are remembered to drop duplicates (the most recent ones).
    std::size_t dedup_window = default_dedup_window;
    /// Message ids remembered on disk (a durable store's DIR/message-ids.db,
    /// message_ids.hpp), or null: an id in it is a duplicate too, and the ids
    /// of the rows an ingestion applies are added to it once the batch is
    /// applied, so duplicates are dropped across restarts. Must outlive the
    /// Ingestor.
    MessageIds* remembered = nullptr;
};

/// One bad row: where, which field, why. `record` is what was read (the
/// message, or the CSV row as {column: text}).
struct BadRow {
    std::string source;
    std::size_t line = 0;
    std::string field;
    std::string reason;
    nlohmann::json record;
    /// "<source>:<line>: <field>: <reason>" (field left out when empty).
    [[nodiscard]] std::string to_string() const;
};

struct IngestReport {
    std::size_t rows = 0;         ///< messages / CSV rows read
    std::size_t updates = 0;      ///< property updates applied
    std::size_t twins = 0;        ///< distinct twins updated
    std::size_t duplicates = 0;   ///< rows dropped for a message id already seen
    std::size_t stale = 0;        ///< updates dropped by OrderPolicy::source_time
    bool applied = false;         ///< false: nothing changed (reject with bad rows, or nothing to do)
    std::vector<BadRow> bad_rows;
};

/// One row handed over from memory (a DataFrame row): column -> value.
struct TableRow {
    nlohmann::json fields;  ///< an object; null members are treated as missing
};

/// One message received from a broker (MQTT): its topic and its payload, a
/// JSON object as an NDJSON line would hold.
struct TopicMessage {
    std::string topic;
    std::string payload;
};

/// Ingests into one graph. Remembers message ids across calls (the dedup
/// window). Not thread-safe; one per ingesting thread.
class Ingestor {
public:
    /// `mapping` may be null (long CSV and wide CSV of twin.property columns
    /// need none; NDJSON messages and mapped columns do). Both must outlive
    /// the Ingestor. Throws MappingError for dead_letter without a file.
    Ingestor(graph::TwinGraph& graph, const Mapping* mapping, IngestOptions options = {});
    ~Ingestor();
    Ingestor(const Ingestor&) = delete;
    Ingestor& operator=(const Ingestor&) = delete;

    /// Reads every file (format from the option, else .ndjson/.jsonl/.json ->
    /// messages, .csv -> long when its header has twin, property and value
    /// columns, else wide), then applies everything as one batch. Throws
    /// IoError for a missing, unreadable or oversized file (nothing applied),
    /// MappingError when a file needs a mapping and none was given, and
    /// MappingError for a line longer than max_line_bytes or a record with
    /// more than max_csv_fields (nothing applied). Bad rows do not throw:
    /// they are in the report (and the dead-letter file).
    IngestReport ingest_files(const std::vector<std::filesystem::path>& files);
    /// One stream, named `source` in reports. `format` must not be automatic
    /// for ndjson; for CSV, automatic picks long or wide from the header.
    IngestReport ingest_stream(std::istream& in, const std::string& source, Format format);
    /// Rows of a table (a DataFrame): `wide` false = long rows (time, twin,
    /// property, value[, unit][, id]), true = wide rows (time plus one member
    /// per twin.property or mapped column). Line numbers are 1-based row numbers.
    IngestReport ingest_rows(const std::vector<TableRow>& rows, bool wide, const std::string& source);

    /// Messages received from a broker, in order: each payload is parsed as
    /// one JSON message (at most max_line_bytes) and offered to the mappings
    /// whose topic pattern matches its topic, and to those without one.
    /// Reports name a message's source "mqtt:<topic>" and its line as
    /// `first_number` + its position (a running count of the connection).
    /// A payload that is not a JSON object, or that no mapping applies to, is
    /// a bad row. Throws MappingError when there is no mapping.
    IngestReport ingest_messages(const std::vector<TopicMessage>& messages, std::size_t first_number = 1);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::live::ingest
