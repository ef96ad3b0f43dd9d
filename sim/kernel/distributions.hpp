#pragma once
// Probability distributions sampled from a RandomStream. Written here rather
// than taken from <random>: the standard fixes the engines but not the
// distributions, so std::normal_distribution gives different numbers under
// libstdc++, libc++ and MSVC, and results must not depend on the library.
//
// Every distribution is an immutable value (sample() is const), so one object
// can be shared by many streams; each sample consumes a documented number of
// uniforms (fixed, except Gamma's rejection loop).
// sample() takes either stream type (rng.hpp: RandomStream, or CompactStream
// for many entities); both give the same words, so the same samples.
// Constructors throw KernelError for parameters out of range.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "twinsim/kernel/errors.hpp"
#include "twinsim/kernel/rng.hpp"

namespace twinsim::kernel {

namespace detail {
/// Tables of the 256-layer exponential ziggurat (Marsaglia and Tsang 2000):
/// x[1] = r = 7.697..., x[256] = 0, x[0] = v / exp(-r) the base strip's width;
/// f[i] = exp(-x[i]). Computed at compile time (distributions.cpp) with
/// exp/log written in plain IEEE arithmetic, so they are the same everywhere.
extern const std::array<double, 257> zig_exp_x;
extern const std::array<double, 257> zig_exp_f;
/// zig_exp_x[i] * 2^-53 (exact: a power-of-two scaling), so the fast path's
/// u * 2^-53 * x[i] is one multiplication with the same rounded result.
extern const std::array<double, 257> zig_exp_x_scaled;
/// The rare ziggurat cases (base-strip tail, wedges): a fresh draw loop from
/// the rejected (layer, x). Instantiated for RandomStream and CompactStream.
template <class Stream>
double exponential_slow(Stream& r, unsigned layer, double x) noexcept;

/// Tables of the 256-layer normal ziggurat (Marsaglia and Tsang 2000) for
/// f(x) = exp(-x^2 / 2): x[1] = r = 3.654..., x[256] = 0, x[0] = v / f(r);
/// f[i] = f(x[i]); x_scaled[i] = x[i] * 2^-53. Computed at compile time as
/// the exponential's, with the same portable exp and log.
extern const std::array<double, 257> zig_norm_x;
extern const std::array<double, 257> zig_norm_f;
extern const std::array<double, 257> zig_norm_x_scaled;
/// The rare cases of the standard normal ziggurat (the tail beyond r, the
/// wedges): returns a standard normal sample given the rejected draw `bits`.
template <class Stream>
double normal_slow(Stream& r, std::uint64_t bits) noexcept;

/// A standard normal sample: one 64-bit draw (8 bits pick the layer, one the
/// sign, 53 the position) in ~99 % of samples (1.02 draws a sample on
/// average), more in the wedges and the tail.
template <class Stream>
[[nodiscard]] inline double standard_normal(Stream& r) noexcept {
    const std::uint64_t bits = r.next_u64();
    const auto layer = static_cast<unsigned>(bits & 0xff);
    const double x = static_cast<double>(bits >> 11) * zig_norm_x_scaled[layer];
    if (x < zig_norm_x[layer + 1]) [[likely]]
        return (bits & 0x100) != 0 ? -x : x;
    return normal_slow(r, bits);
}
}  // namespace detail

/// Exponential with the given mean (> 0), by the 256-layer ziggurat: one
/// 64-bit draw (8 bits pick the layer, 53 the position) in ~98.9 % of samples,
/// more in the wedges and the tail. Deterministic and library-independent.
class Exponential {
public:
    explicit Exponential(double mean);
    [[nodiscard]] static Exponential with_rate(double rate);
    template <class Stream>
    [[nodiscard]] double sample(Stream& r) const noexcept {
        const std::uint64_t bits = r.next_u64();
        const auto layer = static_cast<unsigned>(bits & 0xff);
        const double x = static_cast<double>(bits >> 11) * detail::zig_exp_x_scaled[layer];
        if (x < detail::zig_exp_x[layer + 1]) [[likely]]
            return mean_ * x;
        return mean_ * detail::exponential_slow(r, layer, x);
    }
    [[nodiscard]] double mean() const noexcept { return mean_; }
    [[nodiscard]] double variance() const noexcept { return mean_ * mean_; }

private:
    double mean_;
};

/// Normal(mean, sd >= 0) by the 256-layer ziggurat (detail::standard_normal):
/// one 64-bit draw in ~99 % of samples. (It was Box-Muller until 2026-12-08:
/// seeded results drawn from normal, lognormal or gamma samples changed
/// then; docs/kernel.md.)
class Normal {
public:
    Normal(double mean, double sd);
    template <class Stream>
    [[nodiscard]] double sample(Stream& r) const noexcept {
        return mean_ + sd_ * detail::standard_normal(r);
    }
    [[nodiscard]] double mean() const noexcept { return mean_; }
    [[nodiscard]] double variance() const noexcept { return sd_ * sd_; }

private:
    double mean_;
    double sd_;
};

/// Lognormal: exp(N(mu, sigma)) where mu and sigma (>= 0) are those of the
/// underlying normal; from_mean_sd() takes the lognormal's own mean (> 0) and sd.
class LogNormal {
public:
    LogNormal(double mu, double sigma);
    [[nodiscard]] static LogNormal from_mean_sd(double mean, double sd);
    template <class Stream>
    [[nodiscard]] double sample(Stream& r) const noexcept { return std::exp(normal_.sample(r)); }
    [[nodiscard]] double mean() const noexcept;
    [[nodiscard]] double variance() const noexcept;

private:
    Normal normal_;
    double mu_;
    double sigma_;
};

/// Weibull(shape k > 0, scale lambda > 0) by inversion. One uniform.
class Weibull {
public:
    Weibull(double shape, double scale);
    template <class Stream>
    [[nodiscard]] double sample(Stream& r) const noexcept;
    [[nodiscard]] double mean() const noexcept;
    [[nodiscard]] double variance() const noexcept;

private:
    double shape_;
    double scale_;
};

/// Gamma(shape k > 0, scale theta > 0) by Marsaglia and Tsang (2000); for
/// k < 1, Gamma(k + 1) * U^(1/k). A variable number of uniforms.
class Gamma {
public:
    Gamma(double shape, double scale);
    template <class Stream>
    [[nodiscard]] double sample(Stream& r) const noexcept;
    [[nodiscard]] double mean() const noexcept { return shape_ * scale_; }
    [[nodiscard]] double variance() const noexcept { return shape_ * scale_ * scale_; }

private:
    double shape_;
    double scale_;
    double d_;  // Marsaglia-Tsang d = k' - 1/3 with k' = max(k, k + 1 when k < 1)
    double c_;
};

/// Uniform on [low, high), low < high. One uniform.
class Uniform {
public:
    Uniform(double low, double high);
    template <class Stream>
    [[nodiscard]] double sample(Stream& r) const noexcept { return low_ + (high_ - low_) * r.uniform01(); }
    [[nodiscard]] double mean() const noexcept { return 0.5 * (low_ + high_); }
    [[nodiscard]] double variance() const noexcept { return (high_ - low_) * (high_ - low_) / 12.0; }

private:
    double low_;
    double high_;
};

/// Triangular(low <= mode <= high, low < high) by inversion. One uniform.
class Triangular {
public:
    Triangular(double low, double mode, double high);
    template <class Stream>
    [[nodiscard]] double sample(Stream& r) const noexcept;
    [[nodiscard]] double mean() const noexcept { return (low_ + mode_ + high_) / 3.0; }
    [[nodiscard]] double variance() const noexcept;

private:
    double low_;
    double mode_;
    double high_;
};

/// An index in [0, n) with probability proportional to weights[i] (finite,
/// >= 0, not all zero), by Walker's alias method: O(1) per sample, one uniform.
class EmpiricalDiscrete {
public:
    explicit EmpiricalDiscrete(const std::vector<double>& weights);
    template <class Stream>
    [[nodiscard]] std::size_t sample(Stream& r) const noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return probability_.size(); }

private:
    std::vector<double> probability_;  // of keeping column i
    std::vector<std::size_t> alias_;
};

/// A continuous distribution whose CDF is piecewise linear through given
/// points (x strictly increasing, cdf non-decreasing from 0 to 1), sampled by
/// inversion with a binary search. One uniform.
class EmpiricalContinuous {
public:
    EmpiricalContinuous(std::vector<double> x, std::vector<double> cdf);
    /// From observations (at least two distinct values): the CDF steps through
    /// the sorted sample at i / (n - 1), linear between (ties are merged).
    [[nodiscard]] static EmpiricalContinuous from_sample(std::vector<double> sample);
    template <class Stream>
    [[nodiscard]] double sample(Stream& r) const noexcept;
    [[nodiscard]] double mean() const noexcept;
    [[nodiscard]] double variance() const noexcept;

private:
    std::vector<double> x_;
    std::vector<double> cdf_;
};

}  // namespace twinsim::kernel
