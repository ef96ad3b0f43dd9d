"""Lifetime models from Python: the Weibull MLE against scipy's, censored and not,
closed forms, and the AFT fit (models/equipment/lifetime.md)."""

import math

import numpy as np
import pytest

import twinsim

scipy = pytest.importorskip("scipy")
from scipy import optimize, stats  # noqa: E402
from scipy.stats import CensoredData  # noqa: E402


def scipy_weibull_mle(times, failed):
    """scipy's own censored Weibull MLE (weibull_min.fit on CensoredData, location 0),
    with its optimiser run to a tight tolerance so it is a reference, not a guess."""

    def tight(func, x0, args=(), disp=0):
        return optimize.fmin(func, x0, args=args, xtol=1e-12, ftol=1e-14, maxiter=20000, maxfun=40000, disp=disp)

    data = CensoredData(uncensored=times[failed], right=times[~failed]) if (~failed).any() else times
    shape, _, scale = stats.weibull_min.fit(data, floc=0, optimizer=tight)
    return shape, scale


def sample(beta, eta, n, censor_at, seed):
    rng = np.random.default_rng(seed)
    life = eta * rng.weibull(beta, n)
    return np.minimum(life, censor_at), life <= censor_at


@pytest.mark.parametrize("beta, eta, censor_at", [(2.3, 900.0, np.inf), (0.8, 50.0, np.inf), (1.7, 1200.0, 1000.0),
                                                   (3.5, 10.0, 9.0)])
def test_fit_weibull_matches_scipy(beta, eta, censor_at):
    times, failed = sample(beta, eta, 400, censor_at, seed=int(beta * 10))
    fit = twinsim.fit_weibull(times, failed)
    assert fit.failures == failed.sum() and fit.censored == (~failed).sum()
    if np.isfinite(censor_at):
        assert fit.censored > 20  # the censored case really has censored units
    ref_beta, ref_eta = scipy_weibull_mle(times, failed)
    assert fit.beta == pytest.approx(ref_beta, rel=1e-4)
    assert fit.eta == pytest.approx(ref_eta, rel=1e-4)
    # The same likelihood as scipy's at the fitted point.
    ref_ll = stats.weibull_min.logpdf(times[failed], fit.beta, scale=fit.eta).sum() + \
        stats.weibull_min.logsf(times[~failed], fit.beta, scale=fit.eta).sum()
    assert fit.log_likelihood == pytest.approx(ref_ll, rel=1e-10)


def test_censored_units_count_and_failed_defaults_to_all():
    times, failed = sample(2.0, 100.0, 300, 90.0, seed=4)
    censored = twinsim.fit_weibull(times, failed)
    dropped = twinsim.fit_weibull(times[failed])  # failed=None: all are failures
    assert dropped.censored == 0
    assert censored.eta > dropped.eta * 1.1  # dropping survivors makes the life look shorter
    lo, hi = censored.eta_ci95
    assert lo < censored.eta < hi
    assert censored.covariance.shape == (2, 2)


def test_simulated_lives_have_the_closed_form_mean_within_the_ci():
    life = twinsim.WeibullLife(1.4, 300.0)
    u = np.random.default_rng(9).random(200_000)
    t = life.sample(u)
    half = 1.96 * t.std(ddof=1) / math.sqrt(t.size)
    assert abs(t.mean() - 300.0 * math.gamma(1 + 1 / 1.4)) < half
    assert life.mean() == pytest.approx(300.0 * math.gamma(1 + 1 / 1.4), rel=1e-14)


def test_conditional_probabilities_and_residual_life_match_closed_forms():
    beta, eta = 2.8, 1000.0
    life = twinsim.WeibullLife(beta, eta)
    ages = np.array([0.0, 200.0, 800.0, 1500.0])
    s = lambda x: np.exp(-((x / eta) ** beta))  # noqa: E731
    np.testing.assert_allclose(life.conditional_failure_probability(ages, 100.0), 1 - s(ages + 100.0) / s(ages),
                               rtol=1e-10)
    np.testing.assert_allclose(life.survival(ages), stats.weibull_min.sf(ages, beta, scale=eta), rtol=1e-12)
    for age in ages:
        integral, _ = scipy.integrate.quad(lambda x: s(x), age, np.inf, epsabs=0, epsrel=1e-12)
        assert life.mean_residual_life(age) == pytest.approx(integral / s(age), rel=1e-8)
    crossing = life.age_at_conditional_risk(100.0, 0.1)
    assert life.conditional_failure_probability(crossing, 100.0) == pytest.approx(0.1, rel=1e-9)
    assert twinsim.WeibullLife(1.0, 10.0).age_at_conditional_risk(1.0, 0.5) is None
    # Residual lives of a unit aged 800 follow the conditional law.
    u = np.random.default_rng(2).random(100_000)
    residual = life.sample_residual(800.0, u)
    q = float(life.conditional_failure_probability(800.0, 100.0))
    assert abs((residual <= 100.0).mean() - q) < 4 * math.sqrt(q * (1 - q) / u.size)


def test_fit_weibull_aft_matches_an_independent_likelihood_maximisation():
    rng = np.random.default_rng(12)
    n = 600
    load = rng.uniform(0.3, 1.2, n)
    temperature = rng.uniform(15.0, 40.0, n)
    eta = np.exp(7.0 - 0.8 * load + 0.02 * temperature)
    life = eta * rng.weibull(1.9, n)
    censor = rng.uniform(300.0, 1500.0, n)
    times, failed = np.minimum(life, censor), life <= censor
    fit = twinsim.fit_weibull_aft(times, failed, {"load": load, "temperature": temperature})
    assert fit.model.covariate_names == ["load", "temperature"]

    x = np.column_stack([np.ones(n), load, temperature])

    def negative_ll(theta):
        b, k = theta[:3], math.exp(theta[3])
        scale = np.exp(x @ b)
        return -(stats.weibull_min.logpdf(times[failed], k, scale=scale[failed]).sum()
                 + stats.weibull_min.logsf(times[~failed], k, scale=scale[~failed]).sum())

    start = np.array([math.log(times.mean()), 0.0, 0.0, 0.0])
    ref = optimize.minimize(negative_ll, start, method="Nelder-Mead",
                            options={"xatol": 1e-11, "fatol": 1e-13, "maxiter": 40000, "maxfev": 80000})
    ref = optimize.minimize(negative_ll, ref.x, method="BFGS", options={"gtol": 1e-9})
    np.testing.assert_allclose(fit.model.coefficients, ref.x[:3], rtol=1e-4, atol=1e-6)
    assert fit.model.beta == pytest.approx(math.exp(ref.x[3]), rel=1e-4)
    assert fit.log_likelihood == pytest.approx(-ref.fun, rel=1e-9)
    assert len(fit.standard_errors) == 4 and all(se > 0 for se in fit.standard_errors)
    # A 2-D array with names is the same fit.
    same = twinsim.fit_weibull_aft(times, failed, np.column_stack([load, temperature]), names=["load", "temperature"])
    assert same.model.coefficients == fit.model.coefficients
    # A unit's life under its covariates.
    assert fit.model.life([1.0, 20.0]).eta == pytest.approx(fit.model.eta([1.0, 20.0]))


def test_bad_lifetime_input_raises_lifetime_error():
    with pytest.raises(twinsim.LifetimeError, match="no failures"):
        twinsim.fit_weibull([1.0, 2.0], [False, False])
    with pytest.raises(ValueError, match="time 1 is -2"):
        twinsim.fit_weibull([1.0, -2.0])
    with pytest.raises(twinsim.LifetimeError, match="3 times but 2"):
        twinsim.fit_weibull([1.0, 2.0, 3.0], [True, False])
    with pytest.raises(twinsim.LifetimeError, match='"load" is constant'):
        twinsim.fit_weibull_aft([1.0, 2.0, 3.0], None, {"load": [1.0, 1.0, 1.0]})
    with pytest.raises(twinsim.LifetimeError, match="shape beta"):
        twinsim.WeibullLife(-1.0, 1.0)
    assert issubclass(twinsim.LifetimeError, twinsim.TwinsimError)
