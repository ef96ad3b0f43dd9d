#include "twinsim/io/run_results.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "twinsim/io/async_results_writer.hpp"
#include "twinsim/io/results_writer.hpp"

namespace twinsim::io {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

template <class Writer>
void write_to(Writer& writer, const std::string& scenario, const CombinedScenario& combined) {
    for (const auto& series : combined.on_change) {
        writer.define_series(scenario, series.definition);
        for (const auto& [replication, values] : series.blocks)
            writer.write_series_block(scenario, series.definition.name, replication, 0, values);
    }
    writer.append_events(scenario, combined.events);
    writer.write_kpis(scenario, combined.kpis);
}

using Json = nlohmann::json;

Json number(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return v;
}

double number_of(const Json& j, const char* what) {
    if (j.is_number()) return j.get<double>();
    if (j.is_string()) {
        const auto& text = j.get_ref<const std::string&>();
        if (text == "nan") return nan;
        if (text == "inf") return std::numeric_limits<double>::infinity();
        if (text == "-inf") return -std::numeric_limits<double>::infinity();
    }
    throw std::invalid_argument(std::string(what) + ": expected a number, got " + j.dump());
}

Json series_json(const SeriesDefinition& d) {
    return {{"name", d.name},   {"unit", d.unit},         {"twin_ids", d.twin_ids},
            {"model", d.model}, {"property", d.property}, {"description", d.description}};
}

SeriesDefinition series_of(const Json& j) {
    SeriesDefinition d;
    d.name = j.at("name").get<std::string>();
    d.unit = j.at("unit").get<std::string>();
    d.twin_ids = j.at("twin_ids").get<std::vector<std::string>>();
    d.model = j.at("model").get<std::string>();
    d.property = j.at("property").get<std::string>();
    d.description = j.at("description").get<std::string>();
    return d;
}

Json run_json(const RunResults& r) {
    Json j;
    j["replication"] = r.replication;
    j["failure"] = r.failure ? Json(*r.failure) : Json(nullptr);
    j["parameters"] = r.parameters_json;
    Json& events = j["events"] = Json::array();
    for (const EventRecord& e : r.events)
        events.push_back({e.replication, number(e.time), e.twin, e.type, e.detail_json});
    Json& kpis = j["kpis"] = Json::array();
    for (const KpiRow& k : r.kpis)
        kpis.push_back({k.name, k.selection, k.statistic, k.replication, k.aggregate, number(k.value), k.unit});
    Json& changes = j["changes"] = Json::array();
    for (const auto& log : r.changes) {
        Json entries = Json::array();
        for (const ChangeRecord& c : log) entries.push_back({number(c.time), c.twin, number(c.value)});
        changes.push_back(std::move(entries));
    }
    return j;
}

RunResults run_of(const Json& j) {
    RunResults r;
    r.replication = j.at("replication").get<std::uint32_t>();
    if (!j.at("failure").is_null()) r.failure = j.at("failure").get<std::string>();
    r.parameters_json = j.at("parameters").get<std::string>();
    for (const Json& e : j.at("events"))
        r.events.push_back({e.at(0).get<std::uint32_t>(), number_of(e.at(1), "event time"), e.at(2).get<std::string>(),
                            e.at(3).get<std::string>(), e.at(4).get<std::string>()});
    for (const Json& k : j.at("kpis"))
        r.kpis.push_back({k.at(0).get<std::string>(), k.at(1).get<std::string>(), k.at(2).get<std::string>(),
                          k.at(3).get<std::int32_t>(), k.at(4).get<std::string>(), number_of(k.at(5), "KPI value"),
                          k.at(6).get<std::string>()});
    for (const Json& log : j.at("changes")) {
        std::vector<ChangeRecord> entries;
        for (const Json& c : log)
            entries.push_back({number_of(c.at(0), "change time"), c.at(1).get<std::uint32_t>(),
                               number_of(c.at(2), "change value")});
        r.changes.push_back(std::move(entries));
    }
    return r;
}

}  // namespace

std::string encode_shard_runs(const ShardRuns& shard) {
    Json j;
    j["scenario"] = shard.layout.scenario;
    j["replications"] = shard.layout.replications;
    Json& on_change = j["on_change"] = Json::array();
    for (const SeriesDefinition& d : shard.layout.on_change) on_change.push_back(series_json(d));
    Json& summaries = j["summaries"] = Json::array();
    for (const KpiAggregates& a : shard.layout.summaries) summaries.push_back({{"kpi", a.kpi}, {"aggregates", a.aggregates}});
    Json& runs = j["runs"] = Json::array();
    for (const RunResults& r : shard.runs) runs.push_back(run_json(r));
    return j.dump();
}

namespace {

// The binary form of a shard's runs (encode_shard_runs_binary): little-endian
// fixed-width integers and doubles (their bits), strings and lists as a u32 count
// then their items. Every count is checked against the bytes left before anything
// is allocated, so a damaged or forged dataset fails with a message, never a huge
// allocation or an overrun.
constexpr std::string_view binary_magic = "TSRB1\n";
static_assert(std::endian::native == std::endian::little, "the binary shard runs are written little-endian");

class Out {
public:
    void u32(std::uint32_t v) { raw(&v, sizeof v); }
    void i32(std::int32_t v) { raw(&v, sizeof v); }
    void f64(double v) { raw(&v, sizeof v); }
    void str(std::string_view v) {
        count(v.size());
        bytes_.append(v);
    }
    void count(std::size_t n) {
        if (n > std::numeric_limits<std::uint32_t>::max()) throw std::invalid_argument("a shard list or string over 2^32 items");
        u32(static_cast<std::uint32_t>(n));
    }
    void raw(const void* p, std::size_t n) { bytes_.append(static_cast<const char*>(p), n); }
    std::string take() { return std::move(bytes_); }

private:
    std::string bytes_;
};

class In {
public:
    explicit In(std::string_view bytes) : rest_(bytes) {}
    std::uint32_t u32() { return fixed<std::uint32_t>(); }
    std::int32_t i32() { return fixed<std::int32_t>(); }
    double f64() { return fixed<double>(); }
    std::string str() {
        const std::size_t n = u32();
        need(n, "a string");
        std::string v(rest_.substr(0, n));
        rest_.remove_prefix(n);
        return v;
    }
    /// A list's length, each item taking at least `least` bytes.
    std::size_t count(std::size_t least, const char* what) {
        const std::size_t n = u32();
        if (least > 0 && n > rest_.size() / least)
            throw std::invalid_argument(std::string(what) + ": " + std::to_string(n) + " items, but only " +
                                        std::to_string(rest_.size()) + " bytes left");
        return n;
    }
    void expect(std::string_view prefix) {
        if (rest_.substr(0, prefix.size()) != prefix) throw std::invalid_argument("not the binary form (no TSRB1 header)");
        rest_.remove_prefix(prefix.size());
    }
    bool done() const noexcept { return rest_.empty(); }

private:
    void need(std::size_t n, const char* what) const {
        if (n > rest_.size())
            throw std::invalid_argument(std::string("truncated: ") + what + " of " + std::to_string(n) + " bytes, " +
                                        std::to_string(rest_.size()) + " left");
    }
    template <class T>
    T fixed() {
        need(sizeof(T), "a number");
        T v;
        std::memcpy(&v, rest_.data(), sizeof v);
        rest_.remove_prefix(sizeof v);
        return v;
    }
    std::string_view rest_;
};

void put_strings(Out& out, const std::vector<std::string>& v) {
    out.count(v.size());
    for (const std::string& s : v) out.str(s);
}

std::vector<std::string> get_strings(In& in, const char* what) {
    std::vector<std::string> v(in.count(4, what));
    for (std::string& s : v) s = in.str();
    return v;
}

}  // namespace

std::string encode_shard_runs_binary(const ShardRuns& shard) {
    Out out;
    out.raw(binary_magic.data(), binary_magic.size());
    out.str(shard.layout.scenario);
    out.u32(shard.layout.replications);
    out.count(shard.layout.on_change.size());
    for (const SeriesDefinition& d : shard.layout.on_change) {
        out.str(d.name);
        out.str(d.unit);
        put_strings(out, d.twin_ids);
        out.str(d.model);
        out.str(d.property);
        out.str(d.description);
    }
    out.count(shard.layout.summaries.size());
    for (const KpiAggregates& a : shard.layout.summaries) {
        out.str(a.kpi);
        put_strings(out, a.aggregates);
    }
    out.count(shard.runs.size());
    for (const RunResults& r : shard.runs) {
        out.u32(r.replication);
        out.u32(r.failure ? 1 : 0);
        if (r.failure) out.str(*r.failure);
        out.str(r.parameters_json);
        out.count(r.events.size());
        for (const EventRecord& e : r.events) {
            out.u32(e.replication);
            out.f64(e.time);
            out.str(e.twin);
            out.str(e.type);
            out.str(e.detail_json);
        }
        out.count(r.kpis.size());
        for (const KpiRow& k : r.kpis) {
            out.str(k.name);
            out.str(k.selection);
            out.str(k.statistic);
            out.i32(k.replication);
            out.str(k.aggregate);
            out.f64(k.value);
            out.str(k.unit);
        }
        out.count(r.changes.size());
        for (const auto& log : r.changes) {
            out.count(log.size());
            for (const ChangeRecord& c : log) {
                out.f64(c.time);
                out.u32(c.twin);
                out.f64(c.value);
            }
        }
    }
    return out.take();
}

ShardRuns decode_shard_runs_binary(std::string_view bytes) {
    In in(bytes);
    in.expect(binary_magic);
    ShardRuns shard;
    shard.layout.scenario = in.str();
    shard.layout.replications = in.u32();
    shard.layout.on_change.resize(in.count(24, "the on-change series"));
    for (SeriesDefinition& d : shard.layout.on_change) {
        d.name = in.str();
        d.unit = in.str();
        d.twin_ids = get_strings(in, "a series' twins");
        d.model = in.str();
        d.property = in.str();
        d.description = in.str();
    }
    shard.layout.summaries.resize(in.count(8, "the KPI summaries"));
    for (KpiAggregates& a : shard.layout.summaries) {
        a.kpi = in.str();
        a.aggregates = get_strings(in, "a KPI's aggregates");
    }
    shard.runs.resize(in.count(24, "the runs"));
    for (RunResults& r : shard.runs) {
        r.replication = in.u32();
        const std::uint32_t failed = in.u32();
        if (failed > 1) throw std::invalid_argument("a run's failure flag is " + std::to_string(failed) + ", not 0 or 1");
        if (failed == 1) r.failure = in.str();
        r.parameters_json = in.str();
        r.events.resize(in.count(24, "a run's events"));
        for (EventRecord& e : r.events) {
            e.replication = in.u32();
            e.time = in.f64();
            e.twin = in.str();
            e.type = in.str();
            e.detail_json = in.str();
        }
        r.kpis.resize(in.count(32, "a run's KPIs"));
        for (KpiRow& k : r.kpis) {
            k.name = in.str();
            k.selection = in.str();
            k.statistic = in.str();
            k.replication = in.i32();
            k.aggregate = in.str();
            k.value = in.f64();
            k.unit = in.str();
        }
        r.changes.resize(in.count(4, "a run's on-change logs"));
        for (auto& log : r.changes) {
            log.resize(in.count(20, "an on-change log"));
            for (ChangeRecord& c : log) {
                c.time = in.f64();
                c.twin = in.u32();
                c.value = in.f64();
            }
        }
    }
    if (!in.done()) throw std::invalid_argument("bytes left after the last run");
    return shard;
}

ShardRuns decode_shard_runs(std::string_view text) {
    try {
        const Json j = Json::parse(text);
        ShardRuns shard;
        shard.layout.scenario = j.at("scenario").get<std::string>();
        shard.layout.replications = j.at("replications").get<std::uint32_t>();
        for (const Json& d : j.at("on_change")) shard.layout.on_change.push_back(series_of(d));
        for (const Json& a : j.at("summaries"))
            shard.layout.summaries.push_back({a.at("kpi").get<std::string>(), a.at("aggregates").get<std::vector<std::string>>()});
        for (const Json& r : j.at("runs")) shard.runs.push_back(run_of(r));
        return shard;
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(std::string("the shard's runs are not in the expected form: ") + e.what());
    }
}

CombinedScenario combine_runs(const ScenarioLayout& layout, std::span<const RunResults> runs) {
    std::set<std::uint32_t> seen;
    for (const RunResults& run : runs) {
        if (run.replication >= layout.replications)
            throw std::invalid_argument("scenario '" + layout.scenario + "': replication " +
                                        std::to_string(run.replication) + " is out of range (" +
                                        std::to_string(layout.replications) + " replications)");
        if (!seen.insert(run.replication).second)
            throw std::invalid_argument("scenario '" + layout.scenario + "': replication " +
                                        std::to_string(run.replication) + " is given twice");
        if (!run.failure && run.changes.size() != layout.on_change.size())
            throw std::invalid_argument("scenario '" + layout.scenario + "': replication " +
                                        std::to_string(run.replication) + " has " + std::to_string(run.changes.size()) +
                                        " on-change logs for " + std::to_string(layout.on_change.size()) + " series");
    }
    CombinedScenario out;

    // On-change series: the union of change instants over the replications;
    // each cell holds the value in force at that instant.
    for (std::size_t i = 0; i < layout.on_change.size(); ++i) {
        std::set<double> instants;
        for (const RunResults& run : runs)
            if (!run.failure)
                for (const ChangeRecord& c : run.changes[i]) instants.insert(c.time);
        if (instants.empty()) continue;
        CombinedScenario::OnChange series;
        series.definition = layout.on_change[i];
        series.definition.times.assign(instants.begin(), instants.end());
        const std::vector<double>& times = series.definition.times;
        const std::size_t twins = series.definition.twin_ids.size();
        for (const RunResults& run : runs) {
            if (run.failure) continue;
            std::vector<double> current(twins, nan);
            std::vector<double> block(times.size() * twins, nan);
            const auto& log = run.changes[i];
            std::size_t j = 0;
            for (std::size_t k = 0; k < times.size(); ++k) {
                while (j < log.size() && log[j].time <= times[k]) {
                    if (log[j].twin < twins) current[log[j].twin] = log[j].value;
                    ++j;
                }
                std::copy(current.begin(), current.end(), block.begin() + static_cast<std::ptrdiff_t>(k * twins));
            }
            series.blocks.emplace_back(run.replication, std::move(block));
        }
        out.on_change.push_back(std::move(series));
    }

    // Events: each run's parameters first, then its log; a failed run's message.
    for (const RunResults& run : runs) {
        if (run.failure) {
            out.events.push_back({run.replication, 0.0, "", "run_failed", nlohmann::json{{"message", *run.failure}}.dump()});
            continue;
        }
        out.events.push_back({run.replication, 0.0, "", "parameters", run.parameters_json});
        out.events.insert(out.events.end(), run.events.begin(), run.events.end());
        out.kpis.insert(out.kpis.end(), run.kpis.begin(), run.kpis.end());
    }

    // Summaries across replications, keyed by (KPI, selection) in first-seen order.
    std::map<std::pair<std::string, std::string>, std::size_t> slot;
    std::vector<std::vector<double>> values;
    for (const KpiRow& row : out.kpis) {
        auto [it, inserted] = slot.try_emplace({row.name, row.selection}, out.summaries.size());
        if (inserted) {
            out.summaries.push_back({row.name, row.selection, row.statistic, row.unit, {}});
            values.emplace_back();
        }
        if (!std::isnan(row.value)) values[it->second].push_back(row.value);
    }
    std::vector<KpiRow> summary_rows;
    for (std::size_t i = 0; i < out.summaries.size(); ++i) {
        KpiSummaryRow& k = out.summaries[i];
        k.summary = summarize_sample(values[i], statistic_range(k.statistic));
        const KpiAggregates* wanted = nullptr;
        for (const KpiAggregates& a : layout.summaries)
            if (a.kpi == k.name) wanted = &a;
        auto add = [&](const std::string& aggregate, double v) {
            summary_rows.push_back({k.name, k.selection, k.statistic, all_replications, aggregate, v, k.unit});
        };
        if (wanted != nullptr) {
            for (const std::string& aggregate : wanted->aggregates) {
                if (aggregate == "mean") add(aggregate, k.summary.mean);
                else if (aggregate == "std") add(aggregate, k.summary.std);
                else if (aggregate == "ci95_low") add(aggregate, k.summary.ci95_low);
                else if (aggregate == "ci95_high") add(aggregate, k.summary.ci95_high);
                else if (aggregate == "p50") add(aggregate, k.summary.p50);
                else if (aggregate == "p90") add(aggregate, k.summary.p90);
                else if (aggregate == "p95") add(aggregate, k.summary.p95);
                else throw std::invalid_argument("scenario '" + layout.scenario + "': KPI '" + k.name +
                                                 "': unknown aggregate '" + aggregate + "'");
            }
        }
        add("n", static_cast<double>(k.summary.n));
    }
    out.kpis.insert(out.kpis.end(), summary_rows.begin(), summary_rows.end());
    return out;
}

void write_combined(ResultsWriter& writer, const std::string& scenario, const CombinedScenario& combined) {
    write_to(writer, scenario, combined);
}

void write_combined(AsyncResultsWriter& writer, const std::string& scenario, const CombinedScenario& combined) {
    write_to(writer, scenario, combined);
}

}  // namespace twinsim::io
