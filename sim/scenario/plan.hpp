#pragma once
// Stage 1 of a job (plan, execute, reduce; docs/runner.md): the job's
// scenarios become a list of run tasks, one per replication, each
// serialisable to JSON so that another thread, process or machine can execute
// it. A task names its scenario by the concrete spec (enough to prepare it
// again: prepare_task), its base graph by a reference (an id and a content
// digest), its replication and the seed of its random streams.
//
// The job id is a digest of every task's content (spec, base digest,
// replication, seed), not of where the files lie: two processes that plan the
// same scenario files against the same base graph plan the same job, which is
// what lets results shards of one job be merged (io::merge_results) and shards
// of different jobs be told apart.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "twinsim/scenario/prepared_scenario.hpp"

namespace twinsim::scenario {

/// Where a task's base graph comes from.
struct BaseReference {
    std::string id;      ///< the spec's `base` as written: a path relative to the scenario file, or "live"
    std::string digest;  ///< snapshot_digest() of the base snapshot (before the scenario's edits)
    friend bool operator==(const BaseReference&, const BaseReference&) = default;
};

/// One replication of one scenario of a job.
struct RunTask {
    std::string job;                  ///< the job id (the same for every task of the job)
    std::size_t index = 0;            ///< position in the job's task list
    std::uint32_t scenario_index = 0; ///< the scenario's position in the job (results order)
    std::string scenario;             ///< the scenario's name
    nlohmann::ordered_json spec;      ///< the concrete spec (scenario::to_json; no sweep)
    BaseReference base;
    std::uint32_t replication = 0;
    std::uint64_t seed = 0;           ///< the root of the run's random streams (the spec's seed)
    friend bool operator==(const RunTask&, const RunTask&) = default;
};

/// A planned job: its id and its tasks, scenario by scenario, replications in order.
struct JobPlan {
    std::string job;
    std::vector<RunTask> tasks;
};

/// Plans every replication of every scenario. Each distinct base snapshot is
/// digested once (O(twins + relationships)). Preconditions: scenarios are
/// prepared (prepare/prepare_all) with unique names; their `index` is their position.
[[nodiscard]] JobPlan plan_job(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios);

/// The job's tasks as plan_job lists them (same order, index, scenario, replication
/// and seed) without the job's id: no base is digested and no spec rendered, so
/// `job`, `spec` and `base` stay empty. A whole job executes these; a shard, a batch
/// and a merge need plan_job's id. Same preconditions as plan_job; does not throw.
[[nodiscard]] std::vector<RunTask> list_tasks(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios);

/// Which tasks shard `shard` (0-based) of `count` executes: task i belongs to
/// shard i mod count, so every shard gets a share of every scenario. Throws
/// twinsim::Error when count == 0 or shard >= count.
[[nodiscard]] std::vector<RunTask> shard_tasks(const JobPlan& plan, std::uint32_t shard, std::uint32_t count);

/// Batches: the job's tasks cut into consecutive runs of `batch_size` (the
/// last one shorter), the unit a resumable job checkpoints (resume.hpp) and a
/// distributed job sends to a worker. batch_count = ceil(tasks / batch_size);
/// batch_task_indices(plan, b, size) = [b * size, min((b + 1) * size, tasks)).
/// Both throw twinsim::Error when batch_size == 0; the second when b >= batch_count.
[[nodiscard]] std::size_t batch_count(const JobPlan& plan, std::size_t batch_size);
[[nodiscard]] std::vector<std::size_t> batch_task_indices(const JobPlan& plan, std::size_t batch, std::size_t batch_size);

/// The task as JSON: {"job", "index", "scenario_index", "scenario", "spec",
/// "base": {"id", "digest"}, "replication", "seed"}. task_from_json(to_json(t)) == t.
[[nodiscard]] nlohmann::ordered_json to_json(const RunTask& task);
/// Throws ScenarioError naming the missing or mistyped field ("task.<field>"),
/// or the spec's own field when the spec is not a valid scenario.
[[nodiscard]] RunTask task_from_json(const nlohmann::json& document);

/// A content digest of a snapshot (32 hex digits): its models and its twins
/// and relationships with their properties, in index order, without etags and
/// update times, so that two processes that load the same file get the same
/// digest. Not cryptographic: it tells bases apart, it does not authenticate them.
[[nodiscard]] std::string snapshot_digest(const graph::Snapshot& snapshot);

/// Prepares the task's scenario again, in another thread or process: parses
/// its spec and prepares it against `base`. Throws ScenarioError when `base`
/// does not have the task's base digest or the spec cannot be prepared.
[[nodiscard]] std::shared_ptr<const PreparedScenario> prepare_task(const RunTask& task, const graph::Snapshot& base,
                                                                   const ModelRegistry& registry);

}  // namespace twinsim::scenario
