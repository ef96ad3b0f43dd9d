// Fuzz target: the results reader. The input is a whole results file: it is
// written to a temporary file, opened, read entirely (attributes, scenarios,
// series and their stored chunks, events, KPIs, shard identity) and compared as `twinsim compare`
// does. A damaged file must read or throw ResultsError.
// An input that starts as a shard's binary run records do ("TSRB1\n") is also
// decoded directly (io::decode_shard_runs_binary), which a whole-file input
// reaches only through a valid shard: it must decode or throw
// std::invalid_argument, and what it decodes must encode and decode again.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/io/run_results.hpp"
#include "twinsim/scenario/compare.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    if (bytes.starts_with("TSRB1\n")) {
        try {
            const twinsim::io::ShardRuns runs = twinsim::io::decode_shard_runs_binary(bytes);
            (void)twinsim::io::decode_shard_runs_binary(twinsim::io::encode_shard_runs_binary(runs));
        } catch (const std::invalid_argument&) {
        }
        return 0;
    }
    const std::filesystem::path& path = twinsim::fuzz::input_as_file(data, size, "results");
    try {
        const twinsim::io::ResultsReader reader(path);
        (void)reader.attributes();
        (void)reader.shard();
        for (const std::string& scenario : reader.scenarios()) {
            (void)reader.scenario(scenario);
            for (const std::string& series : reader.series_names(scenario)) {
                const twinsim::io::SeriesData values = reader.read_series(scenario, series);
                // The stored chunks, as an own-files merge copies them (bounded like a read).
                (void)reader.read_series_chunks(scenario, series, 0, values.replications);
            }
            (void)reader.read_events(scenario);
            (void)reader.read_kpis(scenario);
            try {
                (void)reader.read_shard_runs(scenario);
            } catch (const twinsim::io::ResultsError&) {
            }
        }
        (void)twinsim::scenario::compare(reader);
    } catch (const twinsim::io::ResultsError&) {
    }
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return 0;
}
