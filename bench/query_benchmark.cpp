// `twinsim-bench query`: the query language on the graph benchmark's generated
// building-like graph (bench/building_generator.hpp; 1,000,000 twins by
// default). Each question is timed end to end through query::query_twins
// (parse, plan, run, build the result rows; all rows in one page) on one
// snapshot, several times; the median is reported with its row count, target
// and meets_target. One JSON object. The Python comparison (networkx node
// attributes and pandas frames answering the same questions) is
// bench/query_baseline.py; bench/compare_query.py runs both.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "building_generator.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/query/query.hpp"

namespace twinsim::bench {
namespace {

struct Question {
    const char* key;
    const char* what;
    std::string query;
    double target_seconds;
    int runs;
};

struct Timing {
    Stats stats;
    std::size_t rows = 0;
    nlohmann::json first_row;
};

/// Runs `query` `runs` times (after one untimed warm-up run) and returns the
/// median and minimum time and the row count (which must not change).
Timing time_query(const graph::Snapshot& snapshot, const std::string& text, int runs) {
    query::QueryOptions options;
    options.page_size = 0;  // every row in one page: the time is the whole answer
    Timing out;
    const query::QueryResult warm = query::query_twins(snapshot, text, options);
    out.rows = warm.rows.size();
    if (!warm.rows.empty()) out.first_row = warm.rows.front();
    if (!warm.continuation_token.empty()) throw std::runtime_error("page_size 0 returned a continuation token");
    std::vector<double> seconds;
    for (int i = 0; i < runs; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const query::QueryResult result = query::query_twins(snapshot, text, options);
        seconds.push_back(seconds_since(start));
        if (result.rows.size() != out.rows) throw std::runtime_error("the row count changed between runs of " + text);
    }
    out.stats = stats(seconds);
    return out;
}

std::string twin_id(const char* prefix, std::size_t index) { return prefix + std::to_string(index); }

/// Every page of `text` (the first through query_twins, the rest through
/// continue_query with their tokens); the number of rows.
std::size_t all_pages(const graph::Snapshot& snapshot, const std::string& text, std::size_t page_size) {
    query::QueryOptions options;
    options.page_size = page_size;
    query::QueryResult page = query::query_twins(snapshot, text, options);
    std::size_t rows = page.rows.size();
    while (!page.continuation_token.empty()) {
        page = query::continue_query(snapshot, page.continuation_token, options);
        rows += page.rows.size();
    }
    return rows;
}

/// Paging against one page: `runs` interleaved rounds (after a warm-up), each
/// fetching every row once per page size; wall and CPU medians per page size
/// and their ratio to page size 0 (one page).
nlohmann::ordered_json time_paging(const graph::Snapshot& snapshot, const std::string& text, int runs) {
    const std::vector<std::size_t> sizes{0, 1000, 100};
    std::vector<std::vector<double>> wall(sizes.size()), cpu(sizes.size());
    const std::size_t rows = all_pages(snapshot, text, 0);
    for (int r = 0; r < runs; ++r)
        for (std::size_t k = 0; k < sizes.size(); ++k) {
            const double cpu_start = thread_cpu_used();
            const auto start = std::chrono::steady_clock::now();
            const std::size_t got = all_pages(snapshot, text, sizes[k]);
            wall[k].push_back(seconds_since(start));
            cpu[k].push_back(thread_cpu_used() - cpu_start);
            if (got != rows) throw std::runtime_error("paging returned " + std::to_string(got) + " rows, not " + std::to_string(rows));
        }
    nlohmann::ordered_json out;
    out["query"] = text;
    out["rows"] = rows;
    out["runs"] = runs;
    const Stats one = stats(wall[0]);
    const Stats one_cpu = stats(cpu[0]);
    for (std::size_t k = 0; k < sizes.size(); ++k) {
        const Stats w = stats(wall[k]);
        const Stats c = stats(cpu[k]);
        nlohmann::ordered_json f;
        f["median_seconds"] = w.median;
        f["median_cpu_seconds"] = c.median;
        f["ratio_to_one_page"] = one.median > 0 ? w.median / one.median : 0.0;
        f["cpu_ratio_to_one_page"] = one_cpu.median > 0 ? c.median / one_cpu.median : 0.0;
        out[sizes[k] == 0 ? std::string("one_page") : "page_size_" + std::to_string(sizes[k])] = std::move(f);
    }
    return out;
}

}  // namespace

int run_query_benchmark(const QueryBenchOptions& options) {
    const std::size_t n = options.twins;
    const ScratchFile scratch("query", options.keep);
    const std::filesystem::path& file = scratch.path();

    const GeneratedFile generated = write_building_file(file, n, options.seed);
    graph::TwinGraph g;
    auto start = std::chrono::steady_clock::now();
    const graph::ImportStats imported = graph::import_ndjson(g, file);
    const double import_seconds = seconds_since(start);
    if (imported.twins != n) throw std::runtime_error("the import loaded " + std::to_string(imported.twins) + " twins, not " + std::to_string(n));
    const graph::Snapshot snapshot = g.snapshot();

    // The questions are about one building in the middle of the file (its
    // first sensor for the neighbourhood), so they do not favour the first
    // rows of any table.
    const std::vector<BuildingBlock> layout = building_layout(n);
    const BuildingBlock& site = layout[layout.size() / 2];
    const std::string building = twin_id("bldg-", site.first);
    const std::string sensor = twin_id("sensor-", site.first_sensor());
    const int scan_runs = options.runs;
    const int point_runs = options.runs * 10 + 1;

    const std::vector<Question> questions{
        {"is_of_model_filter",
         "spaces (Space and every model extending it) warmer than 25.5 degrees, over all twins",
         "SELECT T.$dtId, T.temperature FROM DIGITALTWINS T "
         "WHERE IS_OF_MODEL(T, 'dtmi:twinsim:bench:Space;1') AND T.temperature > 25.5",
         20e-3, scan_runs},
        {"room_filter_100k", "rooms warmer than 22.8 degrees: about 10 % of the twins as two-column rows",
         "SELECT T.$dtId, T.temperature FROM DIGITALTWINS T "
         "WHERE IS_OF_MODEL(T, 'dtmi:twinsim:bench:Room;1') AND T.temperature > 22.8",
         40e-3, scan_runs},
        {"count_filter", "how many twins report a CO2 level above 1000 ppm",
         "SELECT COUNT() FROM DIGITALTWINS WHERE co2 > 1000", 10e-3, scan_runs},
        {"join_site_floors", "the floors of one building (site -> its zones) warmer than 22 degrees",
         "SELECT F.$dtId, F.temperature FROM DIGITALTWINS B JOIN F RELATED B.hasPart "
         "WHERE B.$dtId = '" + building + "' AND F.temperature > 22",
         2e-3, point_runs},
        {"join_floor_rooms", "every floor's rooms warmer than 22.8 degrees: a one-hop JOIN over all floors",
         "SELECT F.$dtId AS floor, R.$dtId AS room FROM DIGITALTWINS F JOIN R RELATED F.hasPart "
         "WHERE IS_OF_MODEL(F, 'dtmi:twinsim:bench:Floor;1') AND R.temperature > 22.8",
         60e-3, scan_runs},
        {"match_3_hops", "every twin within 3 hops of one sensor, over relationships in either direction",
         "SELECT X.$dtId FROM DIGITALTWINS MATCH (S)-[*..3]-(X) WHERE S.$dtId = '" + sensor + "'", 1e-3,
         point_runs},
        {"group_by_avg", "average room temperature per occupancy count (41 groups over every room)",
         "SELECT R.occupancy, AVG(R.temperature) AS avgTemperature FROM DIGITALTWINS R "
         "WHERE IS_OF_MODEL(R, 'dtmi:twinsim:bench:Room;1') GROUP BY R.occupancy",
         30e-3, scan_runs},
    };

    using json = nlohmann::ordered_json;
    json results = json::object();
    bool all = true;
    for (const Question& q : questions) {
        const Timing t = time_query(snapshot, q.query, q.runs);
        const bool meets = t.stats.median <= q.target_seconds;
        all = all && meets;
        json figure;
        figure["query"] = q.query;
        figure["what"] = q.what;
        figure["median_seconds"] = t.stats.median;
        figure["min_seconds"] = t.stats.min;
        figure["runs"] = q.runs;
        figure["rows"] = t.rows;
        if (t.rows == 1 && t.first_row.contains("COUNT")) figure["count"] = t.first_row["COUNT"];
        figure["target_seconds"] = q.target_seconds;
        figure["meets_target"] = meets;
        results[q.key] = std::move(figure);
    }

    // Paging: a continuation resumes the query's cursor (every page size should cost at most 1.2x one page).
    json paging = json::object();
    bool paging_meets = true;
    for (const char* key : {"room_filter_100k", "join_floor_rooms"}) {
        json p = time_paging(snapshot, results[key]["query"].get<std::string>(), scan_runs);
        paging_meets = paging_meets && p["page_size_1000"]["ratio_to_one_page"].get<double>() <= 1.2 &&
                       p["page_size_100"]["ratio_to_one_page"].get<double>() <= 1.2;
        paging[key] = std::move(p);
    }
    paging["target"] = "every page size at most 1.2x one page (wall median)";
    paging["meets_target"] = paging_meets;
    const MachineNote machine = machine_note();

    json out;
    out["benchmark"] = "query";
    out["twins"] = n;
    out["relationships"] = generated.relationships;
    out["seed"] = options.seed;
    out["file"] = {{"path", options.keep.empty() ? json(nullptr) : json(file.string())}, {"bytes", generated.bytes}};
    out["import_seconds"] = import_seconds;
    out["parameters"] = {{"building", building}, {"sensor", sensor}};
    out["queries"] = std::move(results);
    out["paging"] = std::move(paging);
    out["machine"] = {{"cpu", machine.cpu}, {"cores", machine.cores}, {"load_averages", load_averages()}};
    out["note"] = "query::query_twins on one snapshot (parse + run + result rows, page_size 0); median of the runs "
                  "after one warm-up run. paging: every page through query_twins then continue_query, page sizes "
                  "interleaved per round, wall and thread-CPU medians";
    out["meets_all_targets"] = all;
    std::cout << out.dump() << '\n';
    return exit_ok;
}

}  // namespace twinsim::bench
