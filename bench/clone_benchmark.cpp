// `twinsim-bench clone`: scenario runs cloned from a snapshot of the graph
// benchmark's building-like graph (bench/building_generator.hpp; 1,000,000
// twins by default). Measures TwinGraph::from_snapshot (what a scenario::Run is
// built on) kept alive `runs` times, scenario::Run creation (clone + kernel),
// and clone + a write of 1 % of the twins' worth of one numeric property
// (room temperature) through write_properties, with the bytes copy-on-write
// copied per clone (GraphStats) and memory (VmRSS). One JSON object.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bench_support.hpp"
#include "building_generator.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/kernel/rng.hpp"
#include "twinsim/scenario/run.hpp"

namespace twinsim::bench {
namespace {

double micros(double seconds) { return seconds * 1e6; }

struct Written {
    Stats micros;  ///< clone + writes, per run
    double mean_bytes = 0.0, mean_chunks = 0.0, mean_directories = 0.0;
    std::uint64_t max_bytes = 0;
};

/// `runs` clones, each writing `count` values of `column` to twins from `pick`
/// (called with the run number and the run's random stream); each clone is
/// dropped after its stats are read (dropping is not timed).
template <class Pick>
Written clone_and_write(const graph::Snapshot& base, int runs, std::uint32_t column, std::size_t count, Pick&& pick) {
    Written out;
    std::vector<double> seconds;
    std::vector<graph::PropertyWrite> writes(count);
    double bytes = 0.0, chunks = 0.0, dirs = 0.0;
    for (int r = 0; r < runs; ++r) {
        kernel::RandomStream random(kernel::StreamId{20240601, 0, static_cast<std::uint64_t>(r)}, 0);
        for (std::size_t i = 0; i < count; ++i)
            writes[i] = {pick(i, random), column, 15.0 + 10.0 * random.uniform01(), std::nullopt};
        const auto start = std::chrono::steady_clock::now();
        auto clone = graph::TwinGraph::from_snapshot(base);
        clone->write_properties(writes);
        seconds.push_back(micros(seconds_since(start)));
        const graph::GraphStats s = clone->stats();
        bytes += static_cast<double>(s.bytes_copied);
        chunks += static_cast<double>(s.chunks_copied);
        dirs += static_cast<double>(s.directories_copied);
        if (s.bytes_copied > out.max_bytes) out.max_bytes = s.bytes_copied;
    }
    out.micros = stats(seconds);
    out.mean_bytes = bytes / runs;
    out.mean_chunks = chunks / runs;
    out.mean_directories = dirs / runs;
    return out;
}

}  // namespace

int run_clone(const CloneOptions& options) {
    const std::size_t n = options.twins;
    const int runs = options.runs;
    const ScratchFile scratch("clone");
    const std::filesystem::path& file = scratch.path();

    (void)write_building_file(file, n, options.seed);
    graph::Snapshot base;
    {
        graph::TwinGraph g;
        const graph::ImportStats imported = graph::import_ndjson(g, file);
        if (imported.twins != n) throw std::runtime_error("the import loaded " + std::to_string(imported.twins) + " twins");
        base = g.snapshot();
    }  // only the snapshot holds the state now
    std::filesystem::remove(file);
    const std::uint64_t rss_base = resident_bytes_trimmed();

    // The property written: room temperature; 1 % of the twins' count of writes.
    const char* model = "dtmi:twinsim:bench:Room;1";
    const graph::NumericColumn rooms = base.numeric_column(model, "temperature", false);
    if (rooms.twins.empty()) throw std::runtime_error("no room has a temperature");
    const std::uint32_t column = base.models()->get(model).layout.find("temperature")->column;
    const std::size_t count = std::max<std::size_t>(1, n / 100);

    // 1. Creation only: `runs` clones kept alive at once.
    std::vector<std::unique_ptr<graph::TwinGraph>> clones;
    clones.reserve(static_cast<std::size_t>(runs));
    std::vector<double> create_micros;
    for (int r = 0; r < runs; ++r) {
        const auto start = std::chrono::steady_clock::now();
        clones.push_back(graph::TwinGraph::from_snapshot(base));
        create_micros.push_back(micros(seconds_since(start)));
    }
    std::uint64_t idle_bytes_copied = 0;
    for (const auto& c : clones) idle_bytes_copied += c->stats().bytes_copied;
    const std::uint64_t rss_idle = resident_bytes_trimmed();
    clones.clear();
    const Stats create = stats(create_micros);

    // 2. scenario::Run creation (clone + kernel + random stream), kept alive too.
    std::vector<std::unique_ptr<scenario::Run>> run_objects;
    run_objects.reserve(static_cast<std::size_t>(runs));
    std::vector<double> run_micros;
    for (int r = 0; r < runs; ++r) {
        scenario::RunOptions o;
        o.stream = {options.seed, 0, static_cast<std::uint64_t>(r)};
        const auto start = std::chrono::steady_clock::now();
        run_objects.push_back(std::make_unique<scenario::Run>(base, o));
        run_micros.push_back(micros(seconds_since(start)));
    }
    run_objects.clear();
    const Stats run_create = stats(run_micros);

    // 3. Clone + write 1 %: twins drawn at random over all rooms (the worst
    // case for copy-on-write), then a contiguous block of rooms.
    const Written scattered = clone_and_write(base, runs, column, count, [&](std::size_t, kernel::RandomStream& random) {
        return rooms.twins[random.below(rooms.twins.size())];
    });
    const Written clustered = clone_and_write(base, runs, column, count, [&](std::size_t i, kernel::RandomStream&) {
        return rooms.twins[i % rooms.twins.size()];
    });
    const std::uint64_t peak = proc_status_bytes("VmHWM");

    using json = nlohmann::ordered_json;
    constexpr double create_target_micros = 10.0;
    json out;
    out["benchmark"] = "clone";
    out["twins"] = n;
    out["runs"] = runs;
    out["property"] = {{"model", model}, {"name", "temperature"}, {"rooms", rooms.twins.size()}, {"writes_per_run", count}};
    out["clone"] = {{"median_micros", create.median},
                    {"min_micros", create.min},
                    {"bytes_copied_total", idle_bytes_copied},
                    {"target_micros", create_target_micros},
                    {"meets_target", create.median < create_target_micros},
                    {"note", "TwinGraph::from_snapshot, all runs kept alive"}};
    out["run_create"] = {{"median_micros", run_create.median},
                         {"min_micros", run_create.min},
                         {"note", "scenario::Run: clone + kernel::Simulator + random stream"}};
    auto written = [](const Written& w, const char* note) {
        return json{{"median_micros", w.micros.median},
                    {"min_micros", w.micros.min},
                    {"bytes_copied_per_clone", w.mean_bytes},
                    {"max_bytes_copied", w.max_bytes},
                    {"chunks_copied_per_clone", w.mean_chunks},
                    {"directories_copied_per_clone", w.mean_directories},
                    {"note", note}};
    };
    out["clone_and_write_scattered"] =
        written(scattered, "from_snapshot + one write_properties of writes_per_run random rooms; bytes from GraphStats");
    out["clone_and_write_clustered"] =
        written(clustered, "from_snapshot + one write_properties of the first writes_per_run rooms");
    out["memory"] = {{"rss_base_bytes", rss_base},
                     {"rss_with_idle_clones_bytes", rss_idle},
                     {"bytes_per_idle_clone", runs > 0 && rss_idle > rss_base
                                                  ? static_cast<double>(rss_idle - rss_base) / runs
                                                  : 0.0},
                     {"peak_rss_bytes", peak},
                     {"note", "VmRSS after malloc_trim(0): the snapshot alone, then with every clone of step 1 alive"}};
    std::cout << out.dump(2) << '\n';
    return exit_ok;
}

}  // namespace twinsim::bench
