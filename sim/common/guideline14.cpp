#include "twinsim/common/guideline14.hpp"

#include <cmath>

#include "twinsim/common/error.hpp"

namespace twinsim {
namespace {

constexpr std::int64_t hour_ns = 3600LL * 1000000000LL;

std::int64_t hour_of(std::int64_t ns) {
    std::int64_t h = ns / hour_ns;
    if (ns % hour_ns < 0) --h;  // floor, also before 1970
    return h;
}

}  // namespace

Guideline14 guideline14(std::span<const double> measured, std::span<const double> modelled,
                        const Guideline14Options& options) {
    if (measured.size() != modelled.size())
        throw UsageError("guideline14: " + std::to_string(measured.size()) + " measured values but " +
                         std::to_string(modelled.size()) + " modelled ones");
    Guideline14 g;
    double sum_y = 0.0, sum_e = 0.0, sum_e2 = 0.0;
    for (std::size_t i = 0; i < measured.size(); ++i) {
        if (std::isnan(measured[i]) || std::isnan(modelled[i])) continue;
        const double e = measured[i] - modelled[i];
        sum_y += measured[i];
        sum_e += e;
        sum_e2 += e * e;
        ++g.hours;
    }
    if (g.hours == 0) return g;
    g.mean_measured = sum_y / static_cast<double>(g.hours);
    if (g.hours <= options.parameters || g.mean_measured == 0.0) return g;
    const auto dof = static_cast<double>(g.hours - options.parameters);
    g.nmbe = 100.0 * sum_e / (dof * g.mean_measured);
    g.cv_rmse = 100.0 * std::sqrt(sum_e2 / dof) / g.mean_measured;
    g.nmbe_ok = std::abs(g.nmbe) <= options.nmbe_limit;
    g.cv_rmse_ok = g.cv_rmse <= options.cv_rmse_limit;
    return g;
}

HourlyPairs hourly_pairs(Timestamp origin, std::span<const double> times, std::span<const double> measured,
                         std::span<const double> modelled) {
    if (measured.size() != times.size() || modelled.size() != times.size())
        throw UsageError("hourly_pairs: " + std::to_string(times.size()) + " times but " +
                         std::to_string(measured.size()) + " measured and " + std::to_string(modelled.size()) +
                         " modelled values");
    HourlyPairs out;
    std::int64_t current = 0;
    double sy = 0.0, sm = 0.0;
    std::size_t count = 0;
    auto flush = [&] {
        if (count == 0) return;
        out.hour.push_back(Timestamp{current * hour_ns});
        out.measured.push_back(sy / static_cast<double>(count));
        out.modelled.push_back(sm / static_cast<double>(count));
        sy = sm = 0.0;
        count = 0;
    };
    for (std::size_t k = 0; k < times.size(); ++k) {
        if (std::isnan(measured[k]) || std::isnan(modelled[k]) || !std::isfinite(times[k])) continue;
        const auto ns = origin.ns + static_cast<std::int64_t>(std::llround(times[k] * 1e9));
        const std::int64_t h = hour_of(ns);
        if (count > 0 && h != current) flush();
        current = h;
        sy += measured[k];
        sm += modelled[k];
        ++count;
    }
    flush();
    return out;
}

Guideline14Report guideline14_report(Timestamp origin, std::span<const double> times, const std::vector<std::string>& twins,
                                     std::span<const double> measured, std::span<const double> modelled,
                                     const Guideline14Options& options) {
    const std::size_t n = twins.size();
    if (measured.size() != times.size() * n || modelled.size() != times.size() * n)
        throw UsageError("guideline14_report: expected " + std::to_string(times.size()) + " x " + std::to_string(n) +
                         " values, got " + std::to_string(measured.size()) + " measured and " +
                         std::to_string(modelled.size()) + " modelled");
    Guideline14Report report;
    report.twins = twins;
    std::vector<double> all_y, all_m, y(times.size()), m(times.size());
    for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t k = 0; k < times.size(); ++k) {
            y[k] = measured[k * n + j];
            m[k] = modelled[k * n + j];
        }
        const HourlyPairs h = hourly_pairs(origin, times, y, m);
        report.per_twin.push_back(guideline14(h.measured, h.modelled, options));
        all_y.insert(all_y.end(), h.measured.begin(), h.measured.end());
        all_m.insert(all_m.end(), h.modelled.begin(), h.modelled.end());
    }
    report.overall = guideline14(all_y, all_m, options);
    return report;
}

}  // namespace twinsim
