#include "models/equipment/predicted_failures.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>

#include "models/generic/support.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/scenario/run.hpp"

namespace twinsim::models {

namespace {

using scenario::ModelParameter;
using scenario::ModelParameterError;

const std::array<ModelParameter, 3> declared{{
    ModelParameter{"cycle", "s", "the duration of one cycle (the RUL's unit) in simulated time, > 0", nullptr}.positive(),
    {"quantiles_property", "", "the Object property holding the RUL quantiles q01 ... q99 (cycles)", "rulQuantiles"},
    {"event", "", "the event delivered to the twin when it fails (handled by the availability behaviour)", "fail"},
}};

struct Config {
    std::optional<double> cycle;
    std::string quantiles_property;
    std::string event;
};

Config read(const scenario::Binding& binding, bool resolved) {
    scenario::ParameterReader reader(binding.parameters, declared);
    reader.finish();
    Config c;
    c.cycle = resolved ? std::optional<double>(reader.required_number("cycle", 0.0)) : reader.number("cycle", 0.0);
    c.quantiles_property = reader.string("quantiles_property");
    if (c.quantiles_property.empty()) throw ModelParameterError("quantiles_property", "expected a property name, found \"\"");
    c.event = reader.string("event");
    if (c.event.empty()) throw ModelParameterError("event", "expected an event name, found \"\"");
    return c;
}

struct FailureDue {
    std::uint32_t position;
};

class PredictedFailuresBehaviour final : public scenario::Behaviour {
public:
    PredictedFailuresBehaviour(const scenario::Binding& binding, const graph::Snapshot& graph, Config config,
                               scenario::Run& run)
        : twins_(binding.twins.begin(), binding.twins.end()), config_(std::move(config)) {
        for (const graph::TwinIndex t : twins_) {
            ids_.push_back(graph.twin_id(t));
            streams_.push_back(run.twin_stream(binding.index, t));
        }
    }

    void start(scenario::Run& run) override {
        kernel::Simulator& sim = run.simulator();
        type_ = sim.on<FailureDue>([this, &run](kernel::Simulator&, const FailureDue& e) { fail(run, e.position); });
        rul_.assign(twins_.size(), -1.0);
        for (std::size_t i = 0; i < twins_.size(); ++i) {
            const nlohmann::json twin = run.graph().get_twin(ids_[i]);
            const auto it = twin.find(config_.quantiles_property);
            std::array<double, 9> q{};
            bool complete = it != twin.end() && it->is_object();
            for (std::size_t k = 0; complete && k < q.size(); ++k) {
                const auto f = it->find(std::string(rul_quantile_names[k]));
                complete = f != it->end() && f->is_number() && std::isfinite(f->get<double>());
                if (complete) q[k] = f->get<double>();
            }
            if (!complete) {
                run.log_event(ids_[i], "prediction_missing", {{"property", config_.quantiles_property}});
                continue;
            }
            const double u = streams_[i].uniform01();
            rul_[i] = rul_from_quantiles(q, u);
            const double at = rul_[i] * *config_.cycle;
            if (at <= run.horizon()) sim.schedule(type_, at, FailureDue{static_cast<std::uint32_t>(i)});
        }
    }

private:
    void fail(scenario::Run& run, std::uint32_t i) {
        run.log_event(ids_[i], "predicted_failure", {{"rul_cycles", rul_[i]}, {"cycle_s", *config_.cycle}});
        if (!run.deliver(twins_[i], config_.event, {{"cause", "predicted"}, {"rulCycles", rul_[i]}}))
            throw Error(detail::twin_message("predicted_failures", ids_[i],
                                             "no behaviour handles the event \"" + config_.event +
                                                 "\" (bind availability to this twin)"));
    }

    std::vector<graph::TwinIndex> twins_;
    std::vector<std::string> ids_;
    std::vector<kernel::RandomStream> streams_;
    std::vector<double> rul_;
    Config config_;
    kernel::EventType<FailureDue> type_{};
};

}  // namespace

double rul_from_quantiles(std::span<const double> values, double u) {
    std::array<double, 11> p{}, q{};
    p[0] = 0.0;
    p[10] = 1.0;
    double running = -HUGE_VAL;
    for (std::size_t k = 0; k < 9; ++k) {
        p[k + 1] = rul_quantile_levels[k];
        running = std::max(running, values[k]);
        q[k + 1] = running;
    }
    // Linear extension to p = 0 and p = 1 with the slope of the outer segments.
    q[0] = q[1] - (q[2] - q[1]) * (p[1] - p[0]) / (p[2] - p[1]);
    q[10] = q[9] + (q[9] - q[8]) * (p[10] - p[9]) / (p[9] - p[8]);
    u = std::clamp(u, 0.0, 1.0);
    std::size_t k = 0;
    while (k + 2 < p.size() && u > p[k + 1]) ++k;
    const double f = (u - p[k]) / (p[k + 1] - p[k]);
    return std::max(0.0, q[k] + f * (q[k + 1] - q[k]));
}

std::string_view PredictedFailuresModel::description() const {
    return "Each degrading unit fails at a time drawn from its current RUL distribution (its rulQuantiles, in cycles "
           "of `cycle` seconds); the failure is delivered as a `fail` event, so `availability` fails the unit exactly "
           "as an injected failure and it propagates through the graph.";
}

std::span<const scenario::ModelParameter> PredictedFailuresModel::parameters() const { return declared; }

void PredictedFailuresModel::check(const scenario::Binding& binding) const { (void)read(binding, false); }

std::unique_ptr<scenario::Behaviour> PredictedFailuresModel::instantiate(const scenario::Binding& binding,
                                                                         scenario::Run& run) const {
    detail::require_ascending(binding);
    const graph::Snapshot& graph = detail::binding_graph(binding, &run.base());
    return std::make_unique<PredictedFailuresBehaviour>(binding, graph, read(binding, true), run);
}

}  // namespace twinsim::models
