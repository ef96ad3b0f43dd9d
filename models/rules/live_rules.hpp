#pragma once
// Live rules: the rules of models/rules/rules.md (condition rules
// `when/for/then` and propagation rules) running on a live TwinGraph as its
// changes commit (models/rules/rules.md, "Live rules", has the file format
// and the semantics in full).
//
// A LiveRules engine subscribes to the graph's committed batches
// (TwinGraph::subscribe_batches: each batch's change events and a snapshot of
// the graph exactly as the batch left it) and hands them, through a bounded
// queue, to its own worker thread. The worker evaluates, on each batch's own
// snapshot, only the (rule, twin) pairs whose inputs the batch changed and
// the propagation targets whose related twins changed, and commits each
// firing as an ordinary change of the graph (TwinGraph::atomically with the
// cause "rule:<name>"), so a firing is journaled by a store, routed and
// recorded in history like any write, and may trigger further rules.
//
// Ordering: batches are evaluated one at a time, in the order their writers'
// batch listeners delivered them (the commit order for one writer thread);
// a firing is committed after the batch that caused it was evaluated, and
// the firings' own batches are evaluated before the next queued batch.
// Back-pressure: when `queue_capacity` batches are waiting, the writer's
// thread blocks in its batch listener (after the graph's mutex is released,
// before its mutation returns) until the worker has taken one.
//
// A firing that fails (the graph refuses its write, an evaluation error)
// never blocks ingestion: it is appended to the dead-letter NDJSON file
// (rule, twin, change sequence, reason, time) and counted.
//
// Thread safety: every public method may be called from any thread except
// the engine's own worker (and a graph listener).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::models {

/// A rule file or rule set refused: the message names the file (and line when
/// known), the group and rule, the field and the reason, e.g.
/// `rooms.yaml:7: groups[0].rules[1].when: unknown property "temprature": ...`.
class RuleFileError : public Error {
public:
    using Error::Error;
};

/// Limits on a rule file (documented in models/rules/rules.md, "Limits"):
/// at most this many bytes (16 MiB), UTF-8; nesting and YAML expansion as a
/// scenario document's (max_json_depth levels, max_yaml_nodes values).
inline constexpr std::uintmax_t max_rule_file_bytes = std::uintmax_t{16} << 20;

/// Which clock measures `for` durations.
enum class RuleClock : std::uint8_t {
    /// The source time of the updates (each property's sourceTime as written,
    /// the commit time for a change without one): a condition holds from the
    /// source time of the update that made it true, and fires when a batch
    /// arrives whose source time reaches since + for (then the condition
    /// has held, on the source clock, for the whole duration). Replays of the
    /// same updates fire identically, however fast they are applied.
    source,
    /// The machine's clock: a condition holds from when the engine saw it
    /// become true, and a timer fires it `for` later if it still holds.
    wall,
};

[[nodiscard]] const char* to_string(RuleClock clock) noexcept;

struct LiveRulesOptions {
    /// The clock of rule sets that do not choose one in their file.
    RuleClock clock = RuleClock::source;
    /// Failures are appended here as NDJSON; empty: counted only.
    std::filesystem::path dead_letter;
    /// Batches waiting for the worker before writers block (>= 1).
    std::size_t queue_capacity = 1024;
    /// When set, rule sets are kept in `<directory>/rules/<id>.json`: those
    /// already there are loaded (and checked) by the constructor, add() writes
    /// one, remove() deletes it. A store's directory (live::Store) is the
    /// intended place: the rules then run whenever the store is opened with
    /// an engine (twinsim ingest --store, twinsim.open_store).
    std::filesystem::path directory;
};

/// Counters since the engine started.
struct LiveRulesStatistics {
    std::uint64_t batches = 0;          ///< committed batches evaluated
    std::uint64_t evaluations = 0;      ///< (rule, twin) condition evaluations
    std::uint64_t recomputations = 0;   ///< (rule, target) aggregates recomputed
    std::uint64_t firings = 0;          ///< condition rules fired and propagated values written
    std::uint64_t failures = 0;         ///< firings or evaluations that failed (dead-lettered)
    std::uint64_t queue_high_water = 0; ///< most batches ever waiting
};

/// One firing, as the engine committed it (or tried to).
struct LiveFiring {
    std::string rule_set;     ///< the rule set's id
    std::string rule;         ///< the rule's name
    std::string twin;         ///< the twin it fired on (a propagation: the target)
    std::uint64_t trigger_sequence = 0;  ///< the last change sequence of the batch that caused it
    Timestamp source_time;    ///< the source time of the firing (see RuleClock; wall: when it fired)
    std::string patch;        ///< the JSON Patch written to `twin` (JSON text), "[]" when nothing was written
    /// The JSON Patches written to other twins (an action's `on:`, e.g. the
    /// room's air handler), as (twin id, JSON text), in the same batch.
    std::vector<std::pair<std::string, std::string>> related;
    std::vector<std::string> alarms;  ///< alarm texts raised
    std::uint64_t sequence = 0;  ///< the sequence of the change the firing committed (0: none or failed)
    bool failed = false;
};

/// A rule set as added.
struct LiveRuleSetInfo {
    std::string id;
    std::string source;                 ///< the file, or "<dict>"
    RuleClock clock = RuleClock::source;
    std::vector<std::string> rules;     ///< rule names, group by group
    std::string definition;             ///< the rule set as JSON text ({"clock", "groups"})
};

class LiveRules {
public:
    /// Subscribes to `graph` (which must outlive the engine) and starts the
    /// worker. With options.directory, loads the rule sets kept there; a kept
    /// file that no longer passes the checks throws RuleFileError.
    /// Throws UsageError for queue_capacity 0.
    explicit LiveRules(graph::TwinGraph& graph, LiveRulesOptions options = {});
    /// Unsubscribes, finishes the batch being evaluated and stops the worker
    /// (queued batches are dropped; call drain() first to evaluate them).
    ~LiveRules();
    LiveRules(const LiveRules&) = delete;
    LiveRules& operator=(const LiveRules&) = delete;

    /// Reads a rule file (YAML for .yaml/.yml, JSON otherwise), checks it
    /// against the graph's models and twins now, and starts running it: its
    /// rules are first evaluated on every twin they apply to, then on every
    /// change. Returns its id ("rules-1", ...). Throws RuleFileError naming
    /// the file, line, group, rule, field and reason; IoError when the file
    /// cannot be read.
    std::string add_file(const std::filesystem::path& file);
    /// The same from YAML or JSON text; `source` names it in errors.
    std::string add_text(std::string_view text, const std::string& source);
    /// The same from a parsed document.
    std::string add_json(const nlohmann::json& document, const std::string& source = "<dict>");
    /// Stops a rule set (its pending `for` timers are dropped). Throws
    /// RuleFileError when no rule set has this id.
    void remove(std::string_view id);
    /// The rule sets running, in the order added.
    [[nodiscard]] std::vector<LiveRuleSetInfo> list() const;

    /// Waits until every batch committed before the call (by this thread, or
    /// whose writer returned) has been evaluated and its firings committed.
    void drain();
    [[nodiscard]] LiveRulesStatistics statistics() const;
    /// The firings so far, in the order committed (the last 100,000).
    [[nodiscard]] std::vector<LiveFiring> firings() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Checks a rule file against a graph's models and twins without running it
/// (twinsim rules add). Throws RuleFileError / IoError as LiveRules::add_file.
void check_rule_file(const std::filesystem::path& file, const graph::Snapshot& graph);

/// The rule-set files kept in a directory (LiveRulesOptions::directory):
/// adds the file to `<directory>/rules/` after checking it against `graph`,
/// returns its id; removes one (RuleFileError when absent); lists them. For
/// the CLI, which edits a store's rules without running them.
std::string keep_rule_file(const std::filesystem::path& directory, const std::filesystem::path& file,
                           const graph::Snapshot& graph);
void remove_kept_rule_set(const std::filesystem::path& directory, std::string_view id);
[[nodiscard]] std::vector<LiveRuleSetInfo> kept_rule_sets(const std::filesystem::path& directory);

}  // namespace twinsim::models
