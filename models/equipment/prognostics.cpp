#include "models/equipment/prognostics.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "models/equipment/json_fields.hpp"
#include "twinsim/common/json_depth.hpp"

namespace twinsim::models {

namespace {

constexpr const char* format_name = "twinsim-prognostics";
constexpr int format_version = 1;
constexpr std::size_t max_curve = 1'000'000;
constexpr std::uintmax_t max_file_bytes = 64u << 20;

/// Centered moving average of width `w` (odd), the ends padded with the end values.
std::vector<double> smooth(const std::vector<double>& x, std::size_t w) {
    const std::size_t n = x.size(), half = w / 2;
    std::vector<double> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0.0;
        for (std::size_t k = 0; k < w; ++k) {
            const std::ptrdiff_t j = static_cast<std::ptrdiff_t>(i + k) - static_cast<std::ptrdiff_t>(half);
            s += x[static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(j, 0, static_cast<std::ptrdiff_t>(n) - 1))];
        }
        out[i] = s / static_cast<double>(w);
    }
    return out;
}

/// Linear interpolation on the grid 0, 1, ..., held at the ends.
inline double at(const std::vector<double>& y, double tau) {
    if (!(tau > 0.0)) return y.front();
    const auto i = static_cast<std::size_t>(tau);
    if (i + 1 >= y.size()) return y.back();
    const double f = tau - static_cast<double>(i);
    return y[i] + f * (y[i + 1] - y[i]);
}

double population_sd(const std::vector<double>& x) {
    const double m = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
    double s = 0.0;
    for (const double v : x) s += (v - m) * (v - m);
    return std::sqrt(s / static_cast<double>(x.size()));
}

double log_sum_exp(const double* v, std::size_t n) {
    double mx = -HUGE_VAL;
    for (std::size_t i = 0; i < n; ++i) mx = std::max(mx, v[i]);
    if (!std::isfinite(mx)) return mx;
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) s += std::exp(v[i] - mx);
    return mx + std::log(s);
}

void normalise_log(std::vector<double>& logp) {
    const double z = log_sum_exp(logp.data(), logp.size());
    for (double& v : logp) v = std::isfinite(z) ? std::exp(v - z) : 0.0;
}

}  // namespace

// --- RulDistribution ---------------------------------------------------------------------

double RulDistribution::mean() const {
    double s = 0.0;
    for (std::size_t k = 0; k < pmf.size(); ++k) s += static_cast<double>(k) * pmf[k];
    return s;
}

double RulDistribution::quantile(double p) const {
    if (!(p >= 0.0 && p <= 1.0)) throw std::invalid_argument("quantile: p must be in [0, 1]");
    double c = 0.0;
    for (std::size_t k = 0; k < pmf.size(); ++k) {
        c += pmf[k];
        if (c >= p - 1e-12) return static_cast<double>(k);
    }
    return pmf.empty() ? 0.0 : static_cast<double>(pmf.size() - 1);
}

double RulDistribution::probability_within(double h) const {
    if (std::isnan(h)) throw std::invalid_argument("probability_within: h is NaN");
    double c = 0.0;
    for (std::size_t k = 0; k < pmf.size() && static_cast<double>(k) <= h; ++k) c += pmf[k];
    return std::min(c, 1.0);
}

double RulDistribution::capped_mean(double cap) const {
    double s = 0.0;
    for (std::size_t k = 0; k < pmf.size(); ++k) s += std::min(static_cast<double>(k), cap) * pmf[k];
    return s;
}

double RulDistribution::capped_quantile(double p, double cap) const { return std::min(quantile(p), cap); }

// --- fitting -----------------------------------------------------------------------------

PrognosticsModel PrognosticsModel::fit(const HistorySet& training_set, const PrognosticsOptions& options) {
    if (options.rate_points == 0 || options.rate_points % 2 == 0 || options.rate_points > 101)
        throw std::invalid_argument("prognostics: rate_points must be odd, 1 to 101");
    const auto started = std::chrono::steady_clock::now();
    PrognosticsModel model;
    model.health_ = HealthIndicator::fit(training_set, options.health);
    DegradationParameters& d = model.degradation_;
    d.rate_points = options.rate_points;

    // The failed units' indicator against cycles-to-failure tau = L - t.
    struct Unit {
        std::vector<double> tau, h;
        double life = 0.0;
    };
    std::vector<Unit> units;
    std::size_t rows = 0;
    for (const UnitHistory& u : training_set.units) {
        rows += u.rows();
        if (!u.failed) continue;
        Unit f;
        f.h = model.health_.evaluate(u);
        f.life = u.cycles.back();
        for (const double t : u.cycles) f.tau.push_back(u.cycles.back() - t);
        units.push_back(std::move(f));
    }
    // (HealthIndicator::fit made sure there are at least 2 failed units.)
    std::vector<double> lives;
    double shortest = HUGE_VAL, longest = 0.0, life_sum = 0.0;
    for (const Unit& u : units) {
        lives.push_back(u.life);
        shortest = std::min(shortest, u.life);
        longest = std::max(longest, u.life);
        life_sum += u.life;
    }
    if (shortest <= 0.0)
        throw HistoryInputError("training histories: a failed unit's last cycle is <= 0 (cycles count from the start of life)");

    // m(tau): the mean indicator at each tau where enough units reach it, held beyond.
    std::size_t span = 1;
    for (const Unit& u : units) span = std::max(span, static_cast<std::size_t>(std::lround(u.tau.front())) + 1);
    if (span > max_curve) throw HistoryInputError("training histories: a unit spans more than 1,000,000 cycles");
    std::vector<double> sum(span, 0.0), count(span, 0.0);
    for (const Unit& u : units)
        for (std::size_t k = 0; k < u.tau.size(); ++k) {
            const auto i = static_cast<std::size_t>(std::lround(u.tau[k]));
            sum[i] += u.h[k];
            count[i] += 1.0;
        }
    const double needed = std::max(3.0, std::ceil(0.1 * static_cast<double>(units.size())));
    std::size_t last = 0;
    for (std::size_t i = 0; i < span; ++i)
        if (count[i] >= needed) last = i;
    std::vector<double> curve(span);
    for (std::size_t i = 0; i <= last; ++i) curve[i] = count[i] > 0 ? sum[i] / count[i] : (i > 0 ? curve[i - 1] : 0.0);
    {
        const std::size_t from = last >= 19 ? last - 19 : 0;
        double tail = 0.0;
        for (std::size_t i = from; i <= last; ++i) tail += curve[i];
        tail /= static_cast<double>(last - from + 1);
        for (std::size_t i = last + 1; i < span; ++i) curve[i] = tail;
    }
    d.curve = smooth(curve, 7);

    // Unit offsets a_i, the residual variance v(tau) and the offset variance.
    std::vector<double> offsets, unit_var, vsum(span, 0.0), vcount(span, 0.0);
    double mean_rows = 0.0;
    for (const Unit& u : units) {
        double a = 0.0;
        for (std::size_t k = 0; k < u.h.size(); ++k) a += u.h[k] - at(d.curve, u.tau[k]);
        a /= static_cast<double>(u.h.size());
        double var = 0.0;
        for (std::size_t k = 0; k < u.h.size(); ++k) {
            const double r = u.h[k] - at(d.curve, u.tau[k]) - a;
            var += r * r;
            const auto i = static_cast<std::size_t>(std::lround(u.tau[k]));
            vsum[i] += r * r;
            vcount[i] += 1.0;
        }
        offsets.push_back(a);
        unit_var.push_back(var / static_cast<double>(u.h.size()));
        mean_rows += static_cast<double>(u.h.size());
    }
    mean_rows /= static_cast<double>(units.size());
    std::vector<double> variance(span);
    for (std::size_t i = 0; i <= last; ++i)
        variance[i] = vcount[i] > 0 ? vsum[i] / vcount[i] : (i > 0 ? variance[i - 1] : 0.0);
    {
        const std::size_t from = last >= 19 ? last - 19 : 0;
        double tail = 0.0;
        for (std::size_t i = from; i <= last; ++i) tail += variance[i];
        tail /= static_cast<double>(last - from + 1);
        for (std::size_t i = last + 1; i < span; ++i) variance[i] = tail;
    }
    d.variance = smooth(variance, 9);
    for (double& v : d.variance) v = std::max(v, 1e-8);
    const double within = std::accumulate(unit_var.begin(), unit_var.end(), 0.0) / static_cast<double>(unit_var.size());
    const double offset_sd = population_sd(offsets);
    d.offset_variance = std::max(offset_sd * offset_sd - within / mean_rows, 1e-6);

    // The rate random effect: each unit's best log-rate on a grid, their spread.
    std::vector<double> best_log_rate;
    for (const Unit& u : units) {
        double best = 0.0, best_sse = HUGE_VAL;
        for (int g = -14; g <= 14; ++g) {
            const double l = 0.05 * g, s = std::exp(l);
            double mean = 0.0;
            for (std::size_t k = 0; k < u.h.size(); ++k) mean += u.h[k] - at(d.curve, u.tau[k] * s);
            mean /= static_cast<double>(u.h.size());
            double sse = 0.0;
            for (std::size_t k = 0; k < u.h.size(); ++k) {
                const double r = u.h[k] - at(d.curve, u.tau[k] * s) - mean;
                sse += r * r;
            }
            if (sse < best_sse) {
                best_sse = sse;
                best = l;
            }
        }
        best_log_rate.push_back(best);
    }
    d.log_rate_sd = std::max(population_sd(best_log_rate), 0.02);

    // Lag-1 autocorrelation of the residuals about each unit's own fit.
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < units.size(); ++i) {
        const Unit& u = units[i];
        const double s = std::exp(best_log_rate[i]);
        std::vector<double> r(u.h.size());
        double mean = 0.0;
        for (std::size_t k = 0; k < u.h.size(); ++k) mean += (r[k] = u.h[k] - at(d.curve, u.tau[k] * s));
        mean /= static_cast<double>(u.h.size());
        for (std::size_t k = 0; k < r.size(); ++k) {
            r[k] -= mean;
            den += r[k] * r[k];
            if (k > 0) num += r[k] * r[k - 1];
        }
    }
    d.autocorrelation = den > 0.0 ? std::clamp(num / den, 0.0, 0.95) : 0.0;
    d.temper = (1.0 - d.autocorrelation) / (1.0 + d.autocorrelation);

    // The fleet prior of the life.
    std::vector<double> log_lives;
    for (const double l : lives) log_lives.push_back(std::log(l));
    d.life_log_mean = std::accumulate(log_lives.begin(), log_lives.end(), 0.0) / static_cast<double>(log_lives.size());
    d.life_log_sd = std::max(population_sd(log_lives), 0.01);
    d.max_life = longest;

    // The end-of-life alignment spread: each unit's posterior mean alignment, given its whole history, against its failure.
    std::vector<double> misalignment;
    for (const UnitHistory& u : training_set.units) {
        if (!u.failed) continue;
        const std::vector<double> h = model.health_.evaluate(u);
        std::int64_t lo = -60;
        while (u.cycles.back() + static_cast<double>(lo) <= 0.0) ++lo;
        const std::vector<double> p = model.alignment_posterior(u.cycles, h, lo, 60);
        double m = 0.0;
        for (std::size_t k = 0; k < p.size(); ++k) m += p[k] * static_cast<double>(lo + static_cast<std::int64_t>(k));
        misalignment.push_back(m);
    }
    d.end_offset_sd = std::max(population_sd(misalignment), 1.0);

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    model.training_ = {{"units", training_set.units.size()},
                       {"failed_units", units.size()},
                       {"rows", rows},
                       {"life", {{"min", shortest}, {"mean", life_sum / static_cast<double>(lives.size())}, {"max", longest}}},
                       {"seconds", seconds}};
    return model;
}

// --- predicting --------------------------------------------------------------------------

std::vector<double> PrognosticsModel::alignment_posterior(std::span<const double> cycles, std::span<const double> health,
                                                          std::int64_t d_lo, std::int64_t d_hi) const {
    const DegradationParameters& d = degradation_;
    const std::size_t n = cycles.size();
    const double tn = cycles.back();
    const std::size_t grid = static_cast<std::size_t>(d_hi - d_lo + 1);
    const std::uint32_t rates = d.rate_points;
    // Tables of 1/v and log v on the curve's grid.
    std::vector<double> inv_v(d.variance.size()), log_v(d.variance.size());
    for (std::size_t i = 0; i < d.variance.size(); ++i) {
        inv_v[i] = 1.0 / d.variance[i];
        log_v[i] = std::log(d.variance[i]);
    }
    std::vector<double> logp(grid * rates);
    const double ta2 = d.offset_variance;
    for (std::uint32_t j = 0; j < rates; ++j) {
        const double l = rates == 1 ? 0.0
                                    : d.log_rate_sd * (-2.5 + 5.0 * static_cast<double>(j) / static_cast<double>(rates - 1));
        const double s = std::exp(l);
        const double prior_rate = rates == 1 ? 0.0 : -l * l / (2.0 * d.log_rate_sd * d.log_rate_sd);
        for (std::size_t g = 0; g < grid; ++g) {
            const double T = tn + static_cast<double>(d_lo + static_cast<std::int64_t>(g));
            const double z = (std::log(T) - d.life_log_mean) / d.life_log_sd;
            const double prior_life = -0.5 * z * z - std::log(T);
            double A = 0.0, B = 0.0, Q = 0.0, L = 0.0;
            for (std::size_t k = 0; k < n; ++k) {
                const double tau = (T - cycles[k]) * s;
                const double r = health[k] - at(d.curve, tau);
                const double iv = at(inv_v, tau);
                A += iv;
                B += r * iv;
                Q += r * r * iv;
                L += at(log_v, tau);
            }
            const double ll = -0.5 * (Q - B * B * ta2 / (1.0 + ta2 * A)) - 0.5 * (L + std::log1p(ta2 * A));
            logp[g * rates + j] = prior_life + prior_rate + d.temper * ll;
        }
    }
    std::vector<double> out(grid);
    for (std::size_t g = 0; g < grid; ++g) out[g] = log_sum_exp(&logp[g * rates], rates);
    normalise_log(out);
    return out;
}

RulDistribution PrognosticsModel::predict_health(std::string unit, std::span<const double> cycles,
                                                 std::span<const double> health) const {
    if (cycles.empty()) throw HistoryInputError("unit \"" + unit + "\": no rows to predict from");
    if (cycles.size() != health.size())
        throw std::invalid_argument("predict_health: cycles and health differ in size");
    for (std::size_t k = 0; k < cycles.size(); ++k) {
        if (!std::isfinite(cycles[k]) || !std::isfinite(health[k]))
            throw HistoryInputError("unit \"" + unit + "\": row " + std::to_string(k + 1) + " is not finite");
        if (k > 0 && !(cycles[k] > cycles[k - 1]))
            throw HistoryInputError("unit \"" + unit + "\": cycles must increase (row " + std::to_string(k + 1) + ")");
    }
    const DegradationParameters& d = degradation_;
    const double tn = cycles.back();
    const auto K = static_cast<std::int64_t>(std::ceil(4.0 * d.end_offset_sd));
    std::int64_t lo = -K;
    while (tn + static_cast<double>(lo) <= 0.0) ++lo;
    const std::int64_t hi = static_cast<std::int64_t>(std::ceil(d.max_life)) + K;
    const std::vector<double> pa = alignment_posterior(cycles, health, lo, std::max(hi, lo));

    // Failure = alignment + delta, delta ~ N(0, sd^2) on whole cycles; keep RUL >= 0.
    std::vector<double> kernel(static_cast<std::size_t>(2 * K + 1));
    double ks = 0.0;
    for (std::int64_t i = -K; i <= K; ++i) {
        const double z = static_cast<double>(i) / d.end_offset_sd;
        ks += kernel[static_cast<std::size_t>(i + K)] = std::exp(-0.5 * z * z);
    }
    for (double& v : kernel) v /= ks;
    const std::int64_t top = std::max(hi, lo) + K;
    RulDistribution out;
    out.unit = std::move(unit);
    out.cycle = tn;
    out.pmf.assign(static_cast<std::size_t>(std::max<std::int64_t>(top, 0) + 1), 0.0);
    double total = 0.0;
    for (std::size_t g = 0; g < pa.size(); ++g) {
        if (pa[g] == 0.0) continue;
        const std::int64_t a = lo + static_cast<std::int64_t>(g);
        for (std::int64_t i = -K; i <= K; ++i) {
            const std::int64_t r = a + i;
            if (r < 0) continue;
            const double w = pa[g] * kernel[static_cast<std::size_t>(i + K)];
            out.pmf[static_cast<std::size_t>(r)] += w;
            total += w;
        }
    }
    if (total > 0.0) {
        for (double& v : out.pmf) v /= total;
    } else {
        out.pmf.assign(1, 1.0);  // every alignment lies in the past: the unit is at its end of life
    }
    while (out.pmf.size() > 1 && out.pmf.back() < 1e-15) out.pmf.pop_back();
    const std::size_t recent = std::min<std::size_t>(5, health.size());
    double h = 0.0;
    for (std::size_t k = health.size() - recent; k < health.size(); ++k) h += health[k];
    out.health = std::clamp(h / static_cast<double>(recent), 0.0, 1.0);
    return out;
}

RulDistribution PrognosticsModel::predict(const UnitHistory& unit) const {
    if (unit.settings.size() != unit.rows() * health_.setting_count() ||
        unit.sensors.size() != unit.rows() * health_.sensor_count())
        throw HistoryInputError("unit \"" + unit.id + "\": its columns do not match the model's settings and sensors");
    for (const double v : unit.settings)
        if (!std::isfinite(v)) throw HistoryInputError("unit \"" + unit.id + "\": a setting is not finite");
    for (const double v : unit.sensors)
        if (!std::isfinite(v)) throw HistoryInputError("unit \"" + unit.id + "\": a sensor value is not finite");
    const std::vector<double> h = health_.evaluate(unit);
    return predict_health(unit.id, unit.cycles, h);
}

std::vector<RulDistribution> PrognosticsModel::predict(const HistorySet& set) const {
    const HistorySet ordered = health_.reorder(set);
    std::vector<RulDistribution> out;
    out.reserve(ordered.units.size());
    for (const UnitHistory& u : ordered.units) out.push_back(predict(u));
    return out;
}

// --- the parameters file -------------------------------------------------------------------

nlohmann::json PrognosticsModel::to_json() const {
    const DegradationParameters& d = degradation_;
    return {{"format", format_name},
            {"version", format_version},
            {"health_indicator", health_.to_json()},
            {"degradation",
             {{"curve", d.curve},
              {"variance", d.variance},
              {"offset_variance", d.offset_variance},
              {"log_rate_sd", d.log_rate_sd},
              {"rate_points", d.rate_points},
              {"autocorrelation", d.autocorrelation},
              {"temper", d.temper},
              {"life_log_mean", d.life_log_mean},
              {"life_log_sd", d.life_log_sd},
              {"max_life", d.max_life},
              {"end_offset_sd", d.end_offset_sd}}},
            {"training", training_}};
}

PrognosticsModel PrognosticsModel::from_json(const nlohmann::json& j) {
    using detail::field;
    using detail::number;
    const std::string root = "parameters";
    const nlohmann::json& format = field(j, "format", root);
    if (format != format_name)
        throw PrognosticsParameterError(root + ".format: expected \"" + std::string(format_name) + "\", found " +
                                        format.dump().substr(0, 60));
    if (field(j, "version", root) != format_version)
        throw PrognosticsParameterError(root + ".version: expected " + std::to_string(format_version) + ", found " +
                                        field(j, "version", root).dump().substr(0, 60));
    PrognosticsModel model;
    model.health_ = HealthIndicator::from_json(field(j, "health_indicator", root), root + ".health_indicator");
    const std::string at_d = root + ".degradation";
    const nlohmann::json& dj = field(j, "degradation", root);
    DegradationParameters& d = model.degradation_;
    d.curve = detail::numbers(field(dj, "curve", at_d), at_d + ".curve", 1, max_curve);
    d.variance = detail::numbers(field(dj, "variance", at_d), at_d + ".variance", d.curve.size(), d.curve.size());
    for (const double v : d.variance)
        if (!(v > 0.0)) throw PrognosticsParameterError(at_d + ".variance: every value must be > 0");
    auto positive = [&](const char* name) {
        const double v = number(field(dj, name, at_d), at_d + "." + name);
        if (!(v > 0.0)) throw PrognosticsParameterError(at_d + "." + name + ": must be > 0");
        return v;
    };
    d.offset_variance = positive("offset_variance");
    d.log_rate_sd = positive("log_rate_sd");
    const double rp = number(field(dj, "rate_points", at_d), at_d + ".rate_points");
    if (rp < 1 || rp > 101 || rp != std::floor(rp) || static_cast<int>(rp) % 2 == 0)
        throw PrognosticsParameterError(at_d + ".rate_points: must be an odd integer, 1 to 101");
    d.rate_points = static_cast<std::uint32_t>(rp);
    d.autocorrelation = number(field(dj, "autocorrelation", at_d), at_d + ".autocorrelation");
    if (!(d.autocorrelation >= 0.0 && d.autocorrelation < 1.0))
        throw PrognosticsParameterError(at_d + ".autocorrelation: must be in [0, 1)");
    d.temper = positive("temper");
    if (d.temper > 1.0) throw PrognosticsParameterError(at_d + ".temper: must be in (0, 1]");
    d.life_log_mean = number(field(dj, "life_log_mean", at_d), at_d + ".life_log_mean");
    d.life_log_sd = positive("life_log_sd");
    d.max_life = positive("max_life");
    if (d.max_life > 1e6) throw PrognosticsParameterError(at_d + ".max_life: must be <= 1,000,000 cycles");
    d.end_offset_sd = positive("end_offset_sd");
    if (d.end_offset_sd > 1e4) throw PrognosticsParameterError(at_d + ".end_offset_sd: must be <= 10,000 cycles");
    if (const auto it = j.find("training"); it != j.end() && it->is_object()) model.training_ = *it;
    return model;
}

void PrognosticsModel::save(const std::filesystem::path& file) const {
    const std::filesystem::path temporary = file.string() + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw IoError("cannot write " + temporary.string());
        out << to_json().dump(1) << '\n';
        if (!out) throw IoError("cannot write " + temporary.string());
    }
    std::error_code ec;
    std::filesystem::rename(temporary, file, ec);
    if (ec) throw IoError("cannot rename " + temporary.string() + " to " + file.string() + ": " + ec.message());
}

PrognosticsModel PrognosticsModel::load(const std::filesystem::path& file) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec) throw IoError("cannot read " + file.string() + ": " + ec.message());
    if (size > max_file_bytes) throw PrognosticsParameterError(file.string() + ": larger than 64 MiB");
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) throw IoError("cannot read " + file.string());
    const std::string body = text.str();
    if (const auto excess = find_json_depth_excess(body))
        throw PrognosticsParameterError(file.string() + ": at byte " + std::to_string(*excess) + ": " + json_depth_reason());
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(body, nullptr, true, false);
    } catch (const nlohmann::json::parse_error& e) {
        throw PrognosticsParameterError(file.string() + ": not JSON: " + e.what());
    }
    try {
        return from_json(j);
    } catch (const PrognosticsParameterError& e) {
        throw PrognosticsParameterError(file.string() + ": " + e.what());
    }
}

}  // namespace twinsim::models
