#include "twinsim/scenario/plan.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string_view>
#include <type_traits>

#include "twinsim/common/error.hpp"
#include "twinsim/common/hash.hpp"
#include "twinsim/scenario/errors.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::scenario {

namespace {

/// Two FNV-1a lanes with different offsets: 128 bits, so that unrelated
/// graphs or jobs do not collide by accident (not a defence against forgery).
class Digest {
public:
    void add(std::string_view text) {
        a_ = fnv1a64(text, a_);
        b_ = fnv1a64(text, b_);
        // A separator no text holds, so ("ab", "c") and ("a", "bc") differ.
        a_ = fnv1a64_byte(a_, 0x100U);
        b_ = fnv1a64_byte(b_, 0x100U);
    }
    [[nodiscard]] std::string hex() const {
        char text[33];
        std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(a_),
                      static_cast<unsigned long long>(b_));
        return text;
    }

private:
    std::uint64_t a_ = fnv1a64_offset;
    std::uint64_t b_ = 0x84222325cbf29ce4ULL;
};

/// Drops what differs between two loads of the same content: etags and update times.
void strip_stamps(nlohmann::json& j) {
    if (!j.is_object()) return;
    j.erase("$etag");
    for (auto& [key, value] : j.items()) {
        if (key == "$metadata" && value.is_object()) {
            value.erase("$lastUpdateTime");
            for (auto& [property, meta] : value.items())
                if (meta.is_object()) meta.erase("lastUpdateTime");
        } else {
            strip_stamps(value);
        }
    }
}

[[noreturn]] void bad_task(const std::string& field, const std::string& reason) {
    throw ScenarioError("", 0, "task." + field, reason);
}

template <class T>
T field(const nlohmann::json& document, const char* name, const char* type) {
    if (!document.contains(name)) bad_task(name, "missing");
    if constexpr (std::is_unsigned_v<T>) {
        if (!document.at(name).is_number_unsigned())
            bad_task(name, std::string("expected ") + type + ", got " + document.at(name).dump());
    }
    try {
        return document.at(name).get<T>();
    } catch (const nlohmann::json::exception&) {
        bad_task(name, std::string("expected ") + type + ", got " + document.at(name).dump());
    }
}

}  // namespace

std::string snapshot_digest(const graph::Snapshot& snapshot) {
    Digest d;
    for (const graph::ModelInfo& m : snapshot.list_models()) {
        d.add(m.id);
        d.add(m.decommissioned ? "1" : "0");
    }
    for (const graph::TwinIndex t : snapshot.twins()) {
        nlohmann::json twin = snapshot.get_twin(t);
        strip_stamps(twin);
        d.add(twin.dump());
    }
    for (std::size_t r = 0; r < snapshot.relationship_capacity(); ++r) {
        const auto index = static_cast<graph::RelationshipIndex>(r);
        if (!snapshot.relationship_alive(index)) continue;
        nlohmann::json relationship = snapshot.get_relationship(index);
        relationship.erase("$etag");
        d.add(relationship.dump());
    }
    return d.hex();
}

namespace {

// Every replication of every scenario in job order. With `job`, each task also
// carries its concrete spec and its base's digest, and the spec and digest of each
// scenario are added to `job` (plan_job); without, neither is computed (list_tasks).
std::vector<RunTask> enumerate_tasks(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios,
                                     Digest* job) {
    std::vector<RunTask> tasks;
    std::map<const graph::detail::GraphState*, std::string> digests;  // one digest per distinct base
    for (std::size_t i = 0; i < scenarios.size(); ++i) {
        const auto& s = scenarios[i];
        nlohmann::ordered_json spec;
        const std::string* digest = nullptr;
        if (job != nullptr) {
            auto [it, fresh] = digests.try_emplace(&s->base.state());
            if (fresh) it->second = snapshot_digest(s->base);
            digest = &it->second;
            spec = to_json(s->spec);
            job->add(spec.dump());
            job->add(*digest);
        }
        for (std::uint32_t r = 0; r < s->spec.replications; ++r) {
            RunTask task;
            task.index = tasks.size();
            task.scenario_index = static_cast<std::uint32_t>(i);
            task.scenario = s->spec.name;
            if (job != nullptr) {
                task.spec = spec;
                task.base = {s->spec.base, *digest};
            }
            task.replication = r;
            task.seed = s->spec.seed;
            tasks.push_back(std::move(task));
        }
    }
    return tasks;
}

}  // namespace

JobPlan plan_job(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios) {
    JobPlan plan;
    Digest job;
    plan.tasks = enumerate_tasks(scenarios, &job);
    plan.job = job.hex();
    for (RunTask& task : plan.tasks) task.job = plan.job;
    return plan;
}

std::vector<RunTask> list_tasks(const std::vector<std::shared_ptr<const PreparedScenario>>& scenarios) {
    return enumerate_tasks(scenarios, nullptr);
}

std::vector<RunTask> shard_tasks(const JobPlan& plan, std::uint32_t shard, std::uint32_t count) {
    if (count == 0) throw Error("shard_tasks: the shard count must be at least 1");
    if (shard >= count)
        throw Error("shard_tasks: shard " + std::to_string(shard) + " does not exist (shards 0.." +
                    std::to_string(count - 1) + ")");
    std::vector<RunTask> out;
    for (const RunTask& task : plan.tasks)
        if (task.index % count == shard) out.push_back(task);
    return out;
}

std::size_t batch_count(const JobPlan& plan, std::size_t batch_size) {
    if (batch_size == 0) throw Error("batch_count: the batch size must be at least 1");
    return (plan.tasks.size() + batch_size - 1) / batch_size;
}

std::vector<std::size_t> batch_task_indices(const JobPlan& plan, std::size_t batch, std::size_t batch_size) {
    const std::size_t count = batch_count(plan, batch_size);
    if (batch >= count)
        throw Error("batch_task_indices: batch " + std::to_string(batch) + " does not exist (the job has " +
                    std::to_string(count) + " batches of " + std::to_string(batch_size) + " tasks)");
    std::vector<std::size_t> out;
    for (std::size_t i = batch * batch_size; i < std::min(plan.tasks.size(), (batch + 1) * batch_size); ++i)
        out.push_back(i);
    return out;
}

nlohmann::ordered_json to_json(const RunTask& task) {
    nlohmann::ordered_json j;
    j["job"] = task.job;
    j["index"] = task.index;
    j["scenario_index"] = task.scenario_index;
    j["scenario"] = task.scenario;
    j["spec"] = task.spec;
    j["base"] = {{"id", task.base.id}, {"digest", task.base.digest}};
    j["replication"] = task.replication;
    j["seed"] = task.seed;
    return j;
}

RunTask task_from_json(const nlohmann::json& document) {
    if (!document.is_object()) throw ScenarioError("", 0, "task", "expected a JSON object, got " + document.dump());
    RunTask task;
    task.job = field<std::string>(document, "job", "a string");
    task.index = field<std::size_t>(document, "index", "a non-negative integer");
    task.scenario_index = field<std::uint32_t>(document, "scenario_index", "a non-negative integer");
    task.scenario = field<std::string>(document, "scenario", "a string");
    if (!document.contains("spec")) bad_task("spec", "missing");
    if (!document.at("spec").is_object()) bad_task("spec", "expected an object, got " + document.at("spec").dump());
    // Through the spec reader: checked, and in to_json's key order again
    // (a parse with nlohmann::json sorts keys).
    task.spec = to_json(from_json(nlohmann::ordered_json(document.at("spec"))));
    const auto base = field<nlohmann::json>(document, "base", "an object");
    if (!base.is_object()) bad_task("base", "expected an object, got " + base.dump());
    if (!base.contains("id") || !base.at("id").is_string()) bad_task("base.id", "expected a string");
    if (!base.contains("digest") || !base.at("digest").is_string()) bad_task("base.digest", "expected a string");
    task.base = {base.at("id").get<std::string>(), base.at("digest").get<std::string>()};
    task.replication = field<std::uint32_t>(document, "replication", "a non-negative integer");
    task.seed = field<std::uint64_t>(document, "seed", "a non-negative integer");
    return task;
}

std::shared_ptr<const PreparedScenario> prepare_task(const RunTask& task, const graph::Snapshot& base,
                                                     const ModelRegistry& registry) {
    const std::string digest = snapshot_digest(base);
    if (digest != task.base.digest)
        throw ScenarioError("", 0, "task.base.digest",
                            "the base graph given has digest " + digest + ", the task was planned against " +
                                task.base.digest + " (" + task.base.id + ")");
    const ScenarioSpec spec = from_json(task.spec);
    if (spec.name != task.scenario)
        throw ScenarioError("", 0, "task.scenario",
                            "the task names scenario \"" + task.scenario + "\" but its spec is \"" + spec.name + "\"");
    if (task.replication >= spec.replications)
        throw ScenarioError("", 0, "task.replication",
                            "replication " + std::to_string(task.replication) + " of a scenario with " +
                                std::to_string(spec.replications) + " replications");
    if (task.seed != spec.seed)
        throw ScenarioError("", 0, "task.seed",
                            "the task's seed " + std::to_string(task.seed) + " is not its spec's seed " +
                                std::to_string(spec.seed));
    return prepare(spec, base, registry, task.scenario_index);
}

}  // namespace twinsim::scenario
