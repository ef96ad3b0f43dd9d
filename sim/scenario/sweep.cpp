#include "twinsim/scenario/sweep.hpp"

#include <algorithm>
#include <numeric>

#include "twinsim/kernel/rng.hpp"
#include "twinsim/scenario/detail/references.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::scenario {

namespace {

// The Latin hypercube's streams: sub-stream j of this run id permutes and
// jitters parameter j. A scenario index no run uses keeps them apart from
// the runs' own streams under the same seed.
constexpr std::uint64_t lhs_stream_scenario = 0x4C48535F44455349ull;  // "LHS_DESI"

std::vector<ParameterPoint> latin_hypercube(const SweepSpec& s, std::uint64_t seed) {
    const std::uint32_t n = s.samples;
    std::vector<ParameterPoint> points(n);
    for (std::size_t j = 0; j < s.ranges.size(); ++j) {
        const auto& range = s.ranges[j];
        kernel::RandomStream r(kernel::StreamId{seed, lhs_stream_scenario, 0}, j);
        std::vector<std::uint32_t> stratum(n);
        std::iota(stratum.begin(), stratum.end(), 0u);
        for (std::uint32_t i = n; i > 1; --i) std::swap(stratum[i - 1], stratum[r.below(i)]);  // Fisher-Yates
        for (std::uint32_t i = 0; i < n; ++i) {
            const double u = (stratum[i] + r.uniform01()) / n;
            points[i].emplace_back(range.name, range.low + (range.high - range.low) * u);
        }
    }
    return points;
}

nlohmann::json substitute(const nlohmann::json& j, const ParameterPoint& point) {
    auto values = nlohmann::json::object();
    for (const auto& [name, value] : point)
        if (!values.contains(name)) values[name] = value;  // the first of a repeated name wins, as before
    return detail::substitute_references(j, values);
}

}  // namespace

std::vector<ParameterPoint> SweepSpec::points(std::uint64_t scenario_seed) const {
    switch (kind) {
        case Kind::list: return list;
        case Kind::latin_hypercube: return latin_hypercube(*this, seed.value_or(scenario_seed));
        case Kind::grid: break;
    }
    std::vector<ParameterPoint> out;
    if (grid.empty()) return out;
    std::vector<std::size_t> index(grid.size(), 0);
    for (;;) {
        ParameterPoint p;
        for (std::size_t k = 0; k < grid.size(); ++k) p.emplace_back(grid[k].first, grid[k].second[index[k]]);
        out.push_back(std::move(p));
        std::size_t k = grid.size();
        while (k > 0) {
            --k;
            if (++index[k] < grid[k].second.size()) break;
            index[k] = 0;
            if (k == 0) return out;
        }
    }
}

std::string point_name(const std::string& base, const ParameterPoint& point) {
    std::string out = base;
    out += '[';
    for (std::size_t i = 0; i < point.size(); ++i) {
        if (i > 0) out += ',';
        out += point[i].first;
        out += '=';
        out += point[i].second.is_string() ? point[i].second.get<std::string>() : point[i].second.dump();
    }
    out += ']';
    return out;
}

std::vector<ScenarioSpec> expand(const ScenarioSpec& base) {
    check_limits(base);  // before anything is expanded
    if (!base.sweep) return {base};
    std::vector<ScenarioSpec> out;
    for (const auto& point : base.sweep->points(base.seed)) {
        ScenarioSpec s = base;
        s.sweep.reset();
        s.name = point_name(base.name, point);
        for (const auto& [name, value] : point) {
            auto it = std::find_if(s.parameters.begin(), s.parameters.end(),
                                   [&n = name](const Parameter& p) { return p.name == n; });
            if (it == s.parameters.end()) it = s.parameters.insert(s.parameters.end(), Parameter{name, {}, {}});
            it->value = value;
            it->distribution.reset();
        }
        for (auto& o : s.overrides) o.set = substitute(o.set, point);
        for (auto& e : s.events) e.data = substitute(e.data, point);
        for (auto& m : s.models) m.parameters = substitute(m.parameters, point);
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace twinsim::scenario
