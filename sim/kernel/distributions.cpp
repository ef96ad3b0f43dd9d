#include "twinsim/kernel/distributions.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <string>
#include <utility>

#include "twinsim/kernel/errors.hpp"

namespace twinsim::kernel {
namespace {

void require(bool ok, const char* what) {
    if (!ok) throw KernelError(what);
}
bool positive(double v) { return std::isfinite(v) && v > 0.0; }

}  // namespace

Exponential::Exponential(double mean) : mean_(mean) {
    require(positive(mean), "Exponential: the mean must be finite and > 0");
}
Exponential Exponential::with_rate(double rate) {
    require(positive(rate), "Exponential: the rate must be finite and > 0");
    return Exponential(1.0 / rate);
}

namespace detail {
namespace {

// exp and log from +, -, *, / alone (no libm, no FMA: -std=c++20 keeps GCC
// from contracting), so the ziggurat tables and its rare cases give the same
// bits on every platform. Both are accurate to a few ulp, plenty here.
constexpr double ln2_hi = 6.93147180369123816490e-01;  // fdlibm's split of ln 2
constexpr double ln2_lo = 1.90821492927058770002e-10;

// exp(x) for -700 < x < 700.
constexpr double portable_exp(double x) noexcept {
    const double kd = x * 1.44269504088896338700;
    const auto k = static_cast<std::int64_t>(kd < 0 ? kd - 0.5 : kd + 0.5);
    const double kk = static_cast<double>(k);
    const double t = (x - kk * ln2_hi) - kk * ln2_lo;  // |t| <= 0.35
    double p = 1.0;
    for (int n = 18; n >= 1; --n) p = 1.0 + (t / n) * p;  // Taylor, error < 1e-24
    return p * std::bit_cast<double>(static_cast<std::uint64_t>(k + 1023) << 52);
}

// log(x) for a positive normal x: x = 2^e m with m in [sqrt(1/2), sqrt(2)),
// log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172.
constexpr double portable_log(double x) noexcept {
    const auto bits = std::bit_cast<std::uint64_t>(x);
    auto e = static_cast<std::int64_t>(bits >> 52) - 1023;
    double m = std::bit_cast<double>((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    if (m > 1.41421356237309504880) {
        m *= 0.5;
        ++e;
    }
    const double s = (m - 1.0) / (m + 1.0);
    const double s2 = s * s;
    double q = 0.0;
    for (int k = 14; k >= 1; --k) q = s2 * (1.0 / (2 * k + 1) + q);  // sum s2^k / (2k + 1), k >= 1
    const double ed = static_cast<double>(e);
    return ed * ln2_hi + (2.0 * s + (2.0 * s * q + ed * ln2_lo));
}

constexpr double zig_r = 7.69711747013104972;         // start of the tail
constexpr double zig_v = 3.949659822581572e-3;        // area of each layer

struct ZigTables {
    std::array<double, 257> x{};
    std::array<double, 257> f{};
};
constexpr ZigTables make_zig_tables() noexcept {
    ZigTables t;
    t.x[1] = zig_r;
    for (std::size_t i = 1; i < 255; ++i) t.x[i + 1] = -portable_log(zig_v / t.x[i] + portable_exp(-t.x[i]));
    t.x[256] = 0.0;
    t.x[0] = zig_v / portable_exp(-zig_r);
    for (std::size_t i = 0; i < 257; ++i) t.f[i] = portable_exp(-t.x[i]);
    return t;
}
constexpr ZigTables zig = make_zig_tables();
// The recursion must close: the top layer [0, x[255]] holds area v too, i.e.
// v / x[255] + f(x[255]) = f(0) = 1. x[2] is Marsaglia and Tsang's value.
// These also pin portable_exp/log.
static_assert(zig_v / zig.x[255] + zig.f[255] - 1.0 < 1e-9 && zig_v / zig.x[255] + zig.f[255] - 1.0 > -1e-9);
static_assert(zig.x[2] > 6.9410336293 && zig.x[2] < 6.9410336294);
static_assert(portable_log(2.0) == ln2_hi + ln2_lo && portable_exp(0.0) == 1.0);

// The normal ziggurat: f(x) = exp(-x^2 / 2), 256 layers of area v each (the
// base layer: the strip [0, r] x [0, f(r)] plus the tail beyond r).
constexpr double zig_norm_r = 3.6541528853610088;      // start of the tail
constexpr double zig_norm_v = 4.92867323397465e-3;     // r f(r) + sqrt(pi/2) erfc(r / sqrt 2)

// sqrt by Newton's iteration from above, a fixed number of steps (for the
// tables only: the same bits wherever they are compiled), for 0 <= a < 64.
constexpr double portable_sqrt(double a) noexcept {
    if (a <= 0.0) return 0.0;
    double g = a < 1.0 ? 1.0 : a;
    for (int i = 0; i < 40; ++i) g = 0.5 * (g + a / g);
    return g;
}
constexpr double normal_f(double x) noexcept { return portable_exp(-0.5 * x * x); }

constexpr ZigTables make_zig_norm_tables() noexcept {
    ZigTables t;
    t.x[1] = zig_norm_r;
    for (std::size_t i = 1; i < 255; ++i)
        t.x[i + 1] = portable_sqrt(-2.0 * portable_log(zig_norm_v / t.x[i] + normal_f(t.x[i])));
    t.x[256] = 0.0;
    t.x[0] = zig_norm_v / normal_f(zig_norm_r);
    for (std::size_t i = 0; i < 257; ++i) t.f[i] = normal_f(t.x[i]);
    return t;
}
constexpr ZigTables zig_norm = make_zig_norm_tables();
// The recursion closes (the top layer [0, x[255]] x [f(x[255]), 1] holds area v
// too), and the layers shrink towards 0.
static_assert(zig_norm_v / zig_norm.x[255] + zig_norm.f[255] - 1.0 < 1e-9 &&
              zig_norm_v / zig_norm.x[255] + zig_norm.f[255] - 1.0 > -1e-9);
static_assert(zig_norm.x[255] > 0.0 && zig_norm.x[255] < zig_norm.x[254] && zig_norm.x[0] > zig_norm_r);
static_assert(portable_sqrt(4.0) == 2.0 && portable_sqrt(2.0) * portable_sqrt(2.0) - 2.0 < 1e-15);

/// A layer table with each x multiplied by 2^-53, so that a 53-bit integer
/// times the entry is x scaled by a uniform in [0, 1) (one multiplication).
constexpr std::array<double, 257> scaled_by_2_to_minus_53(const std::array<double, 257>& x) {
    std::array<double, 257> scaled{};
    for (std::size_t i = 0; i < 257; ++i) scaled[i] = x[i] * 0x1.0p-53;
    return scaled;
}

}  // namespace

constinit const std::array<double, 257> zig_exp_x = zig.x;
constinit const std::array<double, 257> zig_exp_f = zig.f;
constinit const std::array<double, 257> zig_exp_x_scaled = scaled_by_2_to_minus_53(zig.x);

constinit const std::array<double, 257> zig_norm_x = zig_norm.x;
constinit const std::array<double, 257> zig_norm_f = zig_norm.f;
constinit const std::array<double, 257> zig_norm_x_scaled = scaled_by_2_to_minus_53(zig_norm.x);

template <class Stream>
double normal_slow(Stream& r, std::uint64_t bits) noexcept {
    for (;;) {
        // `bits` failed the fast test (standard_normal) or was drawn below.
        const auto layer = static_cast<unsigned>(bits & 0xff);
        const double sign = (bits & 0x100) != 0 ? -1.0 : 1.0;
        const double x = static_cast<double>(bits >> 11) * 0x1.0p-53 * zig_norm.x[layer];
        if (x < zig_norm.x[layer + 1]) return sign * x;
        if (layer == 0) {
            // Beyond r in the base layer: the tail, by Marsaglia's (1964) method:
            // a = Exp(1) / r, b = Exp(1), accepted when 2b > a^2; then r + a.
            double a = 0.0, b = 0.0;
            do {
                a = -portable_log(r.uniform_open()) / zig_norm_r;
                b = -portable_log(r.uniform_open());
            } while (b + b <= a * a);
            return sign * (zig_norm_r + a);
        }
        // A wedge: x in [x[layer + 1], x[layer]), y uniform over the layer's height.
        const double y = zig_norm.f[layer] + (zig_norm.f[layer + 1] - zig_norm.f[layer]) * r.uniform01();
        if (y < normal_f(x)) return sign * x;
        bits = r.next_u64();
    }
}

template <class Stream>
double exponential_slow(Stream& r, unsigned layer, double x) noexcept {
    for (;;) {
        // Rejected by the fast test: the base strip's tail, or a wedge.
        if (layer == 0) return zig_r - portable_log(r.uniform_open());  // r + Exp(1), memoryless
        // Wedge: accept when y < exp(-x), x in [x[layer + 1], x[layer]). exp(-x)
        // is convex, so it lies above both end tangents and below the chord;
        // only a y between those bounds needs portable_exp. The bounds are
        // widened by 2^-40 (relative), far beyond their rounding error and
        // portable_exp's, so each decision is the one the exact test makes.
        const double lo_x = zig.x[layer + 1], hi_x = zig.x[layer];
        const double lo_f = zig.f[layer + 1], hi_f = zig.f[layer];  // f = exp(-x): lo_f > hi_f
        const double y = lo_f + (hi_f - lo_f) * r.uniform01();
        const double tangent = std::max(lo_f * (1.0 - (x - lo_x)), hi_f * (1.0 + (hi_x - x)));
        if (y < tangent * (1.0 - 0x1.0p-40)) return x;
        const double chord = lo_f + (hi_f - lo_f) * ((x - lo_x) / (hi_x - lo_x));
        if (!(y > chord * (1.0 + 0x1.0p-40)) && y < portable_exp(-x)) return x;
        const std::uint64_t bits = r.next_u64();
        layer = static_cast<unsigned>(bits & 0xff);
        x = static_cast<double>(bits >> 11) * 0x1.0p-53 * zig.x[layer];
        if (x < zig.x[layer + 1]) return x;
    }
}
}  // namespace detail

Normal::Normal(double mean, double sd) : mean_(mean), sd_(sd) {
    require(std::isfinite(mean), "Normal: the mean must be finite");
    require(std::isfinite(sd) && sd >= 0.0, "Normal: the standard deviation must be finite and >= 0");
}

LogNormal::LogNormal(double mu, double sigma) : normal_(mu, sigma), mu_(mu), sigma_(sigma) {}
LogNormal LogNormal::from_mean_sd(double mean, double sd) {
    require(positive(mean), "LogNormal: the mean must be finite and > 0");
    require(std::isfinite(sd) && sd >= 0.0, "LogNormal: the standard deviation must be finite and >= 0");
    const double s2 = std::log1p((sd * sd) / (mean * mean));
    return LogNormal(std::log(mean) - 0.5 * s2, std::sqrt(s2));
}
double LogNormal::mean() const noexcept { return std::exp(mu_ + 0.5 * sigma_ * sigma_); }
double LogNormal::variance() const noexcept {
    const double s2 = sigma_ * sigma_;
    return std::expm1(s2) * std::exp(2.0 * mu_ + s2);
}

Weibull::Weibull(double shape, double scale) : shape_(shape), scale_(scale) {
    require(positive(shape) && positive(scale), "Weibull: shape and scale must be finite and > 0");
}
template <class Stream>
double Weibull::sample(Stream& r) const noexcept {
    return scale_ * std::pow(-std::log(r.uniform_open()), 1.0 / shape_);
}
double Weibull::mean() const noexcept { return scale_ * std::tgamma(1.0 + 1.0 / shape_); }
double Weibull::variance() const noexcept {
    const double g1 = std::tgamma(1.0 + 1.0 / shape_);
    return scale_ * scale_ * (std::tgamma(1.0 + 2.0 / shape_) - g1 * g1);
}

Gamma::Gamma(double shape, double scale) : shape_(shape), scale_(scale) {
    require(positive(shape) && positive(scale), "Gamma: shape and scale must be finite and > 0");
    const double k = shape < 1.0 ? shape + 1.0 : shape;
    d_ = k - 1.0 / 3.0;
    c_ = 1.0 / std::sqrt(9.0 * d_);
}
template <class Stream>
double Gamma::sample(Stream& r) const noexcept {
    double v = 0.0;
    for (;;) {
        double x = 0.0;
        do {
            x = detail::standard_normal(r);
            v = 1.0 + c_ * x;
        } while (v <= 0.0);
        v = v * v * v;
        const double u = r.uniform_open();
        const double x2 = x * x;
        if (u < 1.0 - 0.0331 * x2 * x2) break;
        if (std::log(u) < 0.5 * x2 + d_ * (1.0 - v + std::log(v))) break;
    }
    double g = d_ * v;
    if (shape_ < 1.0) g *= std::pow(r.uniform_open(), 1.0 / shape_);
    return g * scale_;
}

Uniform::Uniform(double low, double high) : low_(low), high_(high) {
    require(std::isfinite(low) && std::isfinite(high) && low < high, "Uniform: need finite low < high");
}

Triangular::Triangular(double low, double mode, double high) : low_(low), mode_(mode), high_(high) {
    require(std::isfinite(low) && std::isfinite(mode) && std::isfinite(high) && low <= mode && mode <= high &&
                low < high,
            "Triangular: need finite low <= mode <= high with low < high");
}
template <class Stream>
double Triangular::sample(Stream& r) const noexcept {
    const double u = r.uniform01();
    const double width = high_ - low_;
    const double split = (mode_ - low_) / width;
    if (u < split) return low_ + std::sqrt(u * width * (mode_ - low_));
    return high_ - std::sqrt((1.0 - u) * width * (high_ - mode_));
}
double Triangular::variance() const noexcept {
    const double a = low_, b = high_, c = mode_;
    return (a * a + b * b + c * c - a * b - a * c - b * c) / 18.0;
}

EmpiricalDiscrete::EmpiricalDiscrete(const std::vector<double>& weights) {
    require(!weights.empty(), "EmpiricalDiscrete: no weights");
    double total = 0.0;
    for (double w : weights) {
        require(std::isfinite(w) && w >= 0.0, "EmpiricalDiscrete: weights must be finite and >= 0");
        total += w;
    }
    require(total > 0.0 && std::isfinite(total), "EmpiricalDiscrete: the weights sum to zero");
    // Walker/Vose: scaled probabilities split into small (< 1) and large columns.
    const std::size_t n = weights.size();
    probability_.assign(n, 1.0);
    alias_.resize(n);
    std::vector<double> scaled(n);
    std::vector<std::size_t> small, large;
    for (std::size_t i = 0; i < n; ++i) {
        scaled[i] = weights[i] * static_cast<double>(n) / total;
        alias_[i] = i;
        (scaled[i] < 1.0 ? small : large).push_back(i);
    }
    while (!small.empty() && !large.empty()) {
        const std::size_t s = small.back();
        small.pop_back();
        const std::size_t l = large.back();
        probability_[s] = scaled[s];
        alias_[s] = l;
        scaled[l] = (scaled[l] + scaled[s]) - 1.0;
        if (scaled[l] < 1.0) {
            large.pop_back();
            small.push_back(l);
        }
    }
    // Columns left over hold (up to rounding) probability 1 of keeping themselves.
}
template <class Stream>
std::size_t EmpiricalDiscrete::sample(Stream& r) const noexcept {
    const double scaled = r.uniform01() * static_cast<double>(probability_.size());
    auto column = static_cast<std::size_t>(scaled);
    if (column >= probability_.size()) column = probability_.size() - 1;
    const double coin = scaled - static_cast<double>(column);
    return coin < probability_[column] ? column : alias_[column];
}

EmpiricalContinuous::EmpiricalContinuous(std::vector<double> x, std::vector<double> cdf)
    : x_(std::move(x)), cdf_(std::move(cdf)) {
    require(x_.size() >= 2 && x_.size() == cdf_.size(), "EmpiricalContinuous: need >= 2 points, as many x as cdf");
    for (std::size_t i = 0; i < x_.size(); ++i) {
        require(std::isfinite(x_[i]) && std::isfinite(cdf_[i]), "EmpiricalContinuous: values must be finite");
        if (i > 0) {
            require(x_[i] > x_[i - 1], "EmpiricalContinuous: x must be strictly increasing");
            require(cdf_[i] >= cdf_[i - 1], "EmpiricalContinuous: the CDF must be non-decreasing");
        }
    }
    require(cdf_.front() == 0.0 && cdf_.back() == 1.0, "EmpiricalContinuous: the CDF must run from 0 to 1");
}
EmpiricalContinuous EmpiricalContinuous::from_sample(std::vector<double> sample) {
    require(sample.size() >= 2, "EmpiricalContinuous: need at least two observations");
    for (double v : sample) require(std::isfinite(v), "EmpiricalContinuous: observations must be finite");
    std::sort(sample.begin(), sample.end());
    const double last = static_cast<double>(sample.size() - 1);
    std::vector<double> x, cdf;
    for (std::size_t i = 0; i < sample.size(); ++i) {
        const double f = static_cast<double>(i) / last;
        if (!x.empty() && x.back() == sample[i]) {
            if (x.size() > 1) cdf.back() = f;  // the minimum keeps CDF 0
        } else {
            x.push_back(sample[i]);
            cdf.push_back(f);
        }
    }
    require(x.size() >= 2, "EmpiricalContinuous: need at least two distinct observations");
    cdf.back() = 1.0;
    return EmpiricalContinuous(std::move(x), std::move(cdf));
}
template <class Stream>
double EmpiricalContinuous::sample(Stream& r) const noexcept {
    const double u = r.uniform01();
    // First point with cdf > u; the segment before it holds u.
    const auto it = std::upper_bound(cdf_.begin() + 1, cdf_.end() - 1, u);
    const auto i = static_cast<std::size_t>(it - cdf_.begin());
    const double f0 = cdf_[i - 1], f1 = cdf_[i];
    if (f1 <= f0) return x_[i];
    return x_[i - 1] + (x_[i] - x_[i - 1]) * (u - f0) / (f1 - f0);
}
double EmpiricalContinuous::mean() const noexcept {
    double m = 0.0;
    for (std::size_t i = 1; i < x_.size(); ++i) m += (cdf_[i] - cdf_[i - 1]) * 0.5 * (x_[i - 1] + x_[i]);
    return m;
}
double EmpiricalContinuous::variance() const noexcept {
    double m2 = 0.0;
    for (std::size_t i = 1; i < x_.size(); ++i) {
        const double a = x_[i - 1], b = x_[i];
        m2 += (cdf_[i] - cdf_[i - 1]) * (a * a + a * b + b * b) / 3.0;
    }
    const double m = mean();
    return m2 - m * m;
}

// Both stream types (rng.hpp) give the same words, so the same samples.
template double detail::exponential_slow(RandomStream&, unsigned, double) noexcept;
template double detail::exponential_slow(CompactStream&, unsigned, double) noexcept;
template double detail::normal_slow(RandomStream&, std::uint64_t) noexcept;
template double detail::normal_slow(CompactStream&, std::uint64_t) noexcept;
template double Weibull::sample(RandomStream&) const noexcept;
template double Weibull::sample(CompactStream&) const noexcept;
template double Gamma::sample(RandomStream&) const noexcept;
template double Gamma::sample(CompactStream&) const noexcept;
template double Triangular::sample(RandomStream&) const noexcept;
template double Triangular::sample(CompactStream&) const noexcept;
template std::size_t EmpiricalDiscrete::sample(RandomStream&) const noexcept;
template std::size_t EmpiricalDiscrete::sample(CompactStream&) const noexcept;
template double EmpiricalContinuous::sample(RandomStream&) const noexcept;
template double EmpiricalContinuous::sample(CompactStream&) const noexcept;

}  // namespace twinsim::kernel
