// A scenario job run from a snapshot that went through serialize/deserialize
// (as a worker of a distributed run receives it) gives bit-identical results:
// the same KPIs, recorded series and events as the job run from the original.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "../models/models_fixtures.hpp"
#include "models/builtin.hpp"
#include "twinsim/graph/snapshot_serialization.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/scenario/runner.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;

namespace {

struct Results {
    std::vector<scenario::KpiSummary> summaries;
    std::vector<io::SeriesData> series;
    std::vector<std::vector<io::EventRecord>> events;
    std::vector<std::vector<io::KpiRow>> kpis;
};

/// Bit for bit (NaN equals NaN).
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

Results run_from(const graph::Snapshot& base, const std::filesystem::path& out) {
    std::vector<scenario::ScenarioSpec> specs;
    for (const char* file : {"hot-day-chiller-fails.yaml", "hot-day-precooling.yaml"}) {
        scenario::ScenarioSpec spec =
            scenario::read_scenario_file(test::source_dir() / "scenarios" / "building" / file);
        spec.replications = 2;
        specs.push_back(std::move(spec));
    }
    const auto prepared = scenario::prepare_all(specs, base, models::builtin_registry());
    scenario::RunnerOptions options;
    options.threads = 2;
    options.writer.sync = false;
    const scenario::JobResult job = scenario::run_job(prepared, out, options);
    REQUIRE(job.failures.empty());
    Results r;
    r.summaries = job.kpis;
    io::ResultsReader reader(out);
    for (const std::string& s : reader.scenarios()) {
        for (const std::string& n : reader.series_names(s)) r.series.push_back(reader.read_series(s, n));
        r.events.push_back(reader.read_events(s));
        r.kpis.push_back(reader.read_kpis(s));
    }
    return r;
}

}  // namespace

TEST_CASE("runner: a job from a serialised and restored snapshot gives bit-identical results", "[runner]") {
    const graph::Snapshot& original = test::sample_building();
    const std::string bytes = graph::serialize(original);
    const graph::Snapshot restored = graph::deserialize(bytes);  // models compiled from the bytes

    const auto dir = std::filesystem::temp_directory_path() / ("twinsim-roundtrip-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const Results a = run_from(original, dir / "original.h5");
    const Results b = run_from(restored, dir / "restored.h5");
    std::filesystem::remove_all(dir);

    REQUIRE(a.series.size() == b.series.size());
    REQUIRE_FALSE(a.series.empty());
    for (std::size_t i = 0; i < a.series.size(); ++i) {
        INFO(a.series[i].name);
        CHECK(a.series[i].twin_ids == b.series[i].twin_ids);
        CHECK(same_bits(a.series[i].times, b.series[i].times));
        CHECK(same_bits(a.series[i].values, b.series[i].values));
    }
    CHECK(a.events == b.events);
    CHECK(a.kpis == b.kpis);
    REQUIRE(a.summaries.size() == b.summaries.size());
    REQUIRE_FALSE(a.summaries.empty());
    for (std::size_t i = 0; i < a.summaries.size(); ++i) {
        INFO(a.summaries[i].scenario << ": " << a.summaries[i].name);
        CHECK(a.summaries[i].n == b.summaries[i].n);
        CHECK(same_bits(a.summaries[i].mean, b.summaries[i].mean));
        CHECK(same_bits(a.summaries[i].std, b.summaries[i].std));
    }
    // The job did something worth comparing: the chiller failed in every run.
    std::size_t failures = 0;
    for (const auto& e : a.events[0])
        if (e.type == "failure") ++failures;
    CHECK(failures == 2);
}
