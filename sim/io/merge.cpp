#include "twinsim/io/merge.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
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

// A shard of another job than `first`'s, or of another shard count, is refused.
void refuse_other_job(const Shard& s, const Shard& first) {
    if (s.identity.job != first.identity.job)
        refuse(s.path, "belongs to job " + s.identity.job + ", but " + first.path.string() + " to job " +
                           first.identity.job + ": shards of different jobs cannot be merged");
    if (s.identity.count != first.identity.count)
        refuse(s.path, "is shard " + shard_name(s.identity) + ", but " + first.path.string() + " is shard " +
                           shard_name(first.identity) + ": the shard counts differ");
}

}  // namespace

struct ShardMerger::Impl {
    std::filesystem::path out;
    WriterOptions options;
    ShardCheck check;
    std::vector<std::unique_ptr<Shard>> shards;  // as added; the first is the lead
    std::optional<ResultsWriter> writer;
    std::vector<std::string> scenarios;
    std::vector<ScenarioDefinition> definitions;
    // Per scenario: the added shards' records of it (parsed once, at add), until it is written;
    // and which shard holds each replication (kept, to refuse a later shard repeating one).
    std::vector<std::vector<std::pair<const Shard*, ShardRuns>>> pending;
    std::vector<std::map<std::uint32_t, const Shard*>> owner;
    std::map<std::uint32_t, const Shard*> by_index;
    std::size_t written = 0;
    MergeReport report;
    bool spent = false;

    void add(std::unique_ptr<Shard> shard);
    void write_scenario(std::size_t k);
};

void ShardMerger::Impl::add(std::unique_ptr<Shard> owned) {
    const Shard& s = *owned;
    if (!shards.empty()) {
        const Shard& first = *shards.front();
        refuse_other_job(s, first);
        if (const auto it = by_index.find(s.identity.index); it != by_index.end())
            refuse(s.path, "is shard " + shard_name(s.identity) + ", and so is " + it->second->path.string() +
                               ": the shards overlap");
        if (s.reader.scenarios() != scenarios)
            refuse(s.path, "holds other scenarios than " + first.path.string());
    } else {
        scenarios = s.reader.scenarios();
        for (const std::string& name : scenarios) definitions.push_back(s.reader.scenario(name));
        pending.resize(scenarios.size());
        owner.resize(scenarios.size());
        WriterOptions o = options;
        if (o.created.empty()) o.created = s.reader.attributes().created;
        writer.emplace(out, s.reader.attributes().identity, o);
    }
    shards.push_back(std::move(owned));
    by_index.emplace(s.identity.index, &s);
    for (std::size_t k = 0; k < scenarios.size(); ++k) {
        ShardRuns records = s.reader.read_shard_runs(scenarios[k]);
        for (const RunResults& run : records.runs) {
            const auto [it, fresh] = owner[k].emplace(run.replication, &s);
            if (!fresh)
                refuse(s.path, "holds replication " + std::to_string(run.replication) + " of scenario '" +
                                   scenarios[k] + "', and so does " + it->second->path.string() + ": the shards overlap");
        }
        if (k >= written) pending[k].emplace_back(&s, std::move(records));
    }
    while (written < scenarios.size() && owner[written].size() == definitions[written].replications)
        write_scenario(written++);
}

void ShardMerger::Impl::write_scenario(std::size_t k) {
    const std::string& scenario = scenarios[k];
    const ScenarioDefinition& definition = definitions[k];
    const ResultsReader& lead = shards.front()->reader;
    ResultsWriter& w = *writer;
    w.define_scenario(definition);
    // The interval series: each shard's replications, copied.
    const std::vector<std::string> series = lead.series_names(scenario);
    for (const std::string& name : series) {
        const SeriesData data = lead.series_info(scenario, name);
        w.define_series(scenario, {data.name, data.unit, data.twin_ids, data.times, data.model, data.property,
                                   data.description});
    }
    std::vector<std::pair<const Shard*, ShardRuns>>& records = pending[k];
    std::sort(records.begin(), records.end(),
              [](const auto& a, const auto& b) { return a.first->identity.index < b.first->identity.index; });
    std::vector<RunResults> runs;
    for (auto& [shard, record] : records) {
        const Shard& s = *shard;
        if (record.runs.empty()) continue;
        // The shard's replications as ranges of consecutive ones (a batch is one range,
        // `--shard K/N` gives ranges of one): each range read once, only its rows.
        std::vector<std::uint32_t> held;
        for (const RunResults& run : record.runs) held.push_back(run.replication);
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
                    w.write_series_chunks(scenario, name, s.reader.read_series_chunks(scenario, name, held[a], count))) {
                    a = b;
                    continue;
                }
                const std::vector<double> values = s.reader.read_series_replications(scenario, name, held[a], count);
                for (std::uint32_t r = 0; r < count; ++r)
                    w.write_series_block(scenario, name, held[a] + r, 0,
                                         std::span<const double>(values).subspan(r * cells, cells));
                a = b;
            }
        }
        std::move(record.runs.begin(), record.runs.end(), std::back_inserter(runs));
    }
    std::sort(runs.begin(), runs.end(), [](const RunResults& a, const RunResults& b) { return a.replication < b.replication; });
    CombinedScenario combined;
    try {
        combined = combine_runs(records.front().second.layout, runs);
    } catch (const std::invalid_argument& e) {
        refuse(out, std::string("cannot combine the shards: ") + e.what());
    }
    write_combined(w, scenario, combined);
    MergeReport::Scenario& merged = report.scenarios.emplace_back();
    merged.name = scenario;
    merged.summaries = std::move(combined.summaries);
    for (const RunResults& run : runs)
        if (run.failure) merged.failures.emplace_back(run.replication, *run.failure);
    records.clear();
    records.shrink_to_fit();
}

ShardMerger::ShardMerger(std::filesystem::path out, WriterOptions options, ShardCheck check)
    : impl_(std::make_unique<Impl>()) {
    impl_->out = std::move(out);
    impl_->options = std::move(options);
    impl_->check = check;
}

ShardMerger::~ShardMerger() = default;
ShardMerger::ShardMerger(ShardMerger&&) noexcept = default;
ShardMerger& ShardMerger::operator=(ShardMerger&&) noexcept = default;

void ShardMerger::add(const std::filesystem::path& path) {
    Impl& m = *impl_;
    if (m.spent) refuse(m.out, "the merge already failed or finished; no shard can be added");
    m.spent = true;  // until this add succeeds
    std::error_code error;
    if (std::filesystem::exists(m.out, error) && std::filesystem::equivalent(m.out, path, error))
        refuse(m.out, "the output file is one of the shards");
    ResultsReader reader = m.check == ShardCheck::forked_read ? ResultsReader(path) : ResultsReader::open_own_file(path);
    const std::optional<ShardIdentity> identity = reader.shard();
    if (!identity) refuse(path, "not a results shard (no shard_job attribute: written by twinsim run without --shard?)");
    m.add(std::make_unique<Shard>(Shard{path, std::move(reader), *identity}));
    m.spent = false;
}

std::size_t ShardMerger::scenarios_written() const noexcept { return impl_->written; }

MergeReport ShardMerger::finish() {
    Impl& m = *impl_;
    if (m.spent) refuse(m.out, "the merge already failed or finished");
    m.spent = true;
    if (m.shards.empty()) refuse(m.out, "no shards to merge");
    const ShardIdentity& first = m.shards.front()->identity;
    for (std::uint32_t k = 0; k < first.count; ++k)
        if (!m.by_index.contains(k))
            refuse(m.out, "shard " + std::to_string(k + 1) + "/" + std::to_string(first.count) + " of job " + first.job +
                              " is missing (" + std::to_string(m.shards.size()) + " of " + std::to_string(first.count) +
                              " shards given)");
    if (m.written < m.scenarios.size()) {
        const std::size_t k = m.written;
        std::uint32_t r = 0;
        while (m.owner[k].contains(r)) ++r;
        refuse(m.out, "replication " + std::to_string(r) + " of scenario '" + m.scenarios[k] + "' is in none of the shards");
    }
    m.writer->close();
    return std::move(m.report);
}

MergeReport merge_results(std::span<const std::filesystem::path> paths, const std::filesystem::path& out,
                          WriterOptions options, ShardCheck check) {
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

    // One job, every shard once, before anything is written.
    const Shard& first = shards.at(0);  // at(): never empty here (paths is not)
    std::map<std::uint32_t, std::size_t> by_index;
    for (std::size_t i = 0; i < shards.size(); ++i) {
        const Shard& s = shards[i];
        refuse_other_job(s, first);
        const auto [it, fresh] = by_index.emplace(s.identity.index, i);
        if (!fresh)
            refuse(s.path, "is shard " + shard_name(s.identity) + ", and so is " + shards[it->second].path.string() +
                               ": the shards overlap");
    }
    for (std::uint32_t k = 0; k < first.identity.count; ++k)
        if (!by_index.contains(k))
            refuse(out, "shard " + std::to_string(k + 1) + "/" + std::to_string(first.identity.count) + " of job " +
                            first.identity.job + " is missing (" + std::to_string(shards.size()) + " of " +
                            std::to_string(first.identity.count) + " shards given)");
    std::string created = first.reader.attributes().created;
    for (const Shard& s : shards) created = std::min(created, s.reader.attributes().created);

    options.created = created;
    ShardMerger merger(out, options, check);
    for (const auto& [index, i] : by_index) merger.impl_->add(std::make_unique<Shard>(std::move(shards[i])));
    return merger.finish();
}

}  // namespace twinsim::io
