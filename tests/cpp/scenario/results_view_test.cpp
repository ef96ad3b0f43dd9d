// scenario::describe_results and scenario::sparkline (the explorer's what-if
// view, served by `twinsim serve --results`) on a small results file written
// here, with values whose summaries are known.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/io/results_writer.hpp"
#include "twinsim/scenario/results_view.hpp"

namespace fs = std::filesystem;
using namespace twinsim;

namespace {

struct TempFile {
    fs::path dir = fs::temp_directory_path() / ("twinsim-results-view-" + std::to_string(::getpid()));
    TempFile() { fs::create_directories(dir); }
    ~TempFile() {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }
};

/// Two scenarios of 2 replications; series x over twins a and b at 10 times:
/// replication r of twin a holds t + 2r (t = 0..9), except time 9 never
/// written; KPI util over each twin (a: 0.2 and 0.4, b: 0.6 and 0.8) and one
/// over the plant.
fs::path write_file(const fs::path& dir) {
    const fs::path path = dir / "view.h5";
    io::ResultsWriter writer(path, {"graph.ndjson", "v1", "results view test"});
    for (const std::string name : {"base", "more"}) {
        writer.define_scenario({name, "", R"({"name":")" + name + R"("})", "{}", 7, 2, "2026-01-01T00:00:00Z"});
        io::SeriesDefinition x;
        x.name = "x";
        x.unit = "kW";
        x.twin_ids = {"a", "b"};
        x.property = "power";
        for (int t = 0; t < 10; ++t) x.times.push_back(60.0 * t);
        writer.define_series(name, x);
        const double shift = name == "base" ? 0.0 : 1.0;
        for (std::uint32_t r = 0; r < 2; ++r) {
            std::vector<double> block;
            for (int t = 0; t < 9; ++t) {
                block.push_back(t + 2.0 * r + shift);
                block.push_back(-1.0);
            }
            writer.write_series_block(name, "x", r, 0, block);
            writer.write_kpis(name, std::vector<io::KpiRow>{
                                        {"util", "a", "final", static_cast<std::int32_t>(r), "", 0.2 + 0.2 * r + shift, "1"},
                                        {"util", "b", "final", static_cast<std::int32_t>(r), "", 0.6 + 0.2 * r + shift, "1"},
                                        {"output", "plant", "final", static_cast<std::int32_t>(r), "", 100.0 + r, "1"}});
        }
    }
    writer.close();
    return path;
}

}  // namespace

TEST_CASE("results view: scenarios, series and KPIs by selection", "[results_view]") {
    TempFile tmp;
    const io::ResultsReader reader(write_file(tmp.dir));
    const auto d = scenario::describe_results(reader);
    CHECK(d["file"] == "view.h5");
    REQUIRE(d["scenarios"].size() == 2);
    const auto& base = d["scenarios"][0];
    CHECK(base["name"] == "base");
    CHECK(base["replications"] == 2);
    REQUIRE(base["series"].size() == 1);
    CHECK(base["series"][0]["unit"] == "kW");
    CHECK(base["series"][0]["twins"] == nlohmann::json::array({"a", "b"}));
    REQUIRE(base["kpis"].size() == 2);
    CHECK(base["kpis"][0]["name"] == "util");
    const auto& selections = base["kpis"][0]["selections"];
    REQUIRE(selections.size() == 2);
    CHECK(selections[0]["selection"] == "a");
    CHECK(selections[0]["mean"].get<double>() == Approx(0.3));
    CHECK(selections[1]["mean"].get<double>() == Approx(0.7));
    CHECK(selections[1]["n"] == 2);
    CHECK(d["scenarios"][1]["kpis"][0]["selections"][0]["mean"].get<double>() == Approx(1.3));
}

TEST_CASE("results view: a sparkline buckets times and averages replications", "[results_view]") {
    TempFile tmp;
    const io::ResultsReader reader(write_file(tmp.dir));
    const scenario::Sparkline s = scenario::sparkline(reader, "base", "x", "a", 5);
    CHECK(s.unit == "kW");
    CHECK(s.replications == 2);
    CHECK(s.steps == 10);
    REQUIRE(s.mean.size() == 5);
    // bucket 0: times 0 and 1; replication means 1 and 2 -> 1.5; lowest 0, highest 3
    CHECK(s.time[0] == 0.0);
    CHECK(s.mean[0] == 1.5);
    CHECK(s.low[0] == 0.0);
    CHECK(s.high[0] == 3.0);
    CHECK(s.time[1] == 120.0);
    // bucket 4: time 8 (9 never written)
    CHECK(s.mean[4] == 9.0);
    CHECK(s.high[4] == 10.0);
    // more points than times: one per time
    const scenario::Sparkline all = scenario::sparkline(reader, "base", "x", "a", 2000);
    REQUIRE(all.mean.size() == 10);
    CHECK(std::isnan(all.mean[9]));
    CHECK(scenario::to_json(all)["mean"][9].is_null());
    CHECK(scenario::sparkline(reader, "base", "x", "b", 1).mean[0] == -1.0);
    // errors say what and why
    CHECK_THROWS_WITH(scenario::sparkline(reader, "base", "x", "c", 5),
                      Catch::Contains("does not record twin 'c'") && Catch::Contains("records a, b"));
    CHECK_THROWS_WITH(scenario::sparkline(reader, "base", "x", "a", 0), Catch::Contains("1 to 2000 points"));
    CHECK_THROWS_AS(scenario::sparkline(reader, "base", "nope", "a", 5), io::ResultsError);
    CHECK_THROWS_AS(scenario::sparkline(reader, "nope", "x", "a", 5), io::ResultsError);
}
