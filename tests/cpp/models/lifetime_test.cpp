// Lifetime models: Weibull closed forms, the censored maximum-likelihood fit
// and the accelerated-failure-time fit (models/equipment/lifetime.md).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "models/equipment/lifetime.hpp"
#include "twinsim/kernel/rng.hpp"

using namespace twinsim;
using models::LifetimeError;
using models::WeibullLife;

namespace {

struct Sample {
    std::vector<double> times;
    std::vector<bool> failed;
};

/// n Weibull lives, censored at `censor_at` (a unit still running then is censored).
Sample weibull_sample(const WeibullLife& life, std::size_t n, double censor_at, std::uint64_t seed) {
    kernel::RandomStream rng(kernel::StreamId{seed, 0, 0}, 1);
    Sample s;
    for (std::size_t i = 0; i < n; ++i) {
        const double t = life.sample(rng.uniform01());
        s.times.push_back(std::min(t, censor_at));
        s.failed.push_back(t <= censor_at);
    }
    return s;
}

/// integral of S(u) du over [t, t + span] by composite Simpson.
double integrate_survival(const WeibullLife& life, double t, double span, int intervals) {
    const double h = span / intervals;
    double sum = life.survival(t) + life.survival(t + span);
    for (int i = 1; i < intervals; ++i) sum += (i % 2 == 1 ? 4.0 : 2.0) * life.survival(t + i * h);
    return sum * h / 3.0;
}

}  // namespace

TEST_CASE("Weibull closed forms: survival, mean, quantile, hazard", "[lifetime]") {
    const WeibullLife life(2.5, 1000.0);
    CHECK(life.survival(1000.0) == Approx(std::exp(-1.0)).epsilon(1e-14));
    CHECK(life.cdf(0.0) == 0.0);
    CHECK(life.mean() == Approx(1000.0 * std::tgamma(1.4)).epsilon(1e-14));
    CHECK(life.cdf(life.quantile(0.9)) == Approx(0.9).epsilon(1e-12));
    CHECK(life.hazard(500.0) == Approx(2.5 / 1000.0 * std::pow(0.5, 1.5)).epsilon(1e-14));
    CHECK(life.pdf(500.0) == Approx(life.hazard(500.0) * life.survival(500.0)).epsilon(1e-14));
    CHECK_THROWS_AS(WeibullLife(0.0, 1.0), LifetimeError);
    CHECK_THROWS_AS(WeibullLife(1.0, -3.0), LifetimeError);
    CHECK_THROWS_AS(WeibullLife(std::nan(""), 1.0), LifetimeError);
    CHECK_THROWS_AS(life.quantile(1.0), LifetimeError);
}

TEST_CASE("Weibull conditional failure probability matches 1 - S(t + h) / S(t)", "[lifetime]") {
    for (const double beta : {0.7, 1.0, 3.2}) {
        const WeibullLife life(beta, 200.0);
        for (const double t : {0.0, 10.0, 150.0, 400.0}) {
            for (const double h : {1.0, 30.0, 300.0}) {
                const double closed = 1.0 - life.survival(t + h) / life.survival(t);
                CHECK(life.conditional_failure_probability(t, h) == Approx(closed).epsilon(1e-8));  // the reference cancels
            }
        }
        // Exponential: memoryless.
        if (beta == 1.0) CHECK(life.conditional_failure_probability(1000.0, 30.0) == Approx(-std::expm1(-0.15)));
    }
    // Deep in the tail a small horizon is still resolved (no 1 - 1 cancellation).
    const WeibullLife wear(4.0, 100.0);
    CHECK(wear.conditional_failure_probability(50.0, 1e-6) == Approx(wear.hazard(50.0) * 1e-6).epsilon(1e-5));
    CHECK_THROWS_WITH(wear.conditional_failure_probability(-1.0, 1.0), Catch::Contains("age t"));
}

TEST_CASE("Weibull mean residual life matches the integral of the survival", "[lifetime]") {
    for (const double beta : {0.6, 1.0, 1.8, 5.0}) {
        const WeibullLife life(beta, 100.0);
        CHECK(life.mean_residual_life(0.0) == Approx(life.mean()).epsilon(1e-12));
        for (const double t : {5.0, 80.0, 160.0}) {
            // Up to where H = 50 more: the tail beyond is below exp(-50).
            const double span = 100.0 * std::pow(std::pow(t / 100.0, beta) + 50.0, 1.0 / beta) - t;
            const double integral = integrate_survival(life, t, span, 1000000);
            CHECK(life.mean_residual_life(t) == Approx(integral / life.survival(t)).epsilon(1e-7));
        }
    }
    // Exponential: the mean residual life is eta at any age.
    CHECK(WeibullLife(1.0, 42.0).mean_residual_life(1e4) == Approx(42.0).epsilon(1e-10));
    // Far in the tail (S(t) underflows) it stays finite: about eta^beta t^(1 - beta) / beta.
    const WeibullLife wear(3.0, 10.0);
    CHECK(wear.mean_residual_life(200.0) == Approx(1000.0 / (3.0 * 200.0 * 200.0)).epsilon(1e-3));
}

TEST_CASE("the age at which the conditional risk reaches p", "[lifetime]") {
    const WeibullLife wear(3.0, 1000.0);
    const auto age = wear.age_at_conditional_risk(100.0, 0.2);
    REQUIRE(age);
    CHECK(wear.conditional_failure_probability(*age, 100.0) == Approx(0.2).epsilon(1e-9));
    CHECK(wear.conditional_failure_probability(*age * (1 - 1e-6), 100.0) < 0.2);
    // Already risky when new: age 0.
    CHECK(wear.age_at_conditional_risk(1000.0, 0.5) == 0.0);
    // No wear-out: the risk never grows, so it is reached at 0 or never.
    CHECK_FALSE(WeibullLife(1.0, 1000.0).age_at_conditional_risk(100.0, 0.2));
    CHECK_FALSE(WeibullLife(0.8, 1000.0).age_at_conditional_risk(100.0, 0.2));
    CHECK(WeibullLife(0.8, 1000.0).age_at_conditional_risk(100.0, 0.01) == 0.0);
    CHECK_THROWS_WITH(wear.age_at_conditional_risk(100.0, 1.0), Catch::Contains("threshold p"));
    CHECK_THROWS_WITH(wear.age_at_conditional_risk(0.0, 0.5), Catch::Contains("horizon h"));
}

TEST_CASE("simulated Weibull lives have mean eta Gamma(1 + 1/beta) within the 95 % interval", "[lifetime]") {
    const WeibullLife life(1.7, 500.0);
    kernel::RandomStream rng(kernel::StreamId{7, 0, 0}, 3);
    const int n = 200000;
    double sum = 0.0, sum2 = 0.0;
    for (int i = 0; i < n; ++i) {
        const double t = life.sample(rng.uniform01());
        sum += t;
        sum2 += t * t;
    }
    const double mean = sum / n;
    const double se = std::sqrt((sum2 / n - mean * mean) / (n - 1));
    CHECK(std::abs(mean - life.mean()) < 1.96 * se);

    // The residual life of a unit aged t: P(residual <= h) is the conditional probability.
    const double age = 400.0, h = 150.0;
    int within = 0;
    for (int i = 0; i < n; ++i) within += life.sample_residual(age, rng.uniform01()) <= h;
    const double q = life.conditional_failure_probability(age, h);
    CHECK(std::abs(within / double(n) - q) < 3.0 * std::sqrt(q * (1 - q) / n));
}

TEST_CASE("fit_weibull: the censored maximum-likelihood estimate", "[lifetime]") {
    const WeibullLife truth(2.2, 800.0);
    const Sample s = weibull_sample(truth, 3000, 900.0, 11);
    const models::WeibullFit fit = models::fit_weibull(s.times, s.failed);
    REQUIRE(fit.censored > 300);  // a real share of the fleet is still running
    CHECK(fit.failures + fit.censored == 3000);
    // Recovers the truth within 3.3 standard errors (a 1-in-1000 miss; the seed is fixed).
    CHECK(std::abs(fit.life.beta() - 2.2) < 3.3 * std::sqrt(fit.covariance[0]));
    CHECK(std::abs(fit.life.eta() - 800.0) < 3.3 * std::sqrt(fit.covariance[3]));
    CHECK(fit.beta_ci95[0] < fit.life.beta());
    CHECK(fit.beta_ci95[1] > fit.life.beta());
    CHECK(fit.eta_ci95[1] - fit.eta_ci95[0] == Approx(2 * 1.96 * std::sqrt(fit.covariance[3])).epsilon(0.01));
    // It is the maximum: every nearby point has a lower likelihood.
    const double b = fit.life.beta(), e = fit.life.eta();
    CHECK(fit.log_likelihood == Approx(fit.life.log_likelihood(s.times, s.failed)).epsilon(1e-14));
    for (const double db : {-1e-4, 1e-4})
        for (const double de : {-1e-4, 0.0, 1e-4})
            CHECK(WeibullLife(b * (1 + db), e * (1 + de)).log_likelihood(s.times, s.failed) < fit.log_likelihood);
    // The profile closed form: eta^beta = sum t^beta / r.
    double sum = 0.0;
    for (const double t : s.times) sum += std::pow(t, b);
    CHECK(e == Approx(std::pow(sum / double(fit.failures), 1.0 / b)).epsilon(1e-10));
    CHECK(fit.covariance[0] > 0.0);
    CHECK(fit.covariance[3] > 0.0);
    CHECK(fit.covariance[1] == fit.covariance[2]);

    // Dropping the censored units biases the life down; keeping them does not.
    Sample failures_only;
    for (std::size_t i = 0; i < s.times.size(); ++i)
        if (s.failed[i]) {
            failures_only.times.push_back(s.times[i]);
            failures_only.failed.push_back(true);
        }
    CHECK(models::fit_weibull(failures_only.times, failures_only.failed).life.eta() < 0.9 * e);
}

TEST_CASE("fit_weibull refuses data it cannot fit, naming why", "[lifetime]") {
    const std::vector<double> times{1.0, 2.0, 3.0};
    CHECK_THROWS_WITH(models::fit_weibull(times, {false, false, false}), Catch::Contains("no failures"));
    CHECK_THROWS_WITH(models::fit_weibull(std::vector<double>{1.0, -2.0}, {true, true}),
                      Catch::Contains("time 1") && Catch::Contains(">= 0"));
    CHECK_THROWS_WITH(models::fit_weibull(std::vector<double>{1.0, std::nan("")}, {true, true}),
                      Catch::Contains("time 1"));
    CHECK_THROWS_WITH(models::fit_weibull(times, {true, true}), Catch::Contains("3 times but 2"));
    CHECK_THROWS_WITH(models::fit_weibull(std::vector<double>{0.0, 2.0}, {true, true}), Catch::Contains("time 0"));
    CHECK_THROWS_WITH(models::fit_weibull(std::vector<double>{5.0, 5.0, 5.0}, {true, true, true}),
                      Catch::Contains("no finite maximum"));
    CHECK_THROWS_AS(models::fit_weibull(std::vector<double>{}, {}), LifetimeError);
    // A censored unit at age 0 is allowed (it tells nothing).
    CHECK(models::fit_weibull(std::vector<double>{0.0, 2.0, 3.0, 7.0}, {false, true, true, true}).failures == 3);
}

TEST_CASE("fit_weibull_aft recovers load and temperature effects", "[lifetime]") {
    // ln eta = 8 - 0.9 load + 0.03 (temperature in degC), beta 1.6.
    const double beta = 1.6;
    kernel::RandomStream rng(kernel::StreamId{5, 0, 0}, 2);
    const std::size_t n = 4000;
    std::vector<double> times, covariates;
    std::vector<bool> failed;
    for (std::size_t i = 0; i < n; ++i) {
        const double load = 0.3 + 0.9 * rng.uniform01();
        const double temperature = 15.0 + 25.0 * rng.uniform01();
        const models::WeibullAft truth(beta, {8.0, -0.9, 0.03}, {"load", "temperature"});
        const double x[] = {load, temperature};
        const double t = truth.life(x).sample(rng.uniform01());
        const double censor = 3000.0 * rng.uniform01() + 500.0;
        times.push_back(std::min(t, censor));
        failed.push_back(t <= censor);
        covariates.push_back(load);
        covariates.push_back(temperature);
    }
    const models::WeibullAftFit fit = models::fit_weibull_aft(times, failed, covariates, {"load", "temperature"});
    const auto& b = fit.model.coefficients();
    REQUIRE(b.size() == 3);
    REQUIRE(fit.standard_errors.size() == 4);
    CHECK(std::abs(b[0] - 8.0) < 4 * fit.standard_errors[0]);
    CHECK(std::abs(b[1] + 0.9) < 4 * fit.standard_errors[1]);
    CHECK(std::abs(b[2] - 0.03) < 4 * fit.standard_errors[2]);
    CHECK(std::abs(fit.model.beta() - beta) < 4 * fit.standard_errors[3]);
    CHECK(fit.standard_errors[1] < 0.1);
    CHECK(fit.model.covariate_index("temperature") == 1u);
    // Higher load, shorter life.
    const double light[] = {0.3, 20.0}, heavy[] = {1.2, 20.0};
    CHECK(fit.model.life(heavy).mean() < fit.model.life(light).mean());
    // The likelihood is maximal at the fit.
    std::vector<double> moved = b;
    moved[1] += 1e-3;
    const models::WeibullAft other(fit.model.beta(), moved, {"load", "temperature"});
    double ll_other = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const models::WeibullLife life = other.life(std::span<const double>(&covariates[2 * i], 2));
        ll_other += failed[i] ? std::log(life.pdf(times[i])) : std::log(life.survival(times[i]));
    }
    CHECK(ll_other < fit.log_likelihood);

    // Without covariates the AFT fit is the plain Weibull fit.
    const models::WeibullAftFit plain = models::fit_weibull_aft(times, failed, {}, {});
    const models::WeibullFit reference = models::fit_weibull(times, failed);
    CHECK(plain.model.beta() == Approx(reference.life.beta()).epsilon(1e-8));
    CHECK(std::exp(plain.model.coefficients()[0]) == Approx(reference.life.eta()).epsilon(1e-8));
    CHECK(plain.log_likelihood == Approx(reference.log_likelihood).epsilon(1e-10));
}

TEST_CASE("fit_weibull_aft refuses covariates it cannot use", "[lifetime]") {
    const std::vector<double> times{1.0, 2.0, 3.0, 4.0};
    const std::vector<bool> failed{true, true, false, true};
    CHECK_THROWS_WITH(models::fit_weibull_aft(times, failed, std::vector<double>{1, 1, 1, 1}, {"load"}),
                      Catch::Contains("\"load\" is constant"));
    CHECK_THROWS_WITH(models::fit_weibull_aft(times, failed, std::vector<double>{1, 2, 3}, {"load"}),
                      Catch::Contains("3 covariate values for 4 observations"));
    CHECK_THROWS_WITH(models::fit_weibull_aft(times, failed, std::vector<double>{1, 2, std::nan(""), 4}, {"load"}),
                      Catch::Contains("\"load\" of observation 2"));
    CHECK_THROWS_WITH(models::WeibullAft(1.0, {1.0}, {"load"}), Catch::Contains("1 coefficients for 1 covariates"));
}
