#include "twinsim/scenario/compare.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "twinsim/common/error.hpp"
#include "twinsim/common/statistics.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/io/results_reader.hpp"

namespace twinsim::scenario {

namespace {

ScenarioKpis read_scenario(const io::ResultsReader& reader, const std::string& scenario) {
    struct Collected {
        ComparedKpi kpi;
        std::map<std::string, double> aggregates;
        std::vector<double> runs;
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
            c.kpi.runs[row.replication] = row.value;
        }
    }
    ScenarioKpis out{scenario, {}};
    for (Collected& c : collected) {
        const SampleSummary computed = summarize_sample(c.runs, statistic_range(c.kpi.statistic));
        auto value = [&](const char* aggregate, double fallback) {
            const auto found = c.aggregates.find(aggregate);
            return found != c.aggregates.end() ? found->second : fallback;
        };
        c.kpi.mean = value("mean", computed.mean);
        c.kpi.std = value("std", computed.std);
        c.kpi.ci95_low = value("ci95_low", computed.ci95_low);
        c.kpi.ci95_high = value("ci95_high", computed.ci95_high);
        c.kpi.p50 = value("p50", computed.p50);
        c.kpi.p90 = value("p90", computed.p90);
        c.kpi.p95 = value("p95", computed.p95);
        const double n = value("n", static_cast<double>(computed.n));
        // From the file: a damaged or foreign n (NaN, negative, past 2^53) is unknown, never cast.
        c.kpi.n = n >= 1 && n <= 9007199254740992.0 ? static_cast<std::size_t>(n) : 0;
        out.kpis.push_back(std::move(c.kpi));
    }
    return out;
}

nlohmann::ordered_json number(double value) {
    return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

/// How `kpi` differs from `base` (the same KPI of another scenario).
Difference difference_from(const ComparedKpi& kpi, const ComparedKpi& base) {
    Difference d;
    d.baseline_mean = base.mean;
    d.difference = kpi.mean - base.mean;
    const bool known = !std::isnan(kpi.ci95_low) && !std::isnan(kpi.ci95_high) && !std::isnan(base.ci95_low) &&
                       !std::isnan(base.ci95_high);
    if (known) d.overlap = kpi.ci95_low <= base.ci95_high && base.ci95_low <= kpi.ci95_high;
    std::vector<double> diffs;
    for (const auto& [replication, value] : kpi.runs)
        if (const auto it = base.runs.find(replication); it != base.runs.end()) diffs.push_back(value - it->second);
    if (!diffs.empty()) {
        const SampleSummary paired = summarize_sample(diffs);
        d.paired_n = paired.n;
        d.paired_mean = paired.mean;
        d.paired_low = paired.ci95_low;
        d.paired_high = paired.ci95_high;
    }
    return d;
}

nlohmann::ordered_json paired_json(const Difference& d) {
    nlohmann::ordered_json paired;
    paired["n"] = d.paired_n;
    paired["mean"] = number(d.paired_mean);
    paired["ci95_low"] = number(d.paired_low);
    paired["ci95_high"] = number(d.paired_high);
    return paired;
}

}  // namespace

const ComparedKpi* ScenarioKpis::find(const std::string& kpi, const std::string& selection) const {
    for (const ComparedKpi& k : kpis)
        if (k.name == kpi && k.selection == selection) return &k;
    return nullptr;
}

std::optional<Difference> Comparison::difference(std::size_t scenario, const ComparedKpi& kpi) const {
    if (!baseline || *baseline == scenario) return std::nullopt;
    const ComparedKpi* base = scenarios[*baseline].find(kpi.name, kpi.selection);
    if (base == nullptr) return std::nullopt;
    return difference_from(kpi, *base);
}

Cheapest cheapest(const Comparison& comparison, const std::string& kpi, const std::string& selection) {
    std::vector<std::string> selections;
    std::vector<std::string> names;
    for (const ScenarioKpis& s : comparison.scenarios)
        for (const ComparedKpi& k : s.kpis) {
            if (std::find(names.begin(), names.end(), k.name) == names.end()) names.push_back(k.name);
            if (k.name == kpi && std::find(selections.begin(), selections.end(), k.selection) == selections.end())
                selections.push_back(k.selection);
        }
    const auto quoted = [](const std::vector<std::string>& list) {
        std::string out;
        for (const std::string& x : list) out += (out.empty() ? "\"" : ", \"") + x + '"';
        return out.empty() ? std::string("none") : out;
    };
    if (selections.empty())
        throw Error(comparison.file + ": no KPI named \"" + kpi + "\" (the file's KPIs: " + quoted(names) + ")");
    std::string chosen = selection;
    if (chosen.empty()) {
        if (selections.size() > 1)
            throw Error(comparison.file + ": KPI \"" + kpi + "\" has " + std::to_string(selections.size()) +
                        " selections; name one: " + quoted(selections));
        chosen = selections.front();
    } else if (std::find(selections.begin(), selections.end(), chosen) == selections.end()) {
        throw Error(comparison.file + ": KPI \"" + kpi + "\" has no selection \"" + chosen + "\" (it has: " +
                    quoted(selections) + ")");
    }
    Cheapest out;
    out.kpi = kpi;
    out.selection = chosen;
    for (std::size_t i = 0; i < comparison.scenarios.size(); ++i)
        if (const ComparedKpi* k = comparison.scenarios[i].find(kpi, chosen); k != nullptr && !std::isnan(k->mean))
            out.ranking.emplace_back(i, k->mean);
    if (out.ranking.empty())
        throw Error(comparison.file + ": KPI \"" + kpi + "\" has no value in any scenario (every run failed?)");
    // Ties keep file order.
    std::stable_sort(out.ranking.begin(), out.ranking.end(),
                     [](const auto& a, const auto& b) { return a.second < b.second; });
    out.scenario = out.ranking.front().first;
    out.summary = *comparison.scenarios[out.scenario].find(kpi, chosen);
    if (out.ranking.size() > 1) {
        out.runner_up = out.ranking[1].first;
        out.versus_runner_up = difference_from(*comparison.scenarios[*out.runner_up].find(kpi, chosen), out.summary);
    }
    out.versus_baseline = comparison.difference(out.scenario, out.summary);
    return out;
}

nlohmann::ordered_json to_json(const Comparison& comparison, const Cheapest& c) {
    nlohmann::ordered_json out;
    out["file"] = comparison.file;
    out["kpi"] = c.kpi;
    out["selection"] = c.selection;
    out["statistic"] = c.summary.statistic;
    out["unit"] = c.summary.unit;
    const auto summary = [&](std::size_t i) {
        const ComparedKpi& k = *comparison.scenarios[i].find(c.kpi, c.selection);
        nlohmann::ordered_json s;
        s["scenario"] = comparison.scenarios[i].name;
        s["n"] = k.n;
        s["mean"] = number(k.mean);
        s["ci95_low"] = number(k.ci95_low);
        s["ci95_high"] = number(k.ci95_high);
        return s;
    };
    out["cheapest"] = summary(c.scenario);
    if (c.runner_up) {
        nlohmann::ordered_json r = summary(*c.runner_up);
        r["difference"] = number(c.versus_runner_up.difference);
        r["paired"] = paired_json(c.versus_runner_up);
        r["significant"] = c.versus_runner_up.paired_n >= 2 && c.versus_runner_up.paired_low > 0.0;
        out["runner_up"] = std::move(r);
    } else {
        out["runner_up"] = nullptr;
    }
    if (c.versus_baseline) {
        nlohmann::ordered_json b;
        b["baseline"] = comparison.scenarios[*comparison.baseline].name;
        b["difference"] = number(c.versus_baseline->difference);
        b["paired"] = paired_json(*c.versus_baseline);
        out["vs_baseline"] = std::move(b);
    } else {
        out["vs_baseline"] = nullptr;
    }
    nlohmann::ordered_json& ranking = out["ranking"] = nlohmann::ordered_json::array();
    for (const auto& [i, mean] : c.ranking) ranking.push_back(summary(i));
    return out;
}

Comparison compare(const io::ResultsReader& reader, const std::string& baseline) {
    Comparison out;
    out.file = reader.path().string();
    for (const std::string& name : reader.scenarios()) out.scenarios.push_back(read_scenario(reader, name));
    if (!baseline.empty()) {
        for (std::size_t i = 0; i < out.scenarios.size(); ++i)
            if (out.scenarios[i].name == baseline) out.baseline = i;
        if (!out.baseline) {
            std::string message = out.file + ": no scenario named \"" + baseline + "\" (the file holds:";
            for (const ScenarioKpis& s : out.scenarios) message += " \"" + s.name + '"';
            if (out.scenarios.empty()) message += " none";
            throw io::ResultsError(message + ")", out.file);
        }
    } else if (out.scenarios.size() > 1) {
        out.baseline = 0;
    }
    return out;
}

nlohmann::ordered_json to_json(const Comparison& comparison) {
    nlohmann::ordered_json out;
    out["file"] = comparison.file;
    out["baseline"] = comparison.baseline ? nlohmann::ordered_json(comparison.scenarios[*comparison.baseline].name)
                                          : nlohmann::ordered_json(nullptr);
    nlohmann::ordered_json& list = out["scenarios"] = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < comparison.scenarios.size(); ++i) {
        const ScenarioKpis& s = comparison.scenarios[i];
        nlohmann::ordered_json scenario;
        scenario["name"] = s.name;
        nlohmann::ordered_json& kpis = scenario["kpis"] = nlohmann::ordered_json::array();
        for (const ComparedKpi& k : s.kpis) {
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
            row["p50"] = number(k.p50);
            row["p90"] = number(k.p90);
            row["p95"] = number(k.p95);
            if (const std::optional<Difference> d = comparison.difference(i, k)) {
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

}  // namespace twinsim::scenario
