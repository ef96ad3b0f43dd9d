#pragma once
// Run-to-failure and in-service histories of a fleet of units (engines,
// pumps...): per unit, one row per cycle of operating settings and sensor
// readings. The input of calibration (prognostics.hpp) and of predictions.
// Readers (models/equipment/prognostics.md, "Histories"):
//   read_cmapss        the NASA C-MAPSS text format, plain or gzip
//   read_history_csv   CSV with a header: unit, cycle, setting*, sensors
//   histories_from_rows  rows of (unit, time, key, value), as a history file
//                        (docs/history-format.md) or a live store's history give them
//   read_rul_truth     the C-MAPSS RUL_FD00x file (one number per test unit)
//
// Limits on outside input (refused with HistoryInputError naming the file and
// line): lines of at most 1 MiB, 4,096 columns, 50 million rows, 1 GiB of
// text after decompression.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/common/error.hpp"

namespace twinsim::live {
class Store;
}

namespace twinsim::models {

/// A history that cannot be read: the message names the source, the line
/// (when known) and why, e.g. `train.txt:17: expected 26 numbers, found 25`.
class HistoryInputError : public Error {
public:
    using Error::Error;
};

/// One unit's rows, in cycle order. Row-major: settings[k * setting_count + j].
struct UnitHistory {
    std::string id;
    std::vector<double> cycles;    ///< strictly increasing
    std::vector<double> settings;  ///< cycles.size() x setting_count
    std::vector<double> sensors;   ///< cycles.size() x sensor_count
    /// True when the last row is the failure (a run-to-failure history);
    /// false for a unit still running (a test engine, a live twin).
    bool failed = true;

    [[nodiscard]] std::size_t rows() const noexcept { return cycles.size(); }
};

/// Histories of many units sharing the same settings and sensors.
struct HistorySet {
    std::vector<std::string> setting_names;
    std::vector<std::string> sensor_names;
    std::vector<UnitHistory> units;

    [[nodiscard]] std::size_t setting_count() const noexcept { return setting_names.size(); }
    [[nodiscard]] std::size_t sensor_count() const noexcept { return sensor_names.size(); }
    [[nodiscard]] std::size_t rows() const noexcept;
    /// Throws HistoryInputError unless every unit has rows, strictly
    /// increasing cycles and row-major arrays of the declared widths.
    void check(std::string_view source) const;
};

/// The text of a file, gunzipped when it starts with the gzip magic bytes.
/// Throws IoError when it cannot be read, HistoryInputError when the gzip
/// stream is damaged or the text passes 1 GiB.
[[nodiscard]] std::string read_text_maybe_gzip(const std::filesystem::path& file);

/// The C-MAPSS text format: whitespace-separated numbers, 26 per row (unit,
/// cycle, 3 operational settings, 21 sensors; a row may carry extra
/// trailing columns, which must then be on every row and become sensors
/// s22...). A first line that is not numeric is taken as a header and skipped.
/// Names: setting1..3, s1..s21. `failed` says whether the histories run to
/// failure (train_FD00x) or are cut before it (test_FD00x). Throws
/// HistoryInputError (bad number, ragged row, a unit's cycles not increasing,
/// limits), IoError.
[[nodiscard]] HistorySet read_cmapss(const std::filesystem::path& file, bool failed);
[[nodiscard]] HistorySet parse_cmapss(std::string_view text, std::string_view source, bool failed);

/// CSV (RFC 4180) with a header naming the columns: `unit` (any text),
/// `cycle` (a number; `time` is accepted as its name), columns whose name
/// starts with `setting` (operating settings), and any other numeric columns
/// (sensors), in file order. Rows of a unit need not be adjacent; they are
/// sorted by cycle. An optional column `failed` (0/1, the same on every row
/// of a unit) overrides `failed`. Plain or gzip. Throws HistoryInputError
/// naming the line and column, IoError.
[[nodiscard]] HistorySet read_history_csv(const std::filesystem::path& file, bool failed);
[[nodiscard]] HistorySet parse_history_csv(std::string_view text, std::string_view source, bool failed);

/// One recorded value: the shape of a history file's or a store's rows
/// (docs/history-format.md: Id, SourceTimeStamp, Key, Value).
struct HistoryValue {
    std::string unit;
    std::int64_t time = 0;  ///< nanoseconds since the epoch (any monotonic clock works)
    std::string key;
    double value = 0.0;
};

/// Histories from recorded values: each unit's rows are its distinct times
/// in order (the k-th time is cycle k), with the named settings and sensors;
/// a row missing one of them carries the unit's previous value (rows before
/// a unit's first complete row are dropped). Units in order of first
/// appearance. Throws HistoryInputError when a named key never appears.
[[nodiscard]] HistorySet histories_from_values(std::span<const HistoryValue> values,
                                               const std::vector<std::string>& setting_names,
                                               const std::vector<std::string>& sensor_names, bool failed);

/// Histories from a history file (io::read_history_file,
/// docs/history-format.md) or a live store (live::Store::history): the
/// numeric property updates and telemetry of the named keys, each at its
/// source time when it has one (else when it was recorded); `units` limits
/// the twins (empty: every twin that has one of the keys). Values that are
/// not numbers are skipped. Throws HistoryInputError as histories_from_values.
[[nodiscard]] HistorySet histories_from_history_file(const std::filesystem::path& file,
                                                     const std::vector<std::string>& setting_names,
                                                     const std::vector<std::string>& sensor_names, bool failed,
                                                     const std::vector<std::string>& units = {});
[[nodiscard]] HistorySet histories_from_store(live::Store& store, const std::vector<std::string>& setting_names,
                                              const std::vector<std::string>& sensor_names, bool failed,
                                              const std::vector<std::string>& units = {});

/// A histories file and how to read it: what the CLI (`twinsim calibrate`)
/// and Python (`twinsim.calibrate`) share.
struct HistorySource {
    std::filesystem::path file;
    /// "cmapss", "csv", "history" (an HDF5 history file) or "auto": by the
    /// name (.csv/.csv.gz: csv; .h5/.hdf5: history; otherwise cmapss).
    std::string format = "auto";
    std::vector<std::string> settings;  ///< history only: the setting keys
    std::vector<std::string> sensors;   ///< history only: the sensor keys (required)
    std::vector<std::string> units;     ///< history only: the twins (empty: all)
    bool failed = true;                 ///< run-to-failure histories (training) or units still running
};

/// Reads `source` with the reader its format names. Throws HistoryInputError
/// (also for an unknown format, or a history file without sensors), IoError,
/// io::ResultsError (a damaged history file).
[[nodiscard]] HistorySet read_histories(const HistorySource& source);

/// The C-MAPSS truth file: one number (RUL in cycles) per line; a non-numeric
/// first line is a header. Plain or gzip. Throws HistoryInputError, IoError.
[[nodiscard]] std::vector<double> read_rul_truth(const std::filesystem::path& file);

}  // namespace twinsim::models
