#include "models/equipment/health_indicator.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_map>

#include "models/equipment/json_fields.hpp"

namespace twinsim::models {

namespace {

/// Per setting, the cut points between groups of values separated by gaps
/// wider than `gap_fraction` of the range.
std::vector<std::vector<double>> setting_cuts(const HistorySet& set, double gap_fraction) {
    std::vector<std::vector<double>> cuts(set.setting_count());
    std::vector<double> values;
    for (std::size_t j = 0; j < set.setting_count(); ++j) {
        values.clear();
        for (const UnitHistory& u : set.units)
            for (std::size_t k = 0; k < u.rows(); ++k) values.push_back(u.settings[k * set.setting_count() + j]);
        std::sort(values.begin(), values.end());
        const double range = values.back() - values.front();
        if (!(range > 0.0)) continue;
        for (std::size_t k = 1; k < values.size(); ++k)
            if (values[k] - values[k - 1] > gap_fraction * range) cuts[j].push_back(0.5 * (values[k] + values[k - 1]));
    }
    return cuts;
}

}  // namespace

HealthIndicator HealthIndicator::fit(const HistorySet& training, const HealthIndicatorOptions& options) {
    if (!(options.rul_cap > 0.0) || !std::isfinite(options.rul_cap))
        throw std::invalid_argument("health indicator: rul_cap must be > 0");
    if (!(options.min_correlation >= 0.0 && options.min_correlation < 1.0))
        throw std::invalid_argument("health indicator: min_correlation must be in [0, 1)");
    if (!(options.gap_fraction > 0.0 && options.gap_fraction < 1.0))
        throw std::invalid_argument("health indicator: gap_fraction must be in (0, 1)");
    if (!(options.min_condition_share >= 0.0 && options.min_condition_share < 1.0))
        throw std::invalid_argument("health indicator: min_condition_share must be in [0, 1)");
    training.check("training histories");
    std::size_t failed_units = 0;
    for (const UnitHistory& u : training.units) failed_units += u.failed ? 1 : 0;
    if (failed_units < 2)
        throw HistoryInputError("training histories: need at least 2 units run to failure, found " +
                                std::to_string(failed_units));
    if (training.sensor_count() == 0) throw HistoryInputError("training histories: no sensors");

    HealthIndicator h;
    h.setting_names_ = training.setting_names;
    h.sensor_names_ = training.sensor_names;
    h.rul_cap_ = options.rul_cap;
    const std::size_t ns = training.setting_count(), nm = training.sensor_count();
    const std::size_t rows = training.rows();

    // 1. operating conditions
    h.setting_scale_.assign(ns, 1.0);
    for (std::size_t j = 0; j < ns; ++j) {
        double lo = HUGE_VAL, hi = -HUGE_VAL;
        for (const UnitHistory& u : training.units)
            for (std::size_t k = 0; k < u.rows(); ++k) {
                lo = std::min(lo, u.settings[k * ns + j]);
                hi = std::max(hi, u.settings[k * ns + j]);
            }
        if (hi > lo) h.setting_scale_[j] = hi - lo;
    }
    const auto cuts = setting_cuts(training, options.gap_fraction);
    std::map<std::vector<std::uint32_t>, std::pair<std::size_t, std::vector<double>>> groups;  // bins -> (rows, sums)
    std::vector<std::uint32_t> bins(ns);
    for (const UnitHistory& u : training.units)
        for (std::size_t k = 0; k < u.rows(); ++k) {
            const double* s = &u.settings[k * ns];
            for (std::size_t j = 0; j < ns; ++j)
                bins[j] = static_cast<std::uint32_t>(std::upper_bound(cuts[j].begin(), cuts[j].end(), s[j]) - cuts[j].begin());
            auto& g = groups[bins];
            if (g.second.empty()) g.second.assign(ns, 0.0);
            ++g.first;
            for (std::size_t j = 0; j < ns; ++j) g.second[j] += s[j];
        }
    // Big groups become conditions; small ones (noise between clusters) join the nearest.
    const double min_rows = options.min_condition_share * static_cast<double>(rows);
    for (const auto& [key, g] : groups)
        if (static_cast<double>(g.first) >= min_rows || groups.size() == 1) {
            for (std::size_t j = 0; j < ns; ++j) h.centres_.push_back(g.second[j] / static_cast<double>(g.first));
            ++h.conditions_;
        }
    if (h.conditions_ == 0) {  // every group small: one condition at the mean
        std::vector<double> mean(ns, 0.0);
        for (const auto& [key, g] : groups)
            for (std::size_t j = 0; j < ns; ++j) mean[j] += g.second[j] / static_cast<double>(rows);
        h.centres_ = mean;
        h.conditions_ = 1;
    }
    if (ns == 0) h.conditions_ = 1;

    // 2. per-condition normalisation
    const std::size_t nc = h.conditions_;
    std::vector<double> sum(nc * nm, 0.0), sum2(nc * nm, 0.0), count(nc, 0.0);
    std::vector<std::vector<std::uint32_t>> condition(training.units.size());
    for (std::size_t i = 0; i < training.units.size(); ++i) {
        const UnitHistory& u = training.units[i];
        condition[i].resize(u.rows());
        for (std::size_t k = 0; k < u.rows(); ++k) {
            const auto c = static_cast<std::uint32_t>(h.condition_of({&u.settings[k * ns], ns}));
            condition[i][k] = c;
            count[c] += 1.0;
            for (std::size_t m = 0; m < nm; ++m) sum[c * nm + m] += u.sensors[k * nm + m];
        }
    }
    h.mean_.assign(nc * nm, 0.0);
    h.sd_.assign(nc * nm, 1.0);
    for (std::size_t c = 0; c < nc; ++c)
        for (std::size_t m = 0; m < nm; ++m)
            h.mean_[c * nm + m] = count[c] > 0 ? sum[c * nm + m] / count[c] : 0.0;
    for (std::size_t i = 0; i < training.units.size(); ++i) {
        const UnitHistory& u = training.units[i];
        for (std::size_t k = 0; k < u.rows(); ++k) {
            const std::size_t c = condition[i][k];
            for (std::size_t m = 0; m < nm; ++m) {
                const double d = u.sensors[k * nm + m] - h.mean_[c * nm + m];
                sum2[c * nm + m] += d * d;
            }
        }
    }
    for (std::size_t c = 0; c < nc; ++c)
        for (std::size_t m = 0; m < nm; ++m) {
            const double var = count[c] > 1 ? sum2[c * nm + m] / (count[c] - 1.0) : 0.0;
            const double sd = std::sqrt(var);
            // A sensor constant in a condition (to rounding) carries nothing: z = 0 there.
            h.sd_[c * nm + m] = sd > 1e-9 * std::max(1.0, std::fabs(h.mean_[c * nm + m])) ? sd : HUGE_VAL;
        }

    // 3. informative sensors: |corr(z, t / L)| >= min_correlation on the failed units
    std::vector<double> sz(nm, 0.0), szz(nm, 0.0), szf(nm, 0.0);
    double sf = 0.0, sff = 0.0, n = 0.0;
    auto z_of = [&](std::size_t i, std::size_t k, std::size_t m) {
        const std::size_t c = condition[i][k];
        const UnitHistory& u = training.units[i];
        return (u.sensors[k * nm + m] - h.mean_[c * nm + m]) / h.sd_[c * nm + m];
    };
    for (std::size_t i = 0; i < training.units.size(); ++i) {
        const UnitHistory& u = training.units[i];
        if (!u.failed) continue;
        const double first = u.cycles.front(), life = u.cycles.back() - first + 1.0;
        for (std::size_t k = 0; k < u.rows(); ++k) {
            const double f = (u.cycles[k] - first + 1.0) / life;
            sf += f;
            sff += f * f;
            n += 1.0;
            for (std::size_t m = 0; m < nm; ++m) {
                const double z = z_of(i, k, m);
                sz[m] += z;
                szz[m] += z * z;
                szf[m] += z * f;
            }
        }
    }
    for (std::size_t m = 0; m < nm; ++m) {
        const double cov = szf[m] / n - (sz[m] / n) * (sf / n);
        const double vz = szz[m] / n - (sz[m] / n) * (sz[m] / n);
        const double vf = sff / n - (sf / n) * (sf / n);
        if (!(vz > 1e-12) || !(vf > 0.0)) continue;
        const double r = cov / std::sqrt(vz * vf);
        if (std::fabs(r) >= options.min_correlation) h.used_.push_back(static_cast<std::uint32_t>(m));
    }
    if (h.used_.empty())
        throw HistoryInputError("training histories: no sensor correlates with age by at least " +
                                std::to_string(options.min_correlation) + " (no health indicator can be fused)");

    // 4. OLS of min(RUL, cap) / cap on [1, z_used]
    const std::size_t p = h.used_.size() + 1;
    Eigen::MatrixXd xtx = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(p), static_cast<Eigen::Index>(p));
    Eigen::VectorXd xty = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(p));
    Eigen::VectorXd x(static_cast<Eigen::Index>(p));
    for (std::size_t i = 0; i < training.units.size(); ++i) {
        const UnitHistory& u = training.units[i];
        if (!u.failed) continue;
        for (std::size_t k = 0; k < u.rows(); ++k) {
            x[0] = 1.0;
            for (std::size_t q = 0; q < h.used_.size(); ++q) x[static_cast<Eigen::Index>(q + 1)] = z_of(i, k, h.used_[q]);
            const double y = std::min(u.cycles.back() - u.cycles[k], options.rul_cap) / options.rul_cap;
            xtx.selfadjointView<Eigen::Lower>().rankUpdate(x);
            xty += y * x;
        }
    }
    xtx.triangularView<Eigen::StrictlyUpper>() = xtx.transpose();
    const Eigen::VectorXd beta = xtx.ldlt().solve(xty);
    if (!beta.allFinite()) throw HistoryInputError("training histories: the health indicator's least squares has no solution");
    h.intercept_ = beta[0];
    for (std::size_t q = 0; q < h.used_.size(); ++q) h.weights_.push_back(beta[static_cast<Eigen::Index>(q + 1)]);
    return h;
}

std::size_t HealthIndicator::condition_of(std::span<const double> settings) const {
    std::size_t best = 0;
    double best_d = HUGE_VAL;
    const std::size_t ns = setting_count();
    for (std::size_t c = 0; c < conditions_; ++c) {
        double d = 0.0;
        for (std::size_t j = 0; j < ns; ++j) {
            const double e = (settings[j] - centres_[c * ns + j]) / setting_scale_[j];
            d += e * e;
        }
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    return best;
}

double HealthIndicator::evaluate(std::span<const double> settings, std::span<const double> sensors) const {
    const std::size_t c = condition_of(settings);
    const std::size_t nm = sensor_count();
    double v = intercept_;
    for (std::size_t q = 0; q < used_.size(); ++q) {
        const std::size_t m = used_[q];
        v += weights_[q] * (sensors[m] - mean_[c * nm + m]) / sd_[c * nm + m];
    }
    return v;
}

std::vector<double> HealthIndicator::evaluate(const UnitHistory& unit) const {
    std::vector<double> out(unit.rows());
    const std::size_t ns = setting_count(), nm = sensor_count();
    for (std::size_t k = 0; k < unit.rows(); ++k)
        out[k] = evaluate({unit.settings.data() + k * ns, ns}, {unit.sensors.data() + k * nm, nm});
    return out;
}

HistorySet HealthIndicator::reorder(const HistorySet& set) const {
    if (set.setting_names == setting_names_ && set.sensor_names == sensor_names_) return set;
    auto columns = [](const std::vector<std::string>& wanted, const std::vector<std::string>& have, const char* what) {
        std::vector<std::size_t> out;
        for (const std::string& name : wanted) {
            const auto it = std::find(have.begin(), have.end(), name);
            if (it == have.end())
                throw HistoryInputError(std::string("histories: no ") + what + " \"" + name +
                                        "\" (the health indicator was fitted with it)");
            out.push_back(static_cast<std::size_t>(it - have.begin()));
        }
        return out;
    };
    const auto sc = columns(setting_names_, set.setting_names, "setting");
    const auto mc = columns(sensor_names_, set.sensor_names, "sensor");
    HistorySet out;
    out.setting_names = setting_names_;
    out.sensor_names = sensor_names_;
    for (const UnitHistory& u : set.units) {
        UnitHistory r;
        r.id = u.id;
        r.failed = u.failed;
        r.cycles = u.cycles;
        for (std::size_t k = 0; k < u.rows(); ++k) {
            for (const std::size_t j : sc) r.settings.push_back(u.settings[k * set.setting_count() + j]);
            for (const std::size_t j : mc) r.sensors.push_back(u.sensors[k * set.sensor_count() + j]);
        }
        out.units.push_back(std::move(r));
    }
    return out;
}

std::vector<std::string> HealthIndicator::informative_sensors() const {
    std::vector<std::string> out;
    for (const std::uint32_t m : used_) out.push_back(sensor_names_[m]);
    return out;
}

nlohmann::json HealthIndicator::to_json() const {
    using nlohmann::json;
    json conditions = json::array();
    const std::size_t ns = setting_count(), nm = sensor_count();
    for (std::size_t c = 0; c < conditions_; ++c) {
        json mean = json::object(), sd = json::object();
        for (std::size_t m = 0; m < nm; ++m) {
            mean[sensor_names_[m]] = mean_[c * nm + m];
            sd[sensor_names_[m]] = std::isfinite(sd_[c * nm + m]) ? json(sd_[c * nm + m]) : json(nullptr);
        }
        conditions.push_back({{"centre", std::vector<double>(centres_.begin() + static_cast<std::ptrdiff_t>(c * ns),
                                                             centres_.begin() + static_cast<std::ptrdiff_t>((c + 1) * ns))},
                              {"mean", mean},
                              {"sd", sd}});
    }
    json weights = json::object();
    for (std::size_t q = 0; q < used_.size(); ++q) weights[sensor_names_[used_[q]]] = weights_[q];
    return {{"settings", setting_names_}, {"sensors", sensor_names_}, {"setting_scale", setting_scale_},
            {"conditions", conditions},   {"intercept", intercept_},  {"weights", weights},
            {"rul_cap", rul_cap_}};
}

HealthIndicator HealthIndicator::from_json(const nlohmann::json& j, const std::string& where) {
    using detail::field;
    HealthIndicator h;
    h.setting_names_ = detail::names(field(j, "settings", where), where + ".settings", 4096);
    h.sensor_names_ = detail::names(field(j, "sensors", where), where + ".sensors", 4096);
    if (h.sensor_names_.empty()) throw PrognosticsParameterError(where + ".sensors: empty");
    const std::size_t ns = h.setting_count(), nm = h.sensor_count();
    h.setting_scale_ = detail::numbers(field(j, "setting_scale", where), where + ".setting_scale", ns, ns);
    for (const double s : h.setting_scale_)
        if (!(s > 0.0)) throw PrognosticsParameterError(where + ".setting_scale: every value must be > 0");
    const nlohmann::json& conditions = field(j, "conditions", where);
    if (!conditions.is_array() || conditions.empty() || conditions.size() > 10000)
        throw PrognosticsParameterError(where + ".conditions: expected an array of 1 to 10,000 conditions");
    for (std::size_t c = 0; c < conditions.size(); ++c) {
        const std::string at = where + ".conditions[" + std::to_string(c) + "]";
        const auto centre = detail::numbers(field(conditions[c], "centre", at), at + ".centre", ns, ns);
        h.centres_.insert(h.centres_.end(), centre.begin(), centre.end());
        const nlohmann::json& mean = field(conditions[c], "mean", at);
        const nlohmann::json& sd = field(conditions[c], "sd", at);
        for (const std::string& name : h.sensor_names_) {
            h.mean_.push_back(detail::number(field(mean, name, at + ".mean"), at + ".mean." + name));
            const nlohmann::json& s = field(sd, name, at + ".sd");
            const double v = s.is_null() ? HUGE_VAL : detail::number(s, at + ".sd." + name);
            if (!(v > 0.0)) throw PrognosticsParameterError(at + ".sd." + name + ": must be > 0 (or null: constant)");
            h.sd_.push_back(v);
        }
    }
    h.conditions_ = conditions.size();
    h.intercept_ = detail::number(field(j, "intercept", where), where + ".intercept");
    const nlohmann::json& weights = field(j, "weights", where);
    if (!weights.is_object() || weights.empty()) throw PrognosticsParameterError(where + ".weights: expected a non-empty object");
    for (const auto& [name, w] : weights.items()) {
        const auto it = std::find(h.sensor_names_.begin(), h.sensor_names_.end(), name);
        if (it == h.sensor_names_.end())
            throw PrognosticsParameterError(where + ".weights." + name + ": not one of the sensors");
        h.used_.push_back(static_cast<std::uint32_t>(it - h.sensor_names_.begin()));
    }
    // keep the sensors' order (an object's member order is not significant)
    std::sort(h.used_.begin(), h.used_.end());
    for (const std::uint32_t m : h.used_)
        h.weights_.push_back(detail::number(weights[h.sensor_names_[m]], where + ".weights." + h.sensor_names_[m]));
    h.rul_cap_ = detail::number(field(j, "rul_cap", where), where + ".rul_cap");
    if (!(h.rul_cap_ > 0.0)) throw PrognosticsParameterError(where + ".rul_cap: must be > 0");
    (void)nm;
    return h;
}

}  // namespace twinsim::models
