#pragma once
// The store's history: every committed change of a durable store in Azure
// Digital Twins' data-history shape (docs/history.md).
//
// A store records three kinds of rows, as ADT's data history does, plus
// telemetry when asked:
// - property updates: TimeStamp, SourceTimeStamp, Id, ModelId, Key, Value,
//   RelationshipTarget, RelationshipId, Action;
// and, beside ADT's columns, each change's Cause (the live rule that made
// it, models/rules/live_rules.hpp; empty for a direct write);
// - twin lifecycle: TwinId, Action (Create/Delete), TimeStamp, ModelId;
// - relationship lifecycle: RelationshipId, Name, Action, TimeStamp, Source, Target;
// - telemetry (StoreOptions::history.telemetry): TimeStamp, SourceTimeStamp,
//   Id, ModelId, Key, Value.
//
// The rows live in DIR/history.db (SQLite, WAL, its own connection), filled
// by a background indexer that reads the journal after the last batch it
// indexed: the journal stays the single source of truth, the write path is
// not slowed, and after a crash the indexer catches up. A read first waits
// until every batch committed before it is indexed (read-your-writes).

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "twinsim/common/time.hpp"
#include "twinsim/io/history_file.hpp"
#include "twinsim/live/errors.hpp"
#include "twinsim/live/routes.hpp"

namespace twinsim::live {

/// The history could not be written, read or thinned, or a query is invalid.
class HistoryError : public LiveError {
public:
    using LiveError::LiveError;
};

/// Which row kinds a query returns (a bit set).
enum HistoryKind : unsigned {
    history_property_updates = 1U,
    history_twin_lifecycle = 2U,
    history_relationship_lifecycle = 4U,
    history_telemetry = 8U,
    history_all_kinds = 15U,
};

/// Retention: rows older than `older_than` (measured back from the newest
/// row's time, or from `now` when given) are thinned to at most one row per
/// (twin, key, relationship) per `interval` (the last one of each interval is
/// kept). Lifecycle rows are always kept. older_than == 0: keep everything.
struct RetentionPolicy {
    std::int64_t older_than_ns = 0;
    std::int64_t interval_ns = 0;
};

struct HistoryOptions {
    /// Record history at all (history.db is created and kept up to date).
    bool enabled = true;
    /// Record telemetry (through Store::record_telemetry or a HistoryEndpoint).
    bool telemetry = false;
    /// Applied by the indexer every `retention_every` indexed batches when
    /// older_than_ns > 0 (0: only when Store::thin_history is called).
    RetentionPolicy retention;
    std::uint64_t retention_every = 0;
};

/// What to read. Empty lists mean "all"; times are [start, end).
struct HistoryQuery {
    std::vector<std::string> twins;       ///< Id (twin lifecycle: TwinId; relationships: Source)
    std::vector<std::string> properties;  ///< Key (property updates and telemetry only)
    std::optional<Timestamp> start;
    std::optional<Timestamp> end;
    unsigned kinds = history_all_kinds;
};

struct PropertyUpdateRow {
    Timestamp time;                          ///< TimeStamp: when the change was committed
    std::optional<Timestamp> source_time;    ///< SourceTimeStamp ($metadata.<property>.sourceTime)
    std::string id;                          ///< Id: the twin (a relationship's source)
    std::string model_id;                    ///< ModelId: the twin's model
    std::string key;                         ///< Key: "property", "component.property", "object.field"
    nlohmann::json value;                    ///< Value (null for a Delete)
    std::string relationship_id;             ///< RelationshipId (relationship properties only)
    std::string relationship_target;         ///< RelationshipTarget (same)
    std::string action;                      ///< "Update" or "Delete"
    std::uint64_t sequence = 0;              ///< the change event's sequence number
    std::string cause;                       ///< Cause: what made the change ("rule:<name>" for a live rule's firing; empty: a direct write)
};

struct TwinLifecycleRow {
    Timestamp time;
    std::string twin_id;
    std::string action;  ///< "Create" or "Delete"
    std::string model_id;
    std::uint64_t sequence = 0;
    std::string cause;  ///< as PropertyUpdateRow::cause
};

struct RelationshipLifecycleRow {
    Timestamp time;
    std::string relationship_id;
    std::string name;
    std::string action;  ///< "Create" or "Delete"
    std::string source;
    std::string target;
    std::uint64_t sequence = 0;
    std::string cause;  ///< as PropertyUpdateRow::cause
};

struct TelemetryRow {
    Timestamp time;
    std::optional<Timestamp> source_time;
    std::string id;        ///< the twin
    std::string model_id;  ///< the emitting model
    std::string key;       ///< "telemetry" or "component.telemetry"
    nlohmann::json value;
};

/// One property of one twin over time as plain columns (Store::history_series):
/// what a plot or a statistic needs, without a row object per value.
struct HistorySeries {
    std::vector<std::int64_t> time_ns;         ///< TimeStamp, ns since 1970 UTC, ascending
    std::vector<double> value;                 ///< the value; NaN for a Delete or a value that is not a number
    std::vector<std::int64_t> source_time_ns;  ///< SourceTimeStamp; history_no_time when there was none
};
/// The source_time_ns of an update without a source time.
inline constexpr std::int64_t history_no_time = INT64_MIN;

/// Rows in (Id, Key, TimeStamp, sequence) order for property updates and
/// telemetry, (Id, TimeStamp) order for lifecycle rows.
struct HistoryResult {
    std::vector<PropertyUpdateRow> property_updates;
    std::vector<TwinLifecycleRow> twin_lifecycle;
    std::vector<RelationshipLifecycleRow> relationship_lifecycle;
    std::vector<TelemetryRow> telemetry;
};

class Store;

/// Rows written by export_history, per table.
struct HistoryExportCounts {
    std::uint64_t property_updates = 0, twin_lifecycle = 0, relationship_lifecycle = 0, telemetry = 0;
};

/// The rows `query` selects (every kind, whatever query.kinds says) as the
/// columns of an HDF5 history file, units from the store's DTDL models: what
/// export_history writes and what replay reads (scenario/recorded_input.hpp).
/// Throws HistoryError (as Store::history).
[[nodiscard]] io::HistoryTables history_tables(Store& store, const HistoryQuery& query = {});

/// Writes the rows `query` selects (every kind, whatever query.kinds says)
/// to the HDF5 history file `path` (io/history_file.hpp,
/// docs/history-format.md), with each property's and telemetry's unit taken
/// from the store's DTDL models. Throws HistoryError (as Store::history) and
/// io::ResultsError (the file cannot be written; no file is left).
HistoryExportCounts export_history(Store& store, const std::filesystem::path& path, const HistoryQuery& query = {});

/// The "history recorder" endpoint of event routes (routes.hpp): records the
/// telemetry notifications routed to it in the store's history (when the
/// store was opened with StoreOptions::history.telemetry; otherwise they are
/// accepted and dropped). Change notifications routed to it are accepted and
/// ignored: the store records every committed change from its journal,
/// routed or not. A notification it cannot record (a malformed telemetry
/// event, the history failing) is refused (retried, then dead-lettered).
/// Precondition: `store` outlives the endpoint's deliveries.
class HistoryEndpoint final : public Endpoint {
public:
    explicit HistoryEndpoint(Store& store) : store_(store) {}
    void deliver(const Notification& notification) override;

private:
    Store& store_;
};

}  // namespace twinsim::live
