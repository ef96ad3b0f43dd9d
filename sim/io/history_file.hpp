#pragma once
// The HDF5 history file (twinsim-history 1.0, docs/history-format.md): a
// store's recorded history as four tables, with the results files'
// conventions (CF time, units, a temporary name renamed when complete).
// The live layer fills HistoryTables from a store (live::export_history);
// the replay issue reads them back with read_history_file.

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "twinsim/common/time.hpp"

namespace twinsim::io {

/// "No source time" in a source-time column.
inline constexpr std::int64_t no_time = std::numeric_limits<std::int64_t>::min();

/// The rows, column by column (every column of a table has the same length).
struct HistoryTables {
    struct PropertyUpdates {
        std::vector<std::int64_t> time_ns;         ///< TimeStamp, ns since 1970 (UTC)
        std::vector<std::int64_t> source_time_ns;  ///< SourceTimeStamp, or no_time
        std::vector<std::string> id, model_id, key;
        std::vector<std::string> value;            ///< JSON text; "" for a Delete
        std::vector<std::string> unit;             ///< the DTDL unit of the property ("" when none)
        std::vector<std::string> relationship_id, relationship_target, action;
        std::vector<std::uint64_t> sequence;
    } property_updates;
    struct TwinLifecycle {
        std::vector<std::int64_t> time_ns;
        std::vector<std::string> twin_id, action, model_id;
        std::vector<std::uint64_t> sequence;
    } twin_lifecycle;
    struct RelationshipLifecycle {
        std::vector<std::int64_t> time_ns;
        std::vector<std::string> relationship_id, name, action, source, target;
        std::vector<std::uint64_t> sequence;
    } relationship_lifecycle;
    struct Telemetry {
        std::vector<std::int64_t> time_ns, source_time_ns;
        std::vector<std::string> id, model_id, key, value, unit;
    } telemetry;
    /// Where the rows came from (the store's directory, "live", ...).
    std::string source;
};

struct HistoryFileCounts {
    std::uint64_t property_updates = 0, twin_lifecycle = 0, relationship_lifecycle = 0, telemetry = 0;
};

/// Writes `tables` to `path` (under a temporary name in the same folder,
/// renamed over `path` when complete; a failed write leaves no file).
/// Precondition: the columns of each table have equal lengths (checked:
/// io::ResultsError otherwise). Throws io::ResultsError naming the file and
/// the reason (cannot create, disk full, rename failed).
HistoryFileCounts write_history_file(const std::filesystem::path& path, const HistoryTables& tables);

/// Reads a history file written by write_history_file (any 1.x version).
/// Hardened for files from elsewhere: throws io::ResultsError naming the
/// file and what is wrong (not HDF5, not a history file, another major
/// version, a missing or mistyped column, columns of different lengths,
/// more than max_history_rows rows), never crashes.
[[nodiscard]] HistoryTables read_history_file(const std::filesystem::path& path);

/// The most rows a table read_history_file accepts.
inline constexpr std::uint64_t max_history_rows = std::uint64_t{1} << 32;

}  // namespace twinsim::io
