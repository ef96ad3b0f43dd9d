#include "models/equipment/lifetime.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

namespace twinsim::models {
namespace {

constexpr double z975 = 1.959963984540054;

std::string number(double x) {
    std::ostringstream out;
    out << std::setprecision(10) << x;
    return out.str();
}

void require_finite_positive(double value, const char* what) {
    if (!std::isfinite(value) || value <= 0.0)
        throw LifetimeError(std::string("Weibull ") + what + " must be a finite number > 0, not " + number(value));
}

/// exp(x) Gamma(a, x) for a > 0, x >= 0 (upper incomplete gamma, scaled so
/// it stays finite however large x is): the series of the lower function
/// below x = a + 1, Lentz's continued fraction above.
double scaled_upper_gamma(double a, double x) {
    constexpr double eps = 1e-16;
    constexpr int max_terms = 10000;
    if (x == 0.0) return std::tgamma(a);
    if (x < a + 1.0) {
        double term = 1.0 / a;
        double sum = term;
        double ap = a;
        for (int n = 0; n < max_terms; ++n) {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if (std::abs(term) < std::abs(sum) * eps) break;
        }
        // gamma(a, x) = exp(-x) x^a sum, so exp(x) Gamma(a, x) = exp(x) Gamma(a) - x^a sum.
        return std::exp(x) * std::tgamma(a) - std::pow(x, a) * sum;
    }
    constexpr double tiny = 1e-300;
    double b = x + 1.0 - a;
    double c = 1.0 / tiny;
    double d = 1.0 / b;
    double h = d;
    for (int i = 1; i < max_terms; ++i) {
        const double an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if (std::abs(d) < tiny) d = tiny;
        c = b + an / c;
        if (std::abs(c) < tiny) c = tiny;
        d = 1.0 / d;
        const double delta = d * c;
        h *= delta;
        if (std::abs(delta - 1.0) < eps) break;
    }
    return std::pow(x, a) * h;
}

/// The checks every fit starts with; returns the number of failures.
std::size_t check_life_data(std::span<const double> times, const std::vector<bool>& failed) {
    if (times.size() != failed.size())
        throw LifetimeError("lifetime data: " + std::to_string(times.size()) + " times but " +
                            std::to_string(failed.size()) + " failure flags (one per time)");
    std::size_t failures = 0;
    for (std::size_t i = 0; i < times.size(); ++i) {
        const double t = times[i];
        if (!std::isfinite(t) || t < 0.0)
            throw LifetimeError("lifetime data: time " + std::to_string(i) + " is " + number(t) +
                                "; times must be finite and >= 0");
        if (failed[i]) {
            if (t == 0.0)
                throw LifetimeError("lifetime data: failure " + std::to_string(i) +
                                    " is at time 0; a Weibull life has no mass at 0 (drop it or record when it failed)");
            ++failures;
        }
    }
    if (failures == 0)
        throw LifetimeError("lifetime data: no failures among " + std::to_string(times.size()) +
                            " times; a life cannot be fitted from censored times alone");
    return failures;
}

/// Log-likelihood of a Weibull at (beta, eta).
double weibull_log_likelihood(double beta, double eta, std::span<const double> times, const std::vector<bool>& failed) {
    double ll = 0.0;
    for (std::size_t i = 0; i < times.size(); ++i) {
        const double t = times[i];
        if (t == 0.0) continue;  // a censored 0 contributes log S(0) = 0
        const double z = std::log(t / eta);
        if (failed[i]) ll += std::log(beta / eta) + (beta - 1.0) * z;
        ll -= std::exp(beta * z);
    }
    return ll;
}

}  // namespace

// ---------------------------------------------------------------- WeibullLife

WeibullLife::WeibullLife(double beta, double eta) : beta_(beta), eta_(eta) {
    require_finite_positive(beta, "shape beta");
    require_finite_positive(eta, "scale eta");
}

double WeibullLife::cumulative_hazard(double t) const noexcept {
    return t <= 0.0 ? 0.0 : std::pow(t / eta_, beta_);
}
double WeibullLife::survival(double t) const noexcept { return std::exp(-cumulative_hazard(t)); }
double WeibullLife::cdf(double t) const noexcept { return -std::expm1(-cumulative_hazard(t)); }
double WeibullLife::hazard(double t) const noexcept {
    if (t <= 0.0) return beta_ < 1.0 ? std::numeric_limits<double>::infinity() : (beta_ == 1.0 ? 1.0 / eta_ : 0.0);
    return beta_ / eta_ * std::pow(t / eta_, beta_ - 1.0);
}
double WeibullLife::pdf(double t) const noexcept {
    if (t <= 0.0) return hazard(0.0);
    return hazard(t) * survival(t);
}
double WeibullLife::mean() const noexcept { return eta_ * std::tgamma(1.0 + 1.0 / beta_); }

double WeibullLife::quantile(double p) const {
    if (!(p >= 0.0 && p < 1.0)) throw LifetimeError("Weibull quantile: p must be in [0, 1), not " + number(p));
    return eta_ * std::pow(-std::log1p(-p), 1.0 / beta_);
}

namespace {
void require_age(double t, const char* what) {
    if (!std::isfinite(t) || t < 0.0)
        throw LifetimeError(std::string("Weibull: ") + what + " must be finite and >= 0, not " + number(t));
}
}  // namespace

double WeibullLife::conditional_failure_probability(double t, double h) const {
    require_age(t, "the age t");
    require_age(h, "the horizon h");
    if (h == 0.0) return 0.0;
    // H(t + h) - H(t) = (t/eta)^beta ((1 + h/t)^beta - 1), exact when h << t.
    const double increase = t == 0.0 ? cumulative_hazard(h)
                                     : cumulative_hazard(t) * std::expm1(beta_ * std::log1p(h / t));
    return -std::expm1(-increase);
}

double WeibullLife::mean_residual_life(double t) const {
    require_age(t, "the age t");
    return eta_ / beta_ * scaled_upper_gamma(1.0 / beta_, cumulative_hazard(t));
}

std::optional<double> WeibullLife::age_at_conditional_risk(double h, double p) const {
    if (!std::isfinite(h) || h <= 0.0)
        throw LifetimeError("Weibull: the horizon h must be finite and > 0, not " + number(h));
    if (!(p > 0.0 && p < 1.0)) throw LifetimeError("Weibull: the risk threshold p must be in (0, 1), not " + number(p));
    if (conditional_failure_probability(0.0, h) >= p) return 0.0;
    if (beta_ <= 1.0) return std::nullopt;  // the conditional risk never grows with age
    // The risk grows with t toward 1: bracket the crossing, then bisect.
    double low = 0.0;
    double high = std::max(eta_, h);
    while (conditional_failure_probability(high, h) < p) {
        low = high;
        high *= 2.0;
        if (!std::isfinite(high)) return std::nullopt;
    }
    for (int i = 0; i < 200 && high - low > 1e-12 * high; ++i) {
        const double mid = 0.5 * (low + high);
        (conditional_failure_probability(mid, h) >= p ? high : low) = mid;
    }
    return high;
}

double WeibullLife::sample(double u) const noexcept { return eta_ * std::pow(-std::log1p(-u), 1.0 / beta_); }

double WeibullLife::sample_residual(double t, double u) const noexcept {
    if (t <= 0.0) return sample(u);
    const double residual = eta_ * std::pow(cumulative_hazard(t) - std::log1p(-u), 1.0 / beta_) - t;
    return std::max(residual, 0.0);
}

double WeibullLife::log_likelihood(std::span<const double> times, const std::vector<bool>& failed) const {
    check_life_data(times, failed);
    return weibull_log_likelihood(beta_, eta_, times, failed);
}

WeibullLife weibull_from_mean_and_quantile(double mean, double q, double quantile_value) {
    require_finite_positive(mean, "mean");
    require_finite_positive(quantile_value, "quantile value");
    if (!(q > 0.0 && q < 1.0)) throw LifetimeError("Weibull from a quantile: q must be in (0, 1), not " + number(q));
    // ratio(beta) = quantile / mean = (-ln(1 - q))^(1/beta) / Gamma(1 + 1/beta).
    const double c = -std::log1p(-q);
    const auto ratio = [c](double beta) { return std::pow(c, 1.0 / beta) / std::tgamma(1.0 + 1.0 / beta); };
    const double target = quantile_value / mean;
    double low = 0.05, high = 50.0;
    const bool increasing = ratio(high) > ratio(low);
    const double r_low = ratio(low), r_high = ratio(high);
    if (!(target >= std::min(r_low, r_high) && target <= std::max(r_low, r_high)))
        throw LifetimeError("Weibull from a quantile: a " + number(q) + "-quantile of " + number(quantile_value) +
                            " with mean " + number(mean) + " fits no Weibull shape in [0.05, 50]");
    for (int i = 0; i < 200 && high - low > 1e-12 * high; ++i) {
        const double mid = 0.5 * (low + high);
        ((ratio(mid) < target) == increasing ? low : high) = mid;
    }
    const double beta = 0.5 * (low + high);
    return WeibullLife(beta, mean / std::tgamma(1.0 + 1.0 / beta));
}

// ------------------------------------------------------------------ fit_weibull

WeibullFit fit_weibull(std::span<const double> times, const std::vector<bool>& failed) {
    const std::size_t r = check_life_data(times, failed);
    const double rd = static_cast<double>(r);
    // Times scaled by the largest one: u in [0, 1], so u^beta never overflows
    // and sum u^beta >= 1 (the largest time has u = 1).
    const double t_max = *std::max_element(times.begin(), times.end());
    std::vector<double> log_u;  // ln(t / t_max) of every positive time
    log_u.reserve(times.size());
    double mean_failure_log_u = 0.0;
    for (std::size_t i = 0; i < times.size(); ++i) {
        if (times[i] == 0.0) continue;
        const double l = std::log(times[i] / t_max);
        log_u.push_back(l);
        if (failed[i]) mean_failure_log_u += l;
    }
    mean_failure_log_u /= rd;

    // The profile score in beta: g(b) = 1/b + mean_f ln u - sum u^b ln u / sum u^b,
    // strictly decreasing from +inf; g'(b) = -1/b^2 - (weighted variance of ln u).
    struct Score {
        double g, dg, sum_ub;
    };
    const auto score = [&](double b) {
        double s0 = 0.0, s1 = 0.0, s2 = 0.0;
        for (const double l : log_u) {
            const double w = std::exp(b * l);
            s0 += w;
            s1 += w * l;
            s2 += w * l * l;
        }
        const double m1 = s1 / s0;
        return Score{1.0 / b + mean_failure_log_u - m1, -1.0 / (b * b) - (s2 / s0 - m1 * m1), s0};
    };

    double low = 1.0, high = 1.0;
    if (score(1.0).g > 0.0) {
        while (score(high).g > 0.0) {
            low = high;
            high *= 2.0;
            if (high > 1e6)
                throw LifetimeError("Weibull fit: the likelihood has no finite maximum (the shape grows without bound: "
                                    "are all failure times equal to the largest time?)");
        }
    } else {
        while (score(low).g <= 0.0) {
            high = low;
            low *= 0.5;
            if (low < 1e-8) throw LifetimeError("Weibull fit: the shape tends to 0 (no finite maximum)");
        }
    }
    // Safeguarded Newton inside [low, high].
    double b = 0.5 * (low + high);
    int iterations = 0;
    bool converged = false;
    for (; iterations < 200; ++iterations) {
        const Score s = score(b);
        if (s.g > 0.0) low = b;
        else high = b;
        double next = b - s.g / s.dg;
        if (!(next > low && next < high)) next = 0.5 * (low + high);
        const double change = std::abs(next - b);
        b = next;
        if (change <= 1e-13 * b || high - low <= 1e-14 * b) {
            converged = true;
            break;
        }
    }
    if (!converged) throw LifetimeError("Weibull fit: Newton on the profile likelihood did not converge in 200 steps");

    const double eta = t_max * std::pow(score(b).sum_ub / rd, 1.0 / b);
    WeibullFit fit;
    fit.life = WeibullLife(b, eta);
    fit.failures = r;
    fit.censored = times.size() - r;
    fit.iterations = iterations + 1;
    fit.log_likelihood = weibull_log_likelihood(b, eta, times, failed);

    // Observed information of (beta, eta).
    double sw = 0.0, swl = 0.0, swll = 0.0;
    for (std::size_t i = 0; i < times.size(); ++i) {
        if (times[i] == 0.0) continue;
        const double l = std::log(times[i] / eta);
        const double w = std::exp(b * l);
        sw += w;
        swl += w * l;
        swll += w * l * l;
    }
    Eigen::Matrix2d information;
    information(0, 0) = rd / (b * b) + swll;
    information(1, 1) = -(rd * b / (eta * eta) - b * (1.0 + b) / (eta * eta) * sw);
    information(0, 1) = information(1, 0) = -(-rd / eta + b / eta * swl + sw / eta);
    const Eigen::Matrix2d covariance = information.inverse();
    for (int i = 0; i < 4; ++i) fit.covariance[i] = covariance(i / 2, i % 2);
    const double se_log_beta = std::sqrt(std::max(covariance(0, 0), 0.0)) / b;
    const double se_log_eta = std::sqrt(std::max(covariance(1, 1), 0.0)) / eta;
    fit.beta_ci95[0] = b * std::exp(-z975 * se_log_beta);
    fit.beta_ci95[1] = b * std::exp(z975 * se_log_beta);
    fit.eta_ci95[0] = eta * std::exp(-z975 * se_log_eta);
    fit.eta_ci95[1] = eta * std::exp(z975 * se_log_eta);
    return fit;
}

// ------------------------------------------------------------------- WeibullAft

WeibullAft::WeibullAft(double beta, std::vector<double> coefficients, std::vector<std::string> covariate_names)
    : beta_(beta), coefficients_(std::move(coefficients)), names_(std::move(covariate_names)) {
    require_finite_positive(beta_, "shape beta");
    if (coefficients_.size() != names_.size() + 1)
        throw LifetimeError("Weibull AFT: " + std::to_string(coefficients_.size()) + " coefficients for " +
                            std::to_string(names_.size()) + " covariates (the intercept first, then one per covariate)");
    for (std::size_t j = 0; j < coefficients_.size(); ++j)
        if (!std::isfinite(coefficients_[j]))
            throw LifetimeError("Weibull AFT: coefficient " + std::to_string(j) + " is not finite");
}

std::optional<std::size_t> WeibullAft::covariate_index(const std::string& name) const {
    const auto it = std::find(names_.begin(), names_.end(), name);
    if (it == names_.end()) return std::nullopt;
    return static_cast<std::size_t>(it - names_.begin());
}

double WeibullAft::eta(std::span<const double> x) const {
    if (x.size() != names_.size())
        throw LifetimeError("Weibull AFT: " + std::to_string(x.size()) + " covariate values for " +
                            std::to_string(names_.size()) + " covariates");
    double log_eta = coefficients_[0];
    for (std::size_t j = 0; j < x.size(); ++j) log_eta += coefficients_[j + 1] * x[j];
    return std::exp(log_eta);
}

WeibullLife WeibullAft::life(std::span<const double> x) const { return WeibullLife(beta_, eta(x)); }

// --------------------------------------------------------------- fit_weibull_aft

WeibullAftFit fit_weibull_aft(std::span<const double> times, const std::vector<bool>& failed,
                              std::span<const double> covariates, std::vector<std::string> names) {
    const std::size_t r = check_life_data(times, failed);
    const std::size_t n = times.size();
    const std::size_t p = names.size();
    if (covariates.size() != n * p)
        throw LifetimeError("Weibull AFT: " + std::to_string(covariates.size()) + " covariate values for " +
                            std::to_string(n) + " observations x " + std::to_string(p) +
                            " covariates (row-major, one row per observation)");
    for (std::size_t i = 0; i < n; ++i)
        if (times[i] == 0.0)
            throw LifetimeError("Weibull AFT: time " + std::to_string(i) +
                                " is 0; the AFT fit works on ln t, so every time must be > 0");
    // Standardised design matrix with the intercept first.
    const auto rows = static_cast<Eigen::Index>(n);
    const auto columns = static_cast<Eigen::Index>(p);
    Eigen::MatrixXd x(rows, columns + 1);
    Eigen::VectorXd mean = Eigen::VectorXd::Zero(columns), scale = Eigen::VectorXd::Ones(columns);
    x.col(0).setOnes();
    for (std::size_t j = 0; j < p; ++j) {
        double m = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double v = covariates[i * p + j];
            if (!std::isfinite(v))
                throw LifetimeError("Weibull AFT: covariate \"" + names[j] + "\" of observation " + std::to_string(i) +
                                    " is not finite");
            m += v;
        }
        m /= static_cast<double>(n);
        double ss = 0.0;
        for (std::size_t i = 0; i < n; ++i) ss += (covariates[i * p + j] - m) * (covariates[i * p + j] - m);
        const double sd = std::sqrt(ss / static_cast<double>(n));
        if (!(sd > 1e-12 * std::max(1.0, std::abs(m))))
            throw LifetimeError("Weibull AFT: covariate \"" + names[j] +
                                "\" is constant; its effect cannot be told apart from the intercept");
        mean(static_cast<Eigen::Index>(j)) = m;
        scale(static_cast<Eigen::Index>(j)) = sd;
        for (std::size_t i = 0; i < n; ++i)
            x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j + 1)) = (covariates[i * p + j] - m) / sd;
    }
    Eigen::VectorXd y(rows), delta(rows);
    for (std::size_t i = 0; i < n; ++i) {
        y(static_cast<Eigen::Index>(i)) = std::log(times[i]);
        delta(static_cast<Eigen::Index>(i)) = failed[i] ? 1.0 : 0.0;
    }
    const double rd = static_cast<double>(r);
    const auto k = static_cast<Eigen::Index>(p + 2);  // gamma_0..gamma_p, s = ln beta

    // l(theta) = sum_f (s + z_i - y_i) - sum exp(z_i), z_i = beta (y_i - x_i gamma).
    const auto log_likelihood = [&](const Eigen::VectorXd& theta) {
        const double beta = std::exp(theta(k - 1));
        const Eigen::VectorXd z = beta * (y - x * theta.head(k - 1));
        return rd * theta(k - 1) + delta.dot(z - y) - z.array().exp().sum();
    };
    const auto derivatives = [&](const Eigen::VectorXd& theta, Eigen::VectorXd& gradient, Eigen::MatrixXd& hessian) {
        const double beta = std::exp(theta(k - 1));
        const Eigen::VectorXd z = beta * (y - x * theta.head(k - 1));
        const Eigen::ArrayXd e = z.array().exp();
        const Eigen::VectorXd residual = (e - delta.array()).matrix();  // e_i - delta_i
        gradient.resize(k);
        gradient.head(k - 1) = beta * (x.transpose() * residual);
        gradient(k - 1) = rd - z.dot(residual);
        hessian.resize(k, k);
        hessian.topLeftCorner(k - 1, k - 1) = -beta * beta * (x.transpose() * (x.array().colwise() * e).matrix());
        const Eigen::VectorXd cross =
            beta * (x.transpose() * residual) + beta * (x.transpose() * (e * z.array()).matrix());
        hessian.block(0, k - 1, k - 1, 1) = cross;
        hessian.block(k - 1, 0, 1, k - 1) = cross.transpose();
        hessian(k - 1, k - 1) = -z.dot(residual) - (e * z.array().square()).sum();
    };

    const WeibullFit start = fit_weibull(times, failed);
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(k);
    theta(0) = std::log(start.life.eta());
    theta(k - 1) = std::log(start.life.beta());
    double ll = log_likelihood(theta);
    Eigen::VectorXd gradient;
    Eigen::MatrixXd hessian;
    int iterations = 0;
    bool converged = false;
    for (; iterations < 200; ++iterations) {
        derivatives(theta, gradient, hessian);
        Eigen::MatrixXd information = -hessian;
        Eigen::LDLT<Eigen::MatrixXd> ldlt(information);
        Eigen::VectorXd step;
        if (ldlt.info() == Eigen::Success && ldlt.isPositive() && (ldlt.vectorD().array() > 0).all()) {
            step = ldlt.solve(gradient);
        } else {
            // Far from the maximum: a damped step (Levenberg) keeps the direction uphill.
            const double damping = information.diagonal().cwiseAbs().maxCoeff() + 1.0;
            information += damping * Eigen::MatrixXd::Identity(k, k);
            step = information.ldlt().solve(gradient);
        }
        const double decrement = gradient.dot(step);
        if (std::abs(decrement) < 1e-18 * std::max(1.0, std::abs(ll))) {
            converged = true;
            break;
        }
        double t = 1.0;
        Eigen::VectorXd next = theta + step;
        double next_ll = log_likelihood(next);
        int halvings = 0;
        while (!(next_ll >= ll) && halvings < 60) {
            t *= 0.5;
            next = theta + t * step;
            next_ll = log_likelihood(next);
            ++halvings;
        }
        if (!(next_ll >= ll)) break;  // cannot climb: handled below
        const double change = (next - theta).cwiseAbs().maxCoeff();
        theta = next;
        const double previous = ll;
        ll = next_ll;
        if (change < 1e-12 || (ll - previous) <= 1e-15 * std::max(1.0, std::abs(ll))) {
            derivatives(theta, gradient, hessian);
            if (gradient.cwiseAbs().maxCoeff() < 1e-6 * std::max(1.0, rd)) {
                converged = true;
                ++iterations;
                break;
            }
        }
    }
    if (!converged) {
        derivatives(theta, gradient, hessian);
        if (!(gradient.cwiseAbs().maxCoeff() < 1e-6 * std::max(1.0, rd)))
            throw LifetimeError("Weibull AFT fit did not converge in 200 Newton steps (largest score " +
                                number(gradient.cwiseAbs().maxCoeff()) +
                                "); are the covariates nearly collinear, or does one separate failures from censoring?");
    }
    derivatives(theta, gradient, hessian);
    const Eigen::MatrixXd internal_covariance = (-hessian).inverse();

    // Back to the covariates' own units: b_j = g_j / sd_j, b_0 = g_0 - sum g_j m_j / sd_j, beta = exp(s).
    const double beta = std::exp(theta(k - 1));
    std::vector<double> coefficients(p + 1);
    Eigen::MatrixXd jacobian = Eigen::MatrixXd::Zero(k, k);
    coefficients[0] = theta(0);
    jacobian(0, 0) = 1.0;
    for (std::size_t j = 0; j < p; ++j) {
        const auto c = static_cast<Eigen::Index>(j + 1);
        coefficients[j + 1] = theta(c) / scale(c - 1);
        coefficients[0] -= theta(c) * mean(c - 1) / scale(c - 1);
        jacobian(c, c) = 1.0 / scale(c - 1);
        jacobian(0, c) = -mean(c - 1) / scale(c - 1);
    }
    jacobian(k - 1, k - 1) = beta;
    const Eigen::MatrixXd covariance = jacobian * internal_covariance * jacobian.transpose();

    WeibullAftFit fit;
    fit.model = WeibullAft(beta, std::move(coefficients), std::move(names));
    fit.log_likelihood = ll;
    fit.failures = r;
    fit.censored = n - r;
    fit.iterations = iterations;
    fit.covariance.resize(static_cast<std::size_t>(k * k));
    fit.standard_errors.resize(static_cast<std::size_t>(k));
    for (Eigen::Index i = 0; i < k; ++i) {
        fit.standard_errors[static_cast<std::size_t>(i)] = std::sqrt(std::max(covariance(i, i), 0.0));
        for (Eigen::Index j = 0; j < k; ++j) fit.covariance[static_cast<std::size_t>(i * k + j)] = covariance(i, j);
    }
    return fit;
}

}  // namespace twinsim::models
