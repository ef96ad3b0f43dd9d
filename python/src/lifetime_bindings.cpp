// Lifetime models from Python (models/equipment/lifetime.hpp): WeibullLife,
// fit_weibull, WeibullAft, fit_weibull_aft and twinsim.LifetimeError. The
// arithmetic is the C++ library's; this file converts numpy arrays and lists.

#include <pybind11/numpy.h>
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "models/equipment/lifetime.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace twinsim::python {
namespace {

using models::WeibullAft;
using models::WeibullAftFit;
using models::WeibullFit;
using models::WeibullLife;

PyObject* lifetime_error = nullptr;

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

std::vector<double> doubles(const py::handle& values, const char* name) {
    const DoubleArray a = DoubleArray::ensure(values);
    if (!a || a.ndim() != 1) throw py::value_error(std::string(name) + " must be a one-dimensional sequence of numbers");
    return {a.data(), a.data() + a.size()};
}

/// `failed` as one flag per time; None means every time is a failure.
std::vector<bool> flags(const py::handle& failed, std::size_t count) {
    if (failed.is_none()) return std::vector<bool>(count, true);
    const py::array a = py::module_::import("numpy").attr("asarray")(failed);
    if (a.ndim() != 1) throw py::value_error("failed must be a one-dimensional sequence of booleans");
    const py::array_t<bool, py::array::c_style | py::array::forcecast> b = a.attr("astype")("bool");
    return std::vector<bool>(b.data(), b.data() + b.size());
}

py::array_t<double> matrix(const std::vector<double>& values, std::size_t n) {
    py::array_t<double> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(n)});
    std::copy(values.begin(), values.end(), out.mutable_data());
    return out;
}

/// A method of WeibullLife taking ages, vectorised over numpy arrays (a scalar gives a float).
template <class Method>
auto over_ages(Method method) {
    return [method](const WeibullLife& life, const py::handle& t) -> py::object {
        return py::vectorize([&life, method](double x) { return (life.*method)(x); })(DoubleArray::ensure(t));
    };
}

}  // namespace

void define_lifetime(py::module_& m) {
    lifetime_error = new_exception(
        m, "LifetimeError", py::make_tuple(m.attr("TwinsimError"), py::handle(PyExc_ValueError)).ptr(),
        "Lifetime data or parameters that cannot be used (no failures, a negative time, a constant covariate, "
        "a shape <= 0) or a fit that did not converge; the message names the element and why. Also a ValueError.");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const models::LifetimeError& e) {
            PyErr_SetString(lifetime_error, e.what());
        }
    });

    py::class_<WeibullLife>(m, "WeibullLife",
                            "A two-parameter Weibull life: S(t) = exp(-(t / eta)^beta) (models/equipment/lifetime.md). "
                            "Times in any unit, the same as eta's.")
        .def(py::init<double, double>(), "beta"_a, "eta"_a, "Raises LifetimeError unless beta and eta are finite and > 0.")
        .def_property_readonly("beta", &WeibullLife::beta, "The shape (< 1 infant mortality, 1 constant hazard, > 1 wear-out).")
        .def_property_readonly("eta", &WeibullLife::eta, "The scale (63.2 % of units have failed by eta).")
        .def("survival", over_ages(&WeibullLife::survival), "t"_a, "S(t); vectorised over numpy arrays.")
        .def("cdf", over_ages(&WeibullLife::cdf), "t"_a, "F(t) = 1 - S(t); vectorised.")
        .def("pdf", over_ages(&WeibullLife::pdf), "t"_a, "The density f(t); vectorised.")
        .def("hazard", over_ages(&WeibullLife::hazard), "t"_a, "The hazard rate h(t); vectorised.")
        .def("cumulative_hazard", over_ages(&WeibullLife::cumulative_hazard), "t"_a, "H(t) = (t / eta)^beta.")
        .def("mean", &WeibullLife::mean, "E[T] = eta Gamma(1 + 1/beta).")
        .def("quantile", over_ages(&WeibullLife::quantile), "p"_a, "The p-quantile; raises LifetimeError unless 0 <= p < 1.")
        .def(
            "conditional_failure_probability",
            [](const WeibullLife& life, const py::handle& t, const py::handle& h) -> py::object {
                return py::vectorize([&life](double a, double b) { return life.conditional_failure_probability(a, b); })(
                    DoubleArray::ensure(t), DoubleArray::ensure(h));
            },
            "t"_a, "h"_a, "P(T <= t + h | T > t): the risk that a unit aged t fails within h. Vectorised.")
        .def("mean_residual_life", over_ages(&WeibullLife::mean_residual_life), "t"_a,
             "E[T - t | T > t]: the expected remaining life of a unit aged t. Vectorised.")
        .def("age_at_conditional_risk", &WeibullLife::age_at_conditional_risk, "h"_a, "p"_a,
             "The youngest age at which P(fail within h) >= p, or None when it is never reached (beta <= 1).")
        .def("sample", over_ages(&WeibullLife::sample), "u"_a, "Lives from uniforms u in [0, 1) (inverse transform); vectorised.")
        .def(
            "sample_residual",
            [](const WeibullLife& life, const py::handle& t, const py::handle& u) -> py::object {
                return py::vectorize([&life](double a, double b) { return life.sample_residual(a, b); })(
                    DoubleArray::ensure(t), DoubleArray::ensure(u));
            },
            "t"_a, "u"_a,
             "Remaining lives of units aged t from uniforms u (the exact conditional Weibull); vectorised.")
        .def(
            "log_likelihood",
            [](const WeibullLife& life, const py::handle& times, const py::handle& failed) {
                const std::vector<double> t = doubles(times, "times");
                return life.log_likelihood(t, flags(failed, t.size()));
            },
            "times"_a, "failed"_a = py::none(), "Log-likelihood of failure (failed) or right-censored times.")
        .def(py::self == py::self)
        .def("__repr__", [](const WeibullLife& life) {
            return "WeibullLife(beta=" + py::repr(py::float_(life.beta())).cast<std::string>() +
                   ", eta=" + py::repr(py::float_(life.eta())).cast<std::string>() + ")";
        });

    py::class_<WeibullFit>(m, "WeibullFit", "The result of fit_weibull.")
        .def_readonly("life", &WeibullFit::life, "The fitted WeibullLife.")
        .def_property_readonly("beta", [](const WeibullFit& f) { return f.life.beta(); })
        .def_property_readonly("eta", [](const WeibullFit& f) { return f.life.eta(); })
        .def_readonly("log_likelihood", &WeibullFit::log_likelihood)
        .def_readonly("failures", &WeibullFit::failures)
        .def_readonly("censored", &WeibullFit::censored)
        .def_readonly("iterations", &WeibullFit::iterations)
        .def_property_readonly(
            "covariance",
            [](const WeibullFit& f) { return matrix(std::vector<double>(f.covariance, f.covariance + 4), 2); },
            "2 x 2 covariance of (beta, eta) from the observed information.")
        .def_property_readonly("beta_ci95", [](const WeibullFit& f) { return py::make_tuple(f.beta_ci95[0], f.beta_ci95[1]); })
        .def_property_readonly("eta_ci95", [](const WeibullFit& f) { return py::make_tuple(f.eta_ci95[0], f.eta_ci95[1]); })
        .def("__repr__", [](const WeibullFit& f) {
            return "WeibullFit(beta=" + py::repr(py::float_(f.life.beta())).cast<std::string>() +
                   ", eta=" + py::repr(py::float_(f.life.eta())).cast<std::string>() +
                   ", failures=" + std::to_string(f.failures) + ", censored=" + std::to_string(f.censored) + ")";
        });

    m.def(
        "fit_weibull",
        [](const py::handle& times, const py::handle& failed) {
            const std::vector<double> t = doubles(times, "times");
            const std::vector<bool> f = flags(failed, t.size());
            py::gil_scoped_release release;
            return models::fit_weibull(t, f);
        },
        "times"_a, "failed"_a = py::none(),
        "Maximum-likelihood Weibull fit. times: failure or censoring times; failed: True where the unit failed, "
        "False where it was still running (right-censored; counted, not dropped); None means all failed. "
        "Raises LifetimeError for no failures, negative times, or no finite maximum.");

    py::class_<WeibullAft>(m, "WeibullAft",
                           "Weibull accelerated-failure-time model: ln eta = b0 + sum b_j x_j, shape beta shared.")
        .def(py::init<double, std::vector<double>, std::vector<std::string>>(), "beta"_a, "coefficients"_a,
             "covariate_names"_a)
        .def_property_readonly("beta", &WeibullAft::beta)
        .def_property_readonly("coefficients", &WeibullAft::coefficients, "b0 (intercept), then one per covariate.")
        .def_property_readonly("covariate_names", &WeibullAft::covariate_names)
        .def(
            "eta", [](const WeibullAft& a, const py::handle& x) { return a.eta(doubles(x, "x")); }, "x"_a,
            "exp(b0 + sum b_j x_j) for one unit's covariates (in covariate_names order).")
        .def(
            "life", [](const WeibullAft& a, const py::handle& x) { return a.life(doubles(x, "x")); }, "x"_a,
            "The WeibullLife of a unit with covariates x.")
        .def("__repr__", [](const WeibullAft& a) {
            return "WeibullAft(beta=" + py::repr(py::float_(a.beta())).cast<std::string>() +
                   ", coefficients=" + py::repr(py::cast(a.coefficients())).cast<std::string>() +
                   ", covariate_names=" + py::repr(py::cast(a.covariate_names())).cast<std::string>() + ")";
        });

    py::class_<WeibullAftFit>(m, "WeibullAftFit", "The result of fit_weibull_aft.")
        .def_readonly("model", &WeibullAftFit::model)
        .def_readonly("log_likelihood", &WeibullAftFit::log_likelihood)
        .def_readonly("failures", &WeibullAftFit::failures)
        .def_readonly("censored", &WeibullAftFit::censored)
        .def_readonly("iterations", &WeibullAftFit::iterations)
        .def_property_readonly(
            "covariance", [](const WeibullAftFit& f) { return matrix(f.covariance, f.standard_errors.size()); },
            "Covariance of (b0, b1, ..., bp, beta).")
        .def_readonly("standard_errors", &WeibullAftFit::standard_errors, "In the order (b0, b1, ..., bp, beta).");

    m.def(
        "_fit_weibull_aft",
        [](const py::handle& times, const py::handle& failed, const py::handle& covariates,
           std::vector<std::string> names) {
            const std::vector<double> t = doubles(times, "times");
            const std::vector<bool> f = flags(failed, t.size());
            const DoubleArray x = DoubleArray::ensure(covariates);
            if (!x || (x.ndim() != 2 && x.size() != 0))
                throw py::value_error("covariates must be a two-dimensional array (one row per observation)");
            const std::vector<double> values(x.data(), x.data() + x.size());
            py::gil_scoped_release release;
            return models::fit_weibull_aft(t, f, values, std::move(names));
        },
        "times"_a, "failed"_a, "covariates"_a, "names"_a,
        "The C++ fit behind twinsim.fit_weibull_aft: covariates a row-major (n, p) array, names its p columns.");
}

}  // namespace twinsim::python
