// `twinsim compare`: prints the comparison of a results file's scenarios
// (scenario::compare, sim/scenario/compare.hpp) as a table or as JSON.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model_input.hpp"
#include "scenario_commands.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/scenario/compare.hpp"

namespace twinsim::cli {
namespace {

struct CompareOptions {
    std::string file;
    std::string baseline;
    bool json = false;
};

/// One table, KPI by KPI (and selection), a row per scenario under each, so
/// the scenarios' values of a KPI sit one above the other.
void print_text(std::ostream& out, const scenario::Comparison& comparison) {
    const std::string& file = comparison.file;
    const auto& scenarios = comparison.scenarios;
    const scenario::ScenarioKpis* baseline =
        comparison.baseline ? &comparison.scenarios[*comparison.baseline] : nullptr;
    out << file << ": " << scenarios.size() << (scenarios.size() == 1 ? " scenario" : " scenarios");
    if (baseline != nullptr) out << "; baseline: " << baseline->name;
    out << '\n';

    // The (KPI, selection) pairs in first-seen order over the scenarios.
    std::vector<std::pair<std::string, std::string>> keys;
    for (const scenario::ScenarioKpis& s : scenarios)
        for (const scenario::ComparedKpi& k : s.kpis)
            if (std::find(keys.begin(), keys.end(), std::pair(k.name, k.selection)) == keys.end())
                keys.emplace_back(k.name, k.selection);
    if (keys.empty()) {
        out << "no KPIs in " << file << '\n';
        return;
    }

    const bool differences = baseline != nullptr;
    std::vector<std::string> header{"KPI", "selection", "scenario", "statistic", "mean", "95 % CI", "n", "unit"};
    std::vector<bool> right{false, false, false, false, true, false, true, false};
    if (differences) {
        header.insert(header.end(), {"difference", "95 % CI (paired)", "CIs overlap"});
        right.insert(right.end(), {true, false, false});
    }
    TextTable table(header, right);
    for (const auto& [name, selection] : keys) {
        bool first = true;
        for (std::size_t i = 0; i < scenarios.size(); ++i) {
            const scenario::ScenarioKpis& s = scenarios[i];
            const scenario::ComparedKpi* k = s.find(name, selection);
            if (k == nullptr) continue;
            const int decimals = kpi_decimals(k->mean, k->ci95_low, k->ci95_high);
            std::vector<std::string> row{first ? name : "", first ? selection : "", s.name, k->statistic,
                                         format_kpi(k->mean, decimals), format_interval(k->ci95_low, k->ci95_high, decimals),
                                         std::to_string(k->n), k->unit};
            if (differences) {
                if (&s == baseline) {
                    row.insert(row.end(), {"(baseline)", "", ""});
                } else if (const auto d = comparison.difference(i, *k)) {
                    const scenario::ComparedKpi& base = *baseline->find(name, selection);
                    const int base_decimals = kpi_decimals(base.mean, base.ci95_low, base.ci95_high);
                    const int diff_decimals = decimals < 0 || base_decimals < 0 ? -1 : std::max(decimals, base_decimals);
                    row.push_back(format_kpi(d->difference, diff_decimals, true));
                    row.push_back(d->paired_n >= 2 ? format_interval(d->paired_low, d->paired_high, diff_decimals) : "-");
                    row.push_back(d->overlap ? (*d->overlap ? "yes" : "no") : "-");
                } else {
                    row.insert(row.end(), {"-", "", "(not in baseline)"});
                }
            }
            table.add(std::move(row));
            first = false;
        }
    }
    table.print(out);
}

int run_compare(const CompareOptions& options) {
    scenario::Comparison comparison;
    try {
        const io::ResultsReader reader{std::filesystem::path(options.file)};
        comparison = scenario::compare(reader, options.baseline);
    } catch (const io::ResultsError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_usage;
    }
    if (options.json) {
        print_json(std::cout, scenario::to_json(comparison));
    } else {
        print_text(std::cout, comparison);
    }
    return exit_valid;
}

}  // namespace

Command add_compare_command(CLI::App& app) {
    auto options = std::make_shared<CompareOptions>();
    CLI::App* command = app.add_subcommand(
        "compare",
        "Print every KPI of every scenario of a results file (twinsim run's HDF5 output) with its mean and 95 % "
        "confidence interval across replications, and each scenario's difference to a baseline scenario");
    command->add_option("--baseline", options->baseline,
                        "The scenario the others are compared with (default: the file's first scenario, when it "
                        "holds more than one)");
    command->add_flag("--json", options->json,
                      "Print one JSON object: file, baseline, scenarios [{name, kpis [{name, selection, statistic, "
                      "unit, n, mean, std, ci95_low, ci95_high, vs_baseline {baseline_mean, difference, ci_overlap, paired {n, "
                      "mean, ci95_low, ci95_high}} or null}]}]; unknown values are null");
    command->add_option("FILE", options->file, "The results file (.h5)")->required();
    command->footer(
        "difference = this scenario's mean - the baseline's mean of the same KPI and selection. \"95 % CI (paired)\" "
        "is the confidence interval of that difference from the replications both scenarios ran: replication r of "
        "every scenario of a job draws the same random numbers (common random numbers), so the pairwise "
        "differences cancel the shared noise; an interval that excludes 0 is a real difference at the 5 % level. "
        "\"CIs overlap\" says whether the two scenarios' own 95 % intervals overlap (a cruder test; \"-\" when an "
        "interval is unknown, e.g. with one replication).\n\n"
        "Exit status: 0 printed; 2 bad usage, a missing file, a file that is not a twinsim results file, or an "
        "unknown --baseline.");
    return {command, [options] { return run_compare(*options); }};
}

}  // namespace twinsim::cli
