#pragma once
// Recorded inputs for replay (docs/replay.md): a recorded history held in
// memory as one numeric series per (twin, key), read from an HDF5 history
// file (io/history_file.hpp) or from the tables a live store gives
// (live::history_tables), and resampled onto a run's time axis with step or
// linear interpolation under a gap policy.
//
// The scenario layer does not see the live store (DESIGN.md, layers): a front
// end reads a store's history into io::HistoryTables and its graph at the
// window's start with Store::snapshot_at, and hands both over.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/graph/snapshot.hpp"
#include "twinsim/io/history_file.hpp"

namespace twinsim::scenario {

/// A recorded input cannot drive a run: the history lacks the mapped series,
/// has a gap the policy refuses, holds a value that is not a number, or comes
/// from another graph. what() names the twin, the property and the time
/// (RFC 3339) where they apply.
class RecordedInputError : public Error {
public:
    RecordedInputError(std::string twin, std::string property, std::optional<Timestamp> time, const std::string& reason);
    [[nodiscard]] const std::string& twin() const noexcept { return twin_; }
    [[nodiscard]] const std::string& property() const noexcept { return property_; }
    [[nodiscard]] std::optional<Timestamp> time() const noexcept { return time_; }

private:
    std::string twin_, property_;
    std::optional<Timestamp> time_;
};

enum class Interpolation {
    step,    ///< the last recorded value at or before t (what a logger held)
    linear,  ///< straight line between the recorded values around t
};

/// What to do where the history has no usable value (docs/replay.md, "Gaps").
enum class GapAction {
    refuse,  ///< RecordedInputError naming twin, property and time
    model,   ///< leave the property to the model (the run's own value stands)
};

struct GapPolicy {
    /// Seconds (>= 0) a recorded value is held after it was recorded (step),
    /// or the longest interval between two recorded values that linear
    /// interpolation bridges (beyond it the earlier value is held up to
    /// max_gap, as for step). Infinity: hold for ever.
    double max_gap = HUGE_VAL;
    GapAction action = GapAction::refuse;
    friend bool operator==(const GapPolicy&, const GapPolicy&) = default;
};

/// One recorded numeric series, ascending in time (rows of equal time in
/// recorded order). A NaN value marks a Delete or a value that is not a
/// number: no usable value from that instant until the next row.
struct RecordedSeries {
    std::string model_id;  ///< the ModelId of the rows (the latest)
    std::string unit;      ///< as recorded ("" when none)
    std::vector<std::int64_t> time_ns;
    std::vector<double> value;
};

/// The numeric series of a recorded history. Property updates of twins (not
/// of relationships) and telemetry; a key is "property", "component.property"
/// or a telemetry name, as history rows name it. Immutable once built.
class RecordedHistory {
public:
    RecordedHistory() = default;
    /// From history tables (every row; a value that is JSON true/false counts
    /// as 1/0). Rows may come in any order: each series is sorted by time
    /// (stable, so rows of equal time keep their order). A value that is
    /// neither a number nor a boolean, or not JSON, becomes NaN.
    explicit RecordedHistory(const io::HistoryTables& tables);
    /// Reads an HDF5 history file. Throws io::ResultsError (as
    /// io::read_history_file).
    [[nodiscard]] static RecordedHistory read_file(const std::filesystem::path& path);

    /// Where the rows came from (HistoryTables::source, or the file).
    [[nodiscard]] const std::string& source() const noexcept { return source_; }
    /// nullptr when the history holds no row for (twin, key).
    [[nodiscard]] const RecordedSeries* find(std::string_view twin, std::string_view key) const;
    /// Every twin of the history with the model its rows (lifecycle and
    /// property updates) recorded last.
    [[nodiscard]] const std::map<std::string, std::string, std::less<>>& twin_models() const noexcept { return twins_; }
    /// Rows kept (numeric series only).
    [[nodiscard]] std::size_t rows() const noexcept { return rows_; }

private:
    std::string source_;
    std::map<std::pair<std::string, std::string>, RecordedSeries, std::less<>> series_;
    std::map<std::string, std::string, std::less<>> twins_;
    std::size_t rows_ = 0;
};

/// The values of `twin`.`key` at window_start + times[k] seconds, each per
/// `interpolation` under `gaps` (docs/replay.md). Values recorded before the
/// window start count (the value held when the window opens). NaN where
/// gaps.action is model and there is no usable value.
/// `before_instant`: a row recorded exactly at an instant counts only after
/// it (its left limit: the value a model stepping over (t - dt, t] saw in the
/// run that recorded the row, since steps run before other events of t).
/// Preconditions: times ascending and finite.
/// Throws RecordedInputError naming twin, key and time: the history has no
/// row of (twin, key) at all; or, with GapAction::refuse, the first instant
/// without a usable value (none recorded yet, a Delete or non-numeric value,
/// or the last value older than gaps.max_gap).
[[nodiscard]] std::vector<double> resample(const RecordedHistory& history, std::string_view twin, std::string_view key,
                                           Timestamp window_start, std::span<const double> times,
                                           Interpolation interpolation, const GapPolicy& gaps,
                                           bool before_instant = false);

/// Checks that a history belongs to `graph` before its series drive a run on
/// it: every twin of `mapped` (the twins whose recorded series are used) is
/// in the history with the model the graph gives it, and exists in the
/// graph. Throws RecordedInputError: a mapped twin unknown to the graph, or
/// recorded with another model ("the history is from another graph"); also
/// when the history has twins and none of them is in the graph.
void check_history_graph(const RecordedHistory& history, const graph::Snapshot& graph,
                         std::span<const std::string> mapped);

/// Interpolation / GapAction by name ("step", "linear"; "refuse", "model");
/// nullopt for another name.
[[nodiscard]] std::optional<Interpolation> interpolation_from_name(std::string_view name);
[[nodiscard]] std::optional<GapAction> gap_action_from_name(std::string_view name);
[[nodiscard]] std::string_view name_of(Interpolation interpolation) noexcept;
[[nodiscard]] std::string_view name_of(GapAction action) noexcept;

}  // namespace twinsim::scenario
