#pragma once
// Merging results shards. `twinsim run --shard K/N` (scenario::run_job with
// RunnerOptions::shard_*) writes the results of the tasks K-1, K-1+N, ... of a
// job into a shard: the file layout of docs/results-format.md with the
// shard's interval series, root attributes naming the job and the shard, and
// per scenario the shard's finished runs unreduced. merge_results combines the
// N shards of a job into the file one process running the whole job writes:
// every dataset, dimension scale and attribute equal, except `created`, which
// is the earliest of the shards' (when the job's results began to be written).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "twinsim/io/errors.hpp"
#include "twinsim/io/results_writer.hpp"
#include "twinsim/io/run_results.hpp"

namespace twinsim::io {

/// Writes `out` from the shards (in any order) of one job, through a
/// temporary file renamed into place when complete (options as for
/// ResultsWriter; options.created is ignored). Throws ResultsError, naming the
/// file and why, when: no shards are given; a file cannot be read or is not a
/// shard; shards belong to different jobs or give different shard counts; two
/// files are the same shard, or hold the same replication; a shard of the job
/// is missing; `out` is one of the shards; or `out` cannot be written. No
/// file is left at `out` on failure.
/// What merge_results wrote, besides the file: each scenario's KPI summaries
/// and the runs that failed (as the runner reports them for a whole job).
struct MergeReport {
    struct Scenario {
        std::string name;
        std::vector<KpiSummaryRow> summaries;  ///< by (KPI, selection) in first-seen order
        std::vector<std::pair<std::uint32_t, std::string>> failures;  ///< (replication, message), by replication
    };
    std::vector<Scenario> scenarios;  ///< in file order
};

/// How merge_results opens the shards. forked_read: as any outside file, read
/// whole in a forked child first (ResultsReader's constructor). own_files:
/// shards this library wrote and that reached the caller intact (a
/// distributed job's shards, returned by its own workers): structure checked
/// in process (ResultsReader::open_own_file), each shard's series read once,
/// only the rows of its replications, and copied as stored chunks (not decoded
/// and compressed again) when the shard's layout and filters are the output's.
enum class ShardCheck { forked_read, own_files };

MergeReport merge_results(std::span<const std::filesystem::path> shards, const std::filesystem::path& out,
                          WriterOptions options = {}, ShardCheck check = ShardCheck::forked_read);

/// The merge of merge_results fed one shard at a time, as the shards of a
/// distributed job come back: each scenario is combined and written as soon as
/// the shards added so far hold all its replications (in file order: a scenario
/// waits for the ones before it), so the merge runs while later batches still
/// run and only the last batch's scenarios are left for finish(). The file is
/// the one merge_results writes, except `created`: options.created when given,
/// else the first shard added's. Shards may come in any order. add() throws
/// ResultsError as merge_results does for the shard it is given (not a shard,
/// another job or shard count, the same shard or replication twice, other
/// scenarios than the first shard's, or a write error); finish() throws it when a
/// shard of the job is missing or no shard was added. After a throw the merger
/// is spent: nothing is left at `out` (the temporary file goes with the merger).
class ShardMerger {
public:
    ShardMerger(std::filesystem::path out, WriterOptions options = {}, ShardCheck check = ShardCheck::forked_read);
    ~ShardMerger();
    ShardMerger(ShardMerger&&) noexcept;
    ShardMerger& operator=(ShardMerger&&) noexcept;
    ShardMerger(const ShardMerger&) = delete;
    ShardMerger& operator=(const ShardMerger&) = delete;

    /// Opens the shard (as `check` says), checks it against the shards before it
    /// and writes every scenario it completes.
    void add(const std::filesystem::path& shard);
    /// Scenarios written so far (of scenarios(): 0 before the first add).
    [[nodiscard]] std::size_t scenarios_written() const noexcept;
    /// Checks that every shard came, closes the file (renamed into place) and
    /// returns what was merged.
    MergeReport finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    friend MergeReport merge_results(std::span<const std::filesystem::path>, const std::filesystem::path&,
                                     WriterOptions, ShardCheck);
};

}  // namespace twinsim::io
