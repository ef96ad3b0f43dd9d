#pragma once
// Lifetime models of equipment (models/equipment/lifetime.md): the
// two-parameter Weibull life, its maximum-likelihood fit to right-censored
// run-to-failure data, and the Weibull accelerated-failure-time model whose
// scale depends on covariates (load, temperature, ...). Closed forms for
// what maintenance decisions ask: conditional failure probability
// P(T <= t + h | T > t), mean residual life, and the age at which that
// conditional risk first reaches a threshold.
//
// Units: any unit of time, the same for every time of one model (the
// maintenance behaviour uses hours). No Eigen in this header (the fits use
// it inside lifetime.cpp).

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "twinsim/common/error.hpp"

namespace twinsim::models {

/// Bad lifetime data (no failures, a negative or non-finite time, mismatched
/// lengths, a constant covariate), bad parameters, or a fit that did not
/// converge. The message names the offending element (index, covariate) and why.
class LifetimeError : public Error {
public:
    using Error::Error;
};

/// A two-parameter Weibull life T: survival S(t) = exp(-(t / eta)^beta),
/// hazard h(t) = (beta / eta) (t / eta)^(beta - 1). beta < 1 is infant
/// mortality, beta = 1 a constant hazard (exponential, mean eta), beta > 1
/// wear-out. Immutable and cheap to copy.
class WeibullLife {
public:
    /// Throws LifetimeError unless beta and eta are finite and > 0.
    WeibullLife(double beta, double eta);

    [[nodiscard]] double beta() const noexcept { return beta_; }
    [[nodiscard]] double eta() const noexcept { return eta_; }

    // For t < 0 these treat t as 0 (a unit cannot fail before it starts).
    [[nodiscard]] double survival(double t) const noexcept;            ///< S(t)
    [[nodiscard]] double cdf(double t) const noexcept;                 ///< F(t) = 1 - S(t)
    [[nodiscard]] double pdf(double t) const noexcept;                 ///< f(t) = h(t) S(t)
    [[nodiscard]] double hazard(double t) const noexcept;              ///< h(t)
    [[nodiscard]] double cumulative_hazard(double t) const noexcept;   ///< H(t) = (t / eta)^beta

    /// E[T] = eta Gamma(1 + 1/beta).
    [[nodiscard]] double mean() const noexcept;
    /// The p-quantile eta (-ln(1 - p))^(1/beta). Throws LifetimeError unless 0 <= p < 1.
    [[nodiscard]] double quantile(double p) const;

    /// P(T <= t + h | T > t) = 1 - exp(H(t) - H(t + h)). Throws LifetimeError
    /// when t < 0 or h < 0 (or either is not finite).
    [[nodiscard]] double conditional_failure_probability(double t, double h) const;
    /// Mean residual life E[T - t | T > t] = exp(H(t)) (eta / beta) Gamma(1/beta, H(t))
    /// (upper incomplete gamma, evaluated without overflow for large H(t)).
    /// Throws LifetimeError when t < 0 or not finite.
    [[nodiscard]] double mean_residual_life(double t) const;
    /// The youngest age t >= 0 at which P(T <= t + h | T > t) >= p, or nullopt
    /// when it never gets there (beta <= 1: the conditional risk does not
    /// grow with age, so it is reached at 0 or never). Accurate to 1e-10
    /// relative. Throws LifetimeError unless h > 0 and 0 < p < 1.
    [[nodiscard]] std::optional<double> age_at_conditional_risk(double h, double p) const;

    /// The life T = F^-1(u) for a uniform u in [0, 1) (inverse transform).
    [[nodiscard]] double sample(double u) const noexcept;
    /// The remaining life T - t of a unit that survived to age t >= 0, for a
    /// uniform u in [0, 1): eta (H(t) - ln(1 - u))^(1/beta) - t, exact and
    /// O(1) (the fleet's fast path and the maintenance behaviour both use it).
    [[nodiscard]] double sample_residual(double t, double u) const noexcept;

    /// Log-likelihood of failure (failed[i]) or censoring times. Same
    /// preconditions as fit_weibull.
    [[nodiscard]] double log_likelihood(std::span<const double> times, const std::vector<bool>& failed) const;

    friend bool operator==(const WeibullLife&, const WeibullLife&) = default;

private:
    double beta_;
    double eta_;
};

/// The Weibull life with mean `mean` whose q-quantile is `quantile_value`
/// (e.g. a prognostic's RUL mean and its 10 % quantile): the quantile/mean
/// ratio fixes beta (it grows with beta), solved by bisection to 1e-12.
/// Throws LifetimeError unless 0 < q < 1, 0 < quantile_value, mean finite, and
/// the ratio lies within what shapes 0.05 .. 50 can give.
[[nodiscard]] WeibullLife weibull_from_mean_and_quantile(double mean, double q, double quantile_value);

/// A fitted Weibull life with what the fit knows of its uncertainty.
struct WeibullFit {
    WeibullLife life{1.0, 1.0};
    double log_likelihood = 0.0;
    std::size_t failures = 0;  ///< observations with failed[i]
    std::size_t censored = 0;  ///< units still running (right-censored)
    int iterations = 0;        ///< Newton steps on the profile likelihood
    /// Covariance of (beta, eta): the inverse of the observed information at
    /// the maximum, row-major [var beta, cov, cov, var eta].
    double covariance[4] = {0, 0, 0, 0};
    /// 95 % Wald intervals on the log scale (they stay > 0).
    double beta_ci95[2] = {0, 0};
    double eta_ci95[2] = {0, 0};
};

/// Maximum-likelihood fit of a two-parameter Weibull to `times` (failure
/// when failed[i], else a right-censored time: the unit was still running).
/// The scale is profiled out (eta^beta = sum t^beta / r for r failures) and the
/// one-dimensional score equation in beta solved by safeguarded Newton to
/// 1e-12 relative; censored times count, they are not dropped.
/// Throws LifetimeError when the lengths differ, a time is negative or not
/// finite, a failure time is 0, there is no failure, or the likelihood has no
/// finite maximum (e.g. every time equal).
[[nodiscard]] WeibullFit fit_weibull(std::span<const double> times, const std::vector<bool>& failed);

/// The Weibull accelerated-failure-time model: T_i ~ Weibull(beta, eta_i) with
/// ln eta_i = b0 + sum_j b_j x_ij. A covariate that multiplies the life by
/// exp(b_j) per unit is equally a proportional-hazards model with hazard
/// ratio exp(-beta b_j) per unit.
class WeibullAft {
public:
    /// Throws LifetimeError unless beta > 0 and finite, coefficients has one
    /// more entry (the intercept, first) than names, and every coefficient is finite.
    WeibullAft(double beta, std::vector<double> coefficients, std::vector<std::string> covariate_names);

    [[nodiscard]] double beta() const noexcept { return beta_; }
    /// b0 (intercept), b1..bp in the order of covariate_names().
    [[nodiscard]] const std::vector<double>& coefficients() const noexcept { return coefficients_; }
    [[nodiscard]] const std::vector<std::string>& covariate_names() const noexcept { return names_; }
    /// The index of a covariate by name, or nullopt.
    [[nodiscard]] std::optional<std::size_t> covariate_index(const std::string& name) const;

    /// exp(b0 + sum b_j x_j). Throws LifetimeError unless x has one value per covariate.
    [[nodiscard]] double eta(std::span<const double> x) const;
    /// The Weibull life of a unit with covariates x (same throws as eta()).
    [[nodiscard]] WeibullLife life(std::span<const double> x) const;

private:
    double beta_;
    std::vector<double> coefficients_;
    std::vector<std::string> names_;
};

struct WeibullAftFit {
    WeibullAft model{1.0, {0.0}, {}};
    double log_likelihood = 0.0;
    std::size_t failures = 0;
    std::size_t censored = 0;
    int iterations = 0;
    /// Covariance of (b0, b1, ..., bp, beta), row-major, (p + 2)^2 entries:
    /// the inverse observed information at the maximum.
    std::vector<double> covariance;
    /// sqrt of covariance's diagonal, in the same order.
    std::vector<double> standard_errors;
};

/// Maximum-likelihood fit of the Weibull AFT model: `covariates` holds one row
/// per observation (row-major, times.size() x names.size()), `names` their
/// names. Newton-Raphson on (b, ln beta) with Eigen, analytic gradient and
/// Hessian, covariates standardised internally, step halving so the
/// likelihood never drops; started from fit_weibull without covariates.
/// Throws LifetimeError for the fit_weibull input errors, a covariate count
/// that does not match, a non-finite covariate, a constant covariate (not
/// identifiable beside the intercept), or no convergence in 200 steps.
[[nodiscard]] WeibullAftFit fit_weibull_aft(std::span<const double> times, const std::vector<bool>& failed,
                                            std::span<const double> covariates, std::vector<std::string> names);

}  // namespace twinsim::models
