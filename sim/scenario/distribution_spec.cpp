#include "twinsim/scenario/distribution_spec.hpp"

#include <array>
#include <cmath>

#include "twinsim/kernel/distributions.hpp"

namespace twinsim::scenario {

namespace {
using Kind = DistributionSpec::Kind;

constexpr std::array<std::pair<std::string_view, Kind>, 8> kinds{{
    {"exponential", Kind::exponential}, {"normal", Kind::normal},     {"lognormal", Kind::lognormal},
    {"weibull", Kind::weibull},         {"gamma", Kind::gamma},       {"uniform", Kind::uniform},
    {"triangular", Kind::triangular},   {"empirical", Kind::empirical},
}};

std::string positive(const std::string& name) { return name + " must be a finite number > 0"; }
}  // namespace

std::optional<Kind> distribution_kind(std::string_view name) {
    for (const auto& [n, k] : kinds)
        if (n == name) return k;
    return std::nullopt;
}

std::string_view to_string(Kind kind) {
    for (const auto& [n, k] : kinds)
        if (k == kind) return n;
    return "?";
}

const std::vector<std::string>& param_names(Kind kind) {
    static const std::vector<std::string> exponential{"mean"}, normal{"mean", "sd"}, lognormal{"mu", "sigma"},
        shape_scale{"shape", "scale"}, uniform{"low", "high"}, triangular{"low", "mode", "high"}, none{};
    switch (kind) {
        case Kind::exponential: return exponential;
        case Kind::normal: return normal;
        case Kind::lognormal: return lognormal;
        case Kind::weibull:
        case Kind::gamma: return shape_scale;
        case Kind::uniform: return uniform;
        case Kind::triangular: return triangular;
        case Kind::empirical: return none;
    }
    return none;
}

std::optional<std::string> DistributionSpec::problem() const {
    const auto& names = param_names(kind);
    if (params.size() != names.size())
        return std::string(to_string(kind)) + " takes " + std::to_string(names.size()) + " parameters";
    for (std::size_t i = 0; i < params.size(); ++i)
        if (!std::isfinite(params[i])) return names[i] + " must be a finite number";
    if (kind != Kind::empirical && (!values.empty() || !weights.empty()))
        return "values and weights belong to the empirical distribution only";
    switch (kind) {
        case Kind::exponential:
            if (params[0] <= 0) return positive("mean");
            break;
        case Kind::normal:
            if (params[1] <= 0) return positive("sd");
            break;
        case Kind::lognormal:
            if (params[1] <= 0) return positive("sigma");
            break;
        case Kind::weibull:
        case Kind::gamma:
            if (params[0] <= 0) return positive("shape");
            if (params[1] <= 0) return positive("scale");
            break;
        case Kind::uniform:
            if (!(params[0] < params[1])) return std::string("low must be less than high");
            break;
        case Kind::triangular:
            if (!(params[0] < params[2])) return std::string("low must be less than high");
            if (params[1] < params[0] || params[1] > params[2]) return std::string("mode must lie in [low, high]");
            break;
        case Kind::empirical: {
            if (values.empty()) return std::string("values must hold at least one number");
            for (double v : values)
                if (!std::isfinite(v)) return std::string("values must be finite numbers");
            if (weights.empty()) break;
            if (weights.size() != values.size()) return std::string("weights must be as many as values");
            double sum = 0;
            for (double w : weights) {
                if (!std::isfinite(w) || w < 0) return std::string("weights must be finite numbers >= 0");
                sum += w;
            }
            if (sum <= 0) return std::string("weights must not all be zero");
            break;
        }
    }
    return std::nullopt;
}

double DistributionSpec::sample(kernel::RandomStream& r) const {
    switch (kind) {
        case Kind::exponential: return kernel::Exponential(params[0]).sample(r);
        case Kind::normal: return kernel::Normal(params[0], params[1]).sample(r);
        case Kind::lognormal: return kernel::LogNormal(params[0], params[1]).sample(r);
        case Kind::weibull: return kernel::Weibull(params[0], params[1]).sample(r);
        case Kind::gamma: return kernel::Gamma(params[0], params[1]).sample(r);
        case Kind::uniform: return kernel::Uniform(params[0], params[1]).sample(r);
        case Kind::triangular: return kernel::Triangular(params[0], params[1], params[2]).sample(r);
        case Kind::empirical: {
            const std::vector<double> w = weights.empty() ? std::vector<double>(values.size(), 1.0) : weights;
            return values[kernel::EmpiricalDiscrete(w).sample(r)];
        }
    }
    return 0.0;
}

}  // namespace twinsim::scenario
