// `twinsim compare`: prints the comparison of a results file's scenarios
// (scenario::compare, sim/scenario/compare.hpp) as a table or as JSON.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model_input.hpp"
#include "scenario_commands.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/scenario/compare.hpp"
#include "twinsim/scenario/compare_recorded.hpp"

namespace twinsim::cli {
namespace {

struct CompareOptions {
    std::string file;
    std::string baseline;
    bool json = false;
    bool wide = false;
    std::string cheapest;   ///< --cheapest KPI
    std::string selection;  ///< --selection (with --cheapest)
};

/// The (KPI, selection) pairs in first-seen order over the scenarios.
std::vector<std::pair<std::string, std::string>> kpi_keys(const scenario::Comparison& comparison) {
    std::vector<std::pair<std::string, std::string>> keys;
    for (const scenario::ScenarioKpis& s : comparison.scenarios)
        for (const scenario::ComparedKpi& k : s.kpis)
            if (std::find(keys.begin(), keys.end(), std::pair(k.name, k.selection)) == keys.end())
                keys.emplace_back(k.name, k.selection);
    return keys;
}

/// The columns that compare a scenario's KPI with the baseline's: difference,
/// paired interval, whether the two intervals overlap.
std::vector<std::string> versus_baseline(const scenario::Comparison& comparison, std::size_t i,
                                         const scenario::ComparedKpi& k, int decimals) {
    const scenario::ScenarioKpis* baseline = &comparison.scenarios[*comparison.baseline];
    if (&comparison.scenarios[i] == baseline) return {"(baseline)", "", ""};
    const auto d = comparison.difference(i, k);
    if (!d) return {"-", "", "(not in baseline)"};
    const scenario::ComparedKpi& base = *baseline->find(k.name, k.selection);
    const int base_decimals = kpi_decimals(base.mean, base.ci95_low, base.ci95_high);
    const int diff_decimals = decimals < 0 || base_decimals < 0 ? -1 : std::max(decimals, base_decimals);
    return {format_kpi(d->difference, diff_decimals, true),
            d->paired_n >= 2 ? format_interval(d->paired_low, d->paired_high, diff_decimals) : "-",
            d->overlap ? (*d->overlap ? "yes" : "no") : "-"};
}

void print_title(std::ostream& out, const scenario::Comparison& comparison) {
    out << comparison.file << ": " << comparison.scenarios.size()
        << (comparison.scenarios.size() == 1 ? " scenario" : " scenarios");
    if (comparison.baseline) out << "; baseline: " << comparison.scenarios[*comparison.baseline].name;
    out << '\n';
}

/// `text` broken at spaces into lines of at most `width` columns after
/// `first` (the first line) or `indent` (the others); a word longer than a
/// line is cut.
void print_wrapped(std::ostream& out, const std::string& first, const std::string& indent, const std::string& text,
                   std::size_t width) {
    std::string line = first;
    std::size_t room = width - display_width(first);
    std::size_t used = 0;
    auto flush = [&] {
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out << line << '\n';
        line = indent;
        room = width - display_width(indent);
        used = 0;
    };
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find(' ', pos);
        if (end == std::string::npos) end = text.size();
        std::string word = text.substr(pos, end - pos);
        pos = end + 1;
        const std::size_t need = display_width(word) + (used > 0 ? 1 : 0);
        if (used > 0 && used + need > room) flush();
        if (used > 0) {
            line += ' ';
            ++used;
        }
        while (display_width(word) > room - used) {  // cut a word longer than the line, at a code point
            std::size_t take = 0, columns = 0;
            while (take < word.size() && columns < room - used) {
                ++take;
                while (take < word.size() && (static_cast<unsigned char>(word[take]) & 0xC0U) == 0x80U) ++take;
                ++columns;
            }
            line += word.substr(0, take);
            word.erase(0, take);
            used += columns;
            flush();
        }
        line += word;
        used += display_width(word);
    }
    if (used > 0 || line != indent) flush();
}

/// The default layout, made to fit 100 columns: per KPI and selection a
/// heading (name, statistic, unit, and n when every scenario ran the same
/// number of runs), the selection on its own line, then one row per scenario.
void print_text(std::ostream& out, const scenario::Comparison& comparison) {
    constexpr std::size_t width = 100;
    print_title(out, comparison);
    const auto keys = kpi_keys(comparison);
    if (keys.empty()) {
        out << "no KPIs in " << comparison.file << '\n';
        return;
    }
    const auto& scenarios = comparison.scenarios;
    const bool differences = comparison.baseline.has_value();
    for (const auto& [name, selection] : keys) {
        std::vector<std::pair<std::size_t, const scenario::ComparedKpi*>> found;
        for (std::size_t i = 0; i < scenarios.size(); ++i)
            if (const scenario::ComparedKpi* k = scenarios[i].find(name, selection)) found.emplace_back(i, k);
        if (found.empty() || found.front().second == nullptr) continue;  // keys come from the scenarios: never
        const scenario::ComparedKpi& first = *found.front().second;
        const bool same_n = std::all_of(found.begin(), found.end(), [&](const auto& f) { return f.second->n == first.n; });
        std::string heading = name + " (" + first.statistic + ", " + first.unit;
        if (same_n) heading += ", n = " + std::to_string(first.n);
        heading += ")";
        out << '\n';
        print_wrapped(out, "", "  ", heading, width);
        print_wrapped(out, "  selection: ", "    ", selection, width);
        std::vector<std::string> header{"scenario", "mean", "95 % CI"};
        std::vector<bool> right{false, true, false};
        if (!same_n) {
            header.emplace_back("n");
            right.push_back(true);
        }
        if (differences) {
            header.insert(header.end(), {"difference", "paired 95 % CI", "overlap"});
            right.insert(right.end(), {true, false, false});
        }
        TextTable table(header, right);
        for (const auto& [i, k] : found) {
            const int decimals = kpi_decimals(k->mean, k->ci95_low, k->ci95_high);
            std::vector<std::string> row{scenarios[i].name, format_kpi(k->mean, decimals),
                                         format_interval(k->ci95_low, k->ci95_high, decimals)};
            if (!same_n) row.push_back(std::to_string(k->n));
            if (differences) {
                auto versus = versus_baseline(comparison, i, *k, decimals);
                row.insert(row.end(), versus.begin(), versus.end());
            }
            table.add(std::move(row));
        }
        table.print(out, "  ");
    }
}

/// --wide: one table, KPI by KPI (and selection), a row per scenario under
/// each, the selection as a column (as wide as the longest selection).
void print_wide(std::ostream& out, const scenario::Comparison& comparison) {
    print_title(out, comparison);
    const auto& scenarios = comparison.scenarios;
    const auto keys = kpi_keys(comparison);
    if (keys.empty()) {
        out << "no KPIs in " << comparison.file << '\n';
        return;
    }
    const bool differences = comparison.baseline.has_value();
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
            const scenario::ComparedKpi* k = scenarios[i].find(name, selection);
            if (k == nullptr) continue;
            const int decimals = kpi_decimals(k->mean, k->ci95_low, k->ci95_high);
            std::vector<std::string> row{first ? name : "", first ? selection : "", scenarios[i].name, k->statistic,
                                         format_kpi(k->mean, decimals), format_interval(k->ci95_low, k->ci95_high, decimals),
                                         std::to_string(k->n), k->unit};
            if (differences) {
                auto versus = versus_baseline(comparison, i, *k, decimals);
                row.insert(row.end(), versus.begin(), versus.end());
            }
            table.add(std::move(row));
            first = false;
        }
    }
    table.print(out);
}

/// `--cheapest KPI`: the scenario with the lowest mean, the runner-up and the ranking.
void print_cheapest(std::ostream& out, const scenario::Comparison& comparison, const scenario::Cheapest& c) {
    const scenario::ComparedKpi& best = c.summary;
    out << comparison.file << ": the lowest mean of \"" << c.kpi << "\" (" << best.statistic;
    if (!best.unit.empty() && best.unit != "1") out << ", " << best.unit;
    out << ")\n  " << c.selection << "\n\n";
    const int decimals = kpi_decimals(best.mean, best.ci95_low, best.ci95_high);
    out << "cheapest:  " << comparison.scenarios[c.scenario].name << "  mean " << format_kpi(best.mean, decimals)
        << ", 95 % CI " << format_interval(best.ci95_low, best.ci95_high, decimals) << ", n " << best.n << '\n';
    if (c.runner_up) {
        const scenario::Difference& d = c.versus_runner_up;
        const bool significant = d.paired_n >= 2 && d.paired_low > 0.0;
        out << "runner-up: " << comparison.scenarios[*c.runner_up].name << "  "
            << format_kpi(d.difference, decimals, true) << " (paired 95 % CI "
            << (d.paired_n >= 2 ? format_interval(d.paired_low, d.paired_high, decimals) : std::string("-")) << "): "
            << (significant ? "the ranking holds at the 5 % level" : "not a significant difference") << '\n';
    }
    if (c.versus_baseline) {
        const scenario::Difference& d = *c.versus_baseline;
        out << "vs baseline " << comparison.scenarios[*comparison.baseline].name << ": "
            << format_kpi(d.difference, decimals, true) << " (paired 95 % CI "
            << (d.paired_n >= 2 ? format_interval(d.paired_low, d.paired_high, decimals) : std::string("-")) << ")\n";
    }
    out << '\n';
    TextTable table({"rank", "scenario", "mean", "95 % CI"}, {true, false, true, false});
    std::size_t rank = 1;
    for (const auto& [i, mean] : c.ranking) {
        const scenario::ComparedKpi& k = *comparison.scenarios[i].find(c.kpi, c.selection);
        table.add({std::to_string(rank++), comparison.scenarios[i].name, format_kpi(mean, decimals),
                   format_interval(k.ci95_low, k.ci95_high, decimals)});
    }
    table.print(out);
}

std::string percent(double x) {
    if (!std::isfinite(x)) return "-";
    char text[32];
    std::snprintf(text, sizeof text, "%.2f %%", x);
    return text;
}

/// Modelled vs recorded (a replay's "<series>.recorded"): Guideline 14 per series, overall and per twin.
void print_guideline14(std::ostream& out, const std::vector<scenario::RecordedComparison>& recorded) {
    if (recorded.empty()) return;
    out << "\nmodelled vs recorded: ASHRAE Guideline 14, hourly (limits |NMBE| <= 10 %, CV(RMSE) <= 30 %)\n";
    for (const scenario::RecordedComparison& c : recorded) {
        out << "\n" << c.scenario << ": " << c.series << " vs " << c.series << ".recorded";
        if (!c.unit.empty() && c.unit != "1") out << " (" << c.unit << ")";
        out << ", modelled = mean of " << c.replications << " replication(s)\n";
        TextTable table({"twin", "hours", "NMBE", "CV(RMSE)", "meets"}, {false, true, true, true, false});
        auto row = [&](const std::string& name, const Guideline14& g) {
            table.add({name, std::to_string(g.hours), percent(g.nmbe), percent(g.cv_rmse),
                       g.meets() ? "yes" : (g.nmbe_ok ? "no (CV)" : (g.cv_rmse_ok ? "no (NMBE)" : "no"))});
        };
        row("overall", c.report.overall);
        for (std::size_t n = 0; n < c.report.twins.size(); ++n) row(c.report.twins[n], c.report.per_twin[n]);
        table.print(out, "  ");
    }
}

int run_compare(const CompareOptions& options) {
    scenario::Comparison comparison;
    std::vector<scenario::RecordedComparison> recorded;
    try {
        const io::ResultsReader reader{std::filesystem::path(options.file)};
        comparison = scenario::compare(reader, options.baseline);
        recorded = scenario::compare_recorded(reader);
    } catch (const io::ResultsError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_usage;
    }
    if (!options.cheapest.empty()) {
        scenario::Cheapest c;
        try {
            c = scenario::cheapest(comparison, options.cheapest, options.selection);
        } catch (const Error& e) {
            std::cerr << "twinsim: error: " << e.what() << '\n';
            return exit_usage;
        }
        if (options.json)
            print_json(std::cout, scenario::to_json(comparison, c));
        else
            print_cheapest(std::cout, comparison, c);
    } else if (options.json) {
        nlohmann::ordered_json j = scenario::to_json(comparison);
        if (!recorded.empty()) j["guideline14"] = scenario::to_json(recorded);
        print_json(std::cout, j);
    } else if (options.wide) {
        print_wide(std::cout, comparison);
        print_guideline14(std::cout, recorded);
    } else {
        print_text(std::cout, comparison);
        print_guideline14(std::cout, recorded);
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
                      "unit, n, mean, std, ci95_low, ci95_high, p50, p90, p95, vs_baseline {baseline_mean, difference, ci_overlap, paired {n, "
                      "mean, ci95_low, ci95_high}} or null}]}], and for a replay's modelled vs recorded series "
                      "guideline14 [{scenario, series, unit, replications, limits, overall {hours, nmbe, cv_rmse, "
                      "nmbe_ok, cv_rmse_ok, meets}, twins [...]}]; unknown values are null");
    command->add_flag("--wide", options->wide,
                      "Print one table with the KPI, its selection, statistic, n and unit as columns (as wide as "
                      "the longest selection) instead of a section per KPI that fits 100 columns");
    command->add_option("--cheapest", options->cheapest,
                        "Name the scenario with the lowest mean of this KPI (e.g. \"maintenance cost\" of a policy "
                        "sweep) with its 95 % interval, the runner-up and the paired interval of their difference, "
                        "and the ranking; with --json: {file, kpi, selection, statistic, unit, cheapest, runner_up, "
                        "vs_baseline, ranking}");
    command->add_option("--selection", options->selection,
                        "With --cheapest: the KPI's selection, when it has several")
        ->needs("--cheapest");
    command->add_option("FILE", options->file, "The results file (.h5)")->required();
    command->footer(
        "By default each KPI and selection is a section: a heading (name, statistic, unit, and n when every scenario "
        "has the same number of runs), the selection, then a row per scenario; lines fit 100 columns (a long "
        "selection is wrapped). --wide prints the former single table, --json every number.\n\n"
        "difference = this scenario's mean - the baseline's mean of the same KPI and selection. \"paired 95 % CI\" "
        "(--wide: \"95 % CI (paired)\") "
        "is the confidence interval of that difference from the replications both scenarios ran: replication r of "
        "every scenario of a job draws the same random numbers (common random numbers), so the pairwise "
        "differences cancel the shared noise; an interval that excludes 0 is a real difference at the 5 % level. "
        "\"overlap\" (--wide: \"CIs overlap\") says whether the two scenarios' own 95 % intervals overlap (a cruder test; \"-\" when an "
        "interval is unknown, e.g. with one replication).\n\n"
        "A replay's results (docs/replay.md) also get, for every series with a recorded twin "
        "(\"temperature\" and \"temperature.recorded\"), ASHRAE Guideline 14's NMBE and CV(RMSE) at hourly "
        "resolution, overall and per twin, flagged against the hourly limits.\n\n"
        "Exit status: 0 printed; 2 bad usage, a missing file, a file that is not a twinsim results file, an "
        "unknown --baseline, or a --cheapest KPI (or --selection) the file does not hold.");
    return {command, [options] { return run_compare(*options); }};
}

}  // namespace twinsim::cli
