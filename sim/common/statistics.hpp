#pragma once
// The summary of a sample that twinsim reports across replications: mean,
// sample standard deviation and the 95 % Student-t confidence interval of the
// mean. Shared by the runner's reduce stage (sim/scenario/reduce.hpp), the
// merge of results shards (sim/io/merge.hpp) and comparisons
// (sim/scenario/compare.hpp), so a number computed twice is computed the same
// way, bit for bit.

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>

namespace twinsim {

struct SampleSummary {
    std::size_t n = 0;  ///< values summarised
    double mean = std::numeric_limits<double>::quiet_NaN();       ///< NaN when n == 0
    double std = std::numeric_limits<double>::quiet_NaN();        ///< sample (n - 1); NaN when n < 2
    double ci95_low = std::numeric_limits<double>::quiet_NaN();   ///< mean - t(0.975, n-1) std / sqrt(n); NaN when n < 2
    double ci95_high = std::numeric_limits<double>::quiet_NaN();  ///< mean + t(0.975, n-1) std / sqrt(n); NaN when n < 2
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

/// Summarises `values` in the order given (the order fixes the rounding: pass
/// them in replication order for reproducible results).
[[nodiscard]] inline SampleSummary summarize_sample(std::span<const double> values) noexcept {
    SampleSummary s;
    s.n = values.size();
    if (values.empty()) return s;
    double sum = 0.0;
    for (const double v : values) sum += v;
    s.mean = sum / static_cast<double>(s.n);
    if (s.n < 2) return s;
    double ss = 0.0;
    for (const double v : values) ss += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(s.n - 1));
    const double half = t975(s.n - 1) * s.std / std::sqrt(static_cast<double>(s.n));
    s.ci95_low = s.mean - half;
    s.ci95_high = s.mean + half;
    return s;
}

}  // namespace twinsim
