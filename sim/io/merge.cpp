#include "twinsim/io/merge.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "twinsim/io/results_reader.hpp"
#include "twinsim/io/run_results.hpp"

namespace twinsim::io {

namespace {

struct Shard {
    std::filesystem::path path;
    ResultsReader reader;
    ShardIdentity identity;
};

std::string shard_name(const ShardIdentity& s) {
    return std::to_string(s.index + 1) + "/" + std::to_string(s.count);
}

[[noreturn]] void refuse(const std::filesystem::path& path, const std::string& why) {
    throw ResultsError(path.string() + ": " + why, path.string());
}

}  // namespace

MergeReport merge_results(std::span<const std::filesystem::path> paths, const std::filesystem::path& out,
                          WriterOptions options, ShardCheck check) {
    MergeReport report;
    if (paths.empty()) refuse(out, "no shards to merge");
    std::vector<Shard> shards;
    for (const std::filesystem::path& path : paths) {
        std::error_code error;
        if (std::filesystem::exists(out, error) && std::filesystem::equivalent(out, path, error))
            refuse(out, "the output file is one of the shards");
        ResultsReader reader = check == ShardCheck::forked_read ? ResultsReader(path) : ResultsReader::open_own_file(path);
        const std::optional<ShardIdentity> identity = reader.shard();
        if (!identity) refuse(path, "not a results shard (no shard_job attribute: written by twinsim run without --shard?)");
        shards.push_back({path, std::move(reader), *identity});
    }

    // One job, every shard once.
    const Shard& first = shards.front();
    std::map<std::uint32_t, const Shard*> by_index;
    for (const Shard& s : shards) {
        if (s.identity.job != first.identity.job)
            refuse(s.path, "belongs to job " + s.identity.job + ", but " + first.path.string() + " to job " +
                               first.identity.job + ": shards of different jobs cannot be merged");
        if (s.identity.count != first.identity.count)
            refuse(s.path, "is shard " + shard_name(s.identity) + ", but " + first.path.string() + " is shard " +
                               shard_name(first.identity) + ": the shard counts differ");
        const auto [it, fresh] = by_index.emplace(s.identity.index, &s);
        if (!fresh)
            refuse(s.path, "is shard " + shard_name(s.identity) + ", and so is " + it->second->path.string() +
                               ": the shards overlap");
    }
    for (std::uint32_t k = 0; k < first.identity.count; ++k)
        if (!by_index.contains(k))
            refuse(out, "shard " + std::to_string(k + 1) + "/" + std::to_string(first.identity.count) + " of job " +
                            first.identity.job + " is missing (" + std::to_string(shards.size()) + " of " +
                            std::to_string(first.identity.count) + " shards given)");
    std::vector<const Shard*> ordered;
    for (const auto& [index, s] : by_index) ordered.push_back(s);

    const ResultsReader& lead = ordered.front()->reader;
    const FileAttributes attributes = lead.attributes();
    const std::vector<std::string> scenarios = lead.scenarios();
    std::string created = attributes.created;
    for (const Shard* s : ordered) {
        if (s->reader.scenarios() != scenarios)
            refuse(s->path, "holds other scenarios than " + ordered.front()->path.string());
        created = std::min(created, s->reader.attributes().created);
    }

    options.created = created;
    ResultsWriter writer(out, attributes.identity, options);
    for (const std::string& scenario : scenarios) {
        const ScenarioDefinition definition = lead.scenario(scenario);
        writer.define_scenario(definition);
        // The interval series: each shard's replications, copied.
        const std::vector<std::string> series = lead.series_names(scenario);
        std::vector<ShardRuns> records;
        for (const Shard* s : ordered) records.push_back(s->reader.read_shard_runs(scenario));
        for (const std::string& name : series) {
            const SeriesData data = lead.series_info(scenario, name);
            writer.define_series(scenario, {data.name, data.unit, data.twin_ids, data.times, data.model, data.property,
                                            data.description});
        }
        std::map<std::uint32_t, const Shard*> owner;
        std::vector<RunResults> runs;
        for (std::size_t i = 0; i < ordered.size(); ++i) {
            const Shard& s = *ordered[i];
            for (const RunResults& run : records[i].runs) {
                const auto [it, fresh] = owner.emplace(run.replication, &s);
                if (!fresh)
                    refuse(s.path, "holds replication " + std::to_string(run.replication) + " of scenario '" + scenario +
                                       "', and so does " + it->second->path.string() + ": the shards overlap");
            }
            if (records[i].runs.empty()) continue;
            // The shard's replications as ranges of consecutive ones (a batch is one range,
            // `--shard K/N` gives ranges of one): each range read once, only its rows.
            std::vector<std::uint32_t> held;
            for (const RunResults& run : records[i].runs) held.push_back(run.replication);
            std::sort(held.begin(), held.end());
            for (const std::string& name : series) {
                const SeriesData data = s.reader.series_info(scenario, name);
                const std::size_t cells = data.times.size() * data.twin_ids.size();
                if (data.replications != definition.replications)
                    refuse(s.path, "series '" + name + "' of scenario '" + scenario + "' has " +
                                       std::to_string(data.replications) + " replications, not " +
                                       std::to_string(definition.replications));
                if (cells == 0) continue;
                for (std::size_t a = 0; a < held.size();) {
                    std::size_t b = a + 1;
                    while (b < held.size() && held[b] == held[b - 1] + 1) ++b;
                    const auto count = static_cast<std::uint32_t>(b - a);
                    // Our own shards: their chunks (one replication each) copied as stored, not
                    // decoded and compressed again, when the layouts agree (they do unless the
                    // shards were written with other writer options).
                    if (check == ShardCheck::own_files &&
                        writer.write_series_chunks(scenario, name, s.reader.read_series_chunks(scenario, name, held[a], count))) {
                        a = b;
                        continue;
                    }
                    const std::vector<double> values = s.reader.read_series_replications(scenario, name, held[a], count);
                    for (std::uint32_t k = 0; k < count; ++k)
                        writer.write_series_block(scenario, name, held[a] + k, 0,
                                                  std::span<const double>(values).subspan(k * cells, cells));
                    a = b;
                }
            }
            runs.insert(runs.end(), records[i].runs.begin(), records[i].runs.end());
        }
        for (std::uint32_t r = 0; r < definition.replications; ++r)
            if (!owner.contains(r))
                refuse(out, "replication " + std::to_string(r) + " of scenario '" + scenario + "' is in none of the shards");
        std::sort(runs.begin(), runs.end(),
                  [](const RunResults& a, const RunResults& b) { return a.replication < b.replication; });
        CombinedScenario combined;
        try {
            combined = combine_runs(records.front().layout, runs);
        } catch (const std::invalid_argument& e) {
            refuse(out, std::string("cannot combine the shards: ") + e.what());
        }
        write_combined(writer, scenario, combined);
        MergeReport::Scenario& merged = report.scenarios.emplace_back();
        merged.name = scenario;
        merged.summaries = std::move(combined.summaries);
        for (const RunResults& run : runs)
            if (run.failure) merged.failures.emplace_back(run.replication, *run.failure);
    }
    writer.close();
    return report;
}

}  // namespace twinsim::io
