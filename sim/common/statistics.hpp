#pragma once
// The summary of a sample that twinsim reports across replications: mean,
// sample standard deviation, the 95 % confidence interval of the mean (Student
// t, kept inside the range the quantity can take) and the 50th, 90th and 95th
// percentiles. Shared by the runner's reduce stage (sim/scenario/reduce.hpp),
// the merge of results shards (sim/io/merge.hpp) and comparisons
// (sim/scenario/compare.hpp), so a number computed twice is computed the same
// way, bit for bit. docs/scenario-format.md ("Across replications") documents
// the method.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

namespace twinsim {

/// The values a quantity can take: [low, high]. The default is every number.
struct ValueRange {
    double low = -std::numeric_limits<double>::infinity();
    double high = std::numeric_limits<double>::infinity();
    friend bool operator==(const ValueRange&, const ValueRange&) = default;
};

/// The range of a KPI statistic, by the name results files give it (the
/// `statistic` column): durations (time_above, time_below), excesses
/// (excess_above, excess_below) and counts (count) are >= 0; every other
/// statistic (mean, min, max, final, integral, ...) may take any value.
[[nodiscard]] inline ValueRange statistic_range(std::string_view statistic) noexcept {
    if (statistic == "time_above" || statistic == "time_below" || statistic == "excess_above" ||
        statistic == "excess_below" || statistic == "count")
        return {0.0, std::numeric_limits<double>::infinity()};
    return {};
}

struct SampleSummary {
    std::size_t n = 0;  ///< values summarised
    double mean = std::numeric_limits<double>::quiet_NaN();       ///< NaN when n == 0
    double std = std::numeric_limits<double>::quiet_NaN();        ///< sample (n - 1); NaN when n < 2
    /// mean - t(0.975, n-1) std / sqrt(n), raised to the range's low end; NaN when n < 2
    double ci95_low = std::numeric_limits<double>::quiet_NaN();
    /// mean + t(0.975, n-1) std / sqrt(n), lowered to the range's high end; NaN when n < 2
    double ci95_high = std::numeric_limits<double>::quiet_NaN();
    /// Percentiles of the values (linear interpolation between order
    /// statistics: position p (n - 1) of the sorted values); NaN when n == 0.
    double p50 = std::numeric_limits<double>::quiet_NaN();
    double p90 = std::numeric_limits<double>::quiet_NaN();
    double p95 = std::numeric_limits<double>::quiet_NaN();
};

/// t(0.975, df): the exact table to 30 degrees of freedom, then the
/// Cornish-Fisher expansion (error < 1e-5 beyond 30). Precondition: df >= 1.
[[nodiscard]] inline double t975(std::size_t df) noexcept {
    static constexpr double table[] = {12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851,
                                       2.364624252, 2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830,
                                       2.160368656, 2.144786688, 2.131449546, 2.119905299, 2.109815578, 2.100922040,
                                       2.093024054, 2.085963447, 2.079613845, 2.073873068, 2.068657610, 2.063898562,
                                       2.059538553, 2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456};
    if (df >= 1 && df <= 30) return table[df - 1];
    const double z = 1.959963984540054;
    const double n = static_cast<double>(df);
    const double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
    return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n) +
           (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * n * n * n);
}

/// The p-th percentile (0 <= p <= 1) of `sorted` (ascending, no NaN): linear
/// interpolation at position p (n - 1), the definition of numpy's default
/// ("linear") and R's type 7. NaN when `sorted` is empty.
[[nodiscard]] inline double percentile_of_sorted(std::span<const double> sorted, double p) noexcept {
    if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
    const double position = p * static_cast<double>(sorted.size() - 1);
    const auto below = static_cast<std::size_t>(std::floor(position));
    const std::size_t above = std::min(below + 1, sorted.size() - 1);
    const double fraction = position - static_cast<double>(below);
    return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

/// Summarises `values` in the order given (the order fixes the rounding: pass
/// them in replication order for reproducible results). `range`: the values
/// the quantity can take (statistic_range()); the confidence interval is the
/// Student-t interval intersected with it. The true mean of a quantity always
/// lies in its range, so the intersection covers it exactly as often as the t
/// interval does, and never claims values the quantity cannot have (a duration
/// below zero). Throws std::bad_alloc only (a sorted copy for the percentiles).
[[nodiscard]] inline SampleSummary summarize_sample(std::span<const double> values, ValueRange range = {}) {
    SampleSummary s;
    s.n = values.size();
    if (values.empty()) return s;
    double sum = 0.0;
    for (const double v : values) sum += v;
    s.mean = sum / static_cast<double>(s.n);
    std::vector<double> sorted(values.begin(), values.end());
    std::sort(sorted.begin(), sorted.end());
    s.p50 = percentile_of_sorted(sorted, 0.50);
    s.p90 = percentile_of_sorted(sorted, 0.90);
    s.p95 = percentile_of_sorted(sorted, 0.95);
    if (s.n < 2) return s;
    double ss = 0.0;
    for (const double v : values) ss += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(s.n - 1));
    const double half = t975(s.n - 1) * s.std / std::sqrt(static_cast<double>(s.n));
    s.ci95_low = std::max(s.mean - half, range.low);
    s.ci95_high = std::min(s.mean + half, range.high);
    return s;
}

}  // namespace twinsim
