// `twinsim compare`: read a results file (the C++ reader) and print every
// KPI of every scenario with its mean and 95 % confidence interval across
// replications, and how each scenario differs from a baseline scenario.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model_input.hpp"
#include "scenario_commands.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/scenario/runner.hpp"

namespace twinsim::cli {
namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

struct CompareOptions {
    std::string file;
    std::string baseline;
    bool json = false;
};

/// One KPI and selection of one scenario, summarised across its replications.
struct Kpi {
    std::string name;
    std::string selection;
    std::string statistic;
    std::string unit;
    std::size_t n = 0;
    double mean = nan;
    double std = nan;
    double ci95_low = nan;
    double ci95_high = nan;
    std::map<std::int32_t, double> runs;  ///< replication -> the run's value (runs with a value)
};

struct ScenarioKpis {
    std::string name;
    std::vector<Kpi> kpis;  ///< in the order the file lists them
    [[nodiscard]] const Kpi* find(const std::string& kpi, const std::string& selection) const {
        for (const Kpi& k : kpis)
            if (k.name == kpi && k.selection == selection) return &k;
        return nullptr;
    }
};

/// The summary rows (replication -1: mean, std, ci95_low, ci95_high, n) of
/// one scenario; an aggregate the scenario did not ask for (`across`) is
/// computed from the runs' own rows.
ScenarioKpis read_scenario(const io::ResultsReader& reader, const std::string& scenario) {
    struct Collected {
        Kpi kpi;
        std::map<std::string, double> aggregates;
        std::vector<double> runs;
        std::map<std::int32_t, double> by_replication;
    };
    std::vector<Collected> collected;
    std::map<std::pair<std::string, std::string>, std::size_t> slot;
    for (const io::KpiRow& row : reader.read_kpis(scenario)) {
        auto [it, inserted] = slot.try_emplace({row.name, row.selection}, collected.size());
        if (inserted) {
            Collected c;
            c.kpi.name = row.name;
            c.kpi.selection = row.selection;
            c.kpi.statistic = row.statistic;
            c.kpi.unit = row.unit;
            collected.push_back(std::move(c));
        }
        Collected& c = collected[it->second];
        if (row.replication == io::all_replications) {
            c.aggregates[row.aggregate] = row.value;
        } else if (!std::isnan(row.value)) {
            c.runs.push_back(row.value);
            c.by_replication[row.replication] = row.value;
        }
    }
    ScenarioKpis out{scenario, {}};
    for (Collected& c : collected) {
        const scenario::KpiSummary computed = scenario::summarize(c.runs);
        auto value = [&](const char* aggregate, double fallback) {
            const auto found = c.aggregates.find(aggregate);
            return found != c.aggregates.end() ? found->second : fallback;
        };
        c.kpi.mean = value("mean", computed.mean);
        c.kpi.std = value("std", computed.std);
        c.kpi.ci95_low = value("ci95_low", computed.ci95_low);
        c.kpi.ci95_high = value("ci95_high", computed.ci95_high);
        const double n = value("n", static_cast<double>(computed.n));
        c.kpi.n = std::isfinite(n) && n > 0 ? static_cast<std::size_t>(n) : 0;
        c.kpi.runs = std::move(c.by_replication);
        out.kpis.push_back(std::move(c.kpi));
    }
    return out;
}

/// How a KPI differs from the baseline scenario's value of the same KPI and selection.
struct Difference {
    double baseline_mean = nan;
    double difference = nan;
    std::optional<bool> overlap;  ///< whether the two 95 % intervals overlap; none when either is unknown
    /// The paired comparison: replication r of both scenarios shares its random
    /// numbers (common random numbers), so the per-replication differences
    /// measure the scenario's effect with the shared noise cancelled.
    std::size_t paired_n = 0;
    double paired_mean = nan;
    double paired_low = nan;   ///< 95 % confidence interval of the mean difference (t, n - 1)
    double paired_high = nan;
};

std::optional<Difference> difference(const Kpi& kpi, const Kpi* base) {
    if (base == nullptr) return std::nullopt;
    Difference d;
    d.baseline_mean = base->mean;
    d.difference = kpi.mean - base->mean;
    const bool known = !std::isnan(kpi.ci95_low) && !std::isnan(kpi.ci95_high) && !std::isnan(base->ci95_low) &&
                       !std::isnan(base->ci95_high);
    if (known) d.overlap = kpi.ci95_low <= base->ci95_high && base->ci95_low <= kpi.ci95_high;
    std::vector<double> diffs;
    for (const auto& [replication, value] : kpi.runs)
        if (const auto it = base->runs.find(replication); it != base->runs.end()) diffs.push_back(value - it->second);
    if (!diffs.empty()) {
        const scenario::KpiSummary paired = scenario::summarize(diffs);
        d.paired_n = paired.n;
        d.paired_mean = paired.mean;
        d.paired_low = paired.ci95_low;
        d.paired_high = paired.ci95_high;
    }
    return d;
}

nlohmann::ordered_json number(double value) {
    return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json report_json(const std::string& file, const std::vector<ScenarioKpis>& scenarios,
                                   const ScenarioKpis* baseline) {
    nlohmann::ordered_json out;
    out["file"] = file;
    out["baseline"] = baseline != nullptr ? nlohmann::ordered_json(baseline->name) : nlohmann::ordered_json(nullptr);
    nlohmann::ordered_json& list = out["scenarios"] = nlohmann::ordered_json::array();
    for (const ScenarioKpis& s : scenarios) {
        nlohmann::ordered_json scenario;
        scenario["name"] = s.name;
        nlohmann::ordered_json& kpis = scenario["kpis"] = nlohmann::ordered_json::array();
        for (const Kpi& k : s.kpis) {
            nlohmann::ordered_json row;
            row["name"] = k.name;
            row["selection"] = k.selection;
            row["statistic"] = k.statistic;
            row["unit"] = k.unit;
            row["n"] = k.n;
            row["mean"] = number(k.mean);
            row["std"] = number(k.std);
            row["ci95_low"] = number(k.ci95_low);
            row["ci95_high"] = number(k.ci95_high);
            std::optional<Difference> d;
            if (baseline != nullptr && &s != baseline) d = difference(k, baseline->find(k.name, k.selection));
            if (d) {
                nlohmann::ordered_json diff;
                diff["baseline_mean"] = number(d->baseline_mean);
                diff["difference"] = number(d->difference);
                diff["ci_overlap"] = d->overlap ? nlohmann::ordered_json(*d->overlap) : nlohmann::ordered_json(nullptr);
                nlohmann::ordered_json paired;
                paired["n"] = d->paired_n;
                paired["mean"] = number(d->paired_mean);
                paired["ci95_low"] = number(d->paired_low);
                paired["ci95_high"] = number(d->paired_high);
                diff["paired"] = std::move(paired);
                row["vs_baseline"] = std::move(diff);
            } else {
                row["vs_baseline"] = nullptr;
            }
            kpis.push_back(std::move(row));
        }
        list.push_back(std::move(scenario));
    }
    return out;
}

/// One table, KPI by KPI (and selection), a row per scenario under each, so
/// the scenarios' values of a KPI sit one above the other.
void print_text(std::ostream& out, const std::string& file, const std::vector<ScenarioKpis>& scenarios,
                const ScenarioKpis* baseline) {
    out << file << ": " << scenarios.size() << (scenarios.size() == 1 ? " scenario" : " scenarios");
    if (baseline != nullptr) out << "; baseline: " << baseline->name;
    out << '\n';

    // The (KPI, selection) pairs in first-seen order over the scenarios.
    std::vector<std::pair<std::string, std::string>> keys;
    for (const ScenarioKpis& s : scenarios)
        for (const Kpi& k : s.kpis)
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
        for (const ScenarioKpis& s : scenarios) {
            const Kpi* k = s.find(name, selection);
            if (k == nullptr) continue;
            const int decimals = kpi_decimals(k->mean, k->ci95_low, k->ci95_high);
            std::vector<std::string> row{first ? name : "", first ? selection : "", s.name, k->statistic,
                                         format_kpi(k->mean, decimals), format_interval(k->ci95_low, k->ci95_high, decimals),
                                         std::to_string(k->n), k->unit};
            if (differences) {
                if (&s == baseline) {
                    row.insert(row.end(), {"(baseline)", "", ""});
                } else if (const auto d = difference(*k, baseline->find(name, selection))) {
                    const Kpi& base = *baseline->find(name, selection);
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
    std::vector<ScenarioKpis> scenarios;
    try {
        const io::ResultsReader reader{std::filesystem::path(options.file)};
        for (const std::string& name : reader.scenarios()) scenarios.push_back(read_scenario(reader, name));
    } catch (const io::ResultsError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_usage;
    }

    const ScenarioKpis* baseline = nullptr;
    if (!options.baseline.empty()) {
        for (const ScenarioKpis& s : scenarios)
            if (s.name == options.baseline) baseline = &s;
        if (baseline == nullptr) {
            std::cerr << "twinsim: error: " << options.file << ": no scenario named \"" << options.baseline
                      << "\" (the file holds:";
            for (const ScenarioKpis& s : scenarios) std::cerr << " \"" << s.name << '"';
            if (scenarios.empty()) std::cerr << " none";
            std::cerr << ")\n";
            return exit_usage;
        }
    } else if (scenarios.size() > 1) {
        baseline = &scenarios.front();
    }

    if (options.json) {
        print_json(std::cout, report_json(options.file, scenarios, baseline));
    } else {
        print_text(std::cout, options.file, scenarios, baseline);
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
