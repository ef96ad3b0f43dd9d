#include "models/rules/rules.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/generic/support.hpp"
#include "models/rules/rule_set.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/query/expression.hpp"
#include "twinsim/query/parser.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

namespace twinsim::models {

namespace {

using nlohmann::json;
using scenario::ModelParameter;
using scenario::ModelParameterError;
using namespace rules;

const std::array<ModelParameter, 1> declared{{
    {"rules", "",
     "the list of rules: condition rules {name, when, for, then} and propagation rules {name, relationship, "
     "direction, aggregate, source_property, target_property, target, where, log} (models/rules/rules.md)",
     nullptr},
}};

/// Evaluation passes allowed at one instant before the run is failed (rules
/// that keep re-triggering each other never settle).
constexpr std::uint32_t max_rounds_per_instant = 1000;


std::vector<Rule> read(const scenario::Binding& binding, const graph::Snapshot& g, bool resolved) {
    scenario::ParameterReader reader(binding.parameters, declared);
    reader.finish();
    return rules::read_rules(reader.raw("rules"), g, binding.twins, {.resolved = resolved, .processes = binding.processes});
}

// --- the behaviour -------------------------------------------------------------

struct RuleTimer {
    std::uint32_t rule;
    std::uint32_t position;
};
struct EvaluateTick {
    std::uint32_t pad;
};

class RulesBehaviour final : public scenario::Behaviour {
public:
    RulesBehaviour(const scenario::Binding& binding, const graph::Snapshot& g, std::vector<Rule> rules)
        : twins_(binding.twins.begin(), binding.twins.end()), rules_(std::move(rules)) {
        ids_.reserve(twins_.size());
        for (const graph::TwinIndex t : twins_) ids_.push_back(g.twin_id(t));
        states_.resize(rules_.size());
        flags_.resize(rules_.size());
        // What each (rule, twin) reads: (twin, column) -> items to re-evaluate.
        for (std::uint32_t r = 0; r < rules_.size(); ++r) {
            const Rule& rule = rules_[r];
            if (!rule.propagation) {
                states_[r].resize(twins_.size());
                flags_[r].assign(twins_.size(), 0);
                const auto names = rule.when.twin_property_names();
                for (std::uint32_t n = 0; n < twins_.size(); ++n) watch_names(g, twins_[n], names, r, n);
                continue;
            }
            flags_[r].assign(rule.targets.size(), 0);
            const auto where_names = rule.where ? rule.where->twin_property_names() : std::vector<std::string>{};
            for (std::uint32_t k = 0; k < rule.targets.size(); ++k)
                for (const Source& s : rule.targets[k].sources) {
                    if (s.column) watches_[key(s.twin, *s.column)].push_back({r, k});
                    watch_names(g, s.twin, where_names, r, k);
                }
        }
    }

    void start(scenario::Run& run) override {
        run_ = &run;
        kernel::Simulator& sim = run.simulator();
        timer_type_ = sim.on<RuleTimer>([this](kernel::Simulator&, const RuleTimer& t) {
            CondState& st = states_[t.rule][t.position];
            if (st.holds) fire(t.rule, t.position);
        });
        evaluate_type_ = sim.on<EvaluateTick>([this](kernel::Simulator&, const EvaluateTick&) { evaluate(); });
        run.on_write([this](graph::TwinIndex twin, std::uint32_t column) {
            const auto it = watches_.find(key(twin, column));
            if (it == watches_.end()) return;
            for (const Item& item : it->second) mark(item);
        });
        // Everything is evaluated once at the start, after every behaviour has started.
        for (std::uint32_t r = 0; r < rules_.size(); ++r)
            for (std::uint32_t n = 0; n < flags_[r].size(); ++n) mark({r, n});
    }

    [[nodiscard]] const RulesStatistics& statistics() const noexcept { return stats_; }

private:
    struct Item {
        std::uint32_t rule;
        std::uint32_t position;  ///< twin (condition rule) or target (propagation rule)
        bool operator<(const Item& o) const noexcept { return rule != o.rule ? rule < o.rule : position < o.position; }
    };
    struct CondState {
        bool holds = false;
        double since = 0.0;
        kernel::EventHandle timer;
    };

    static std::uint64_t key(graph::TwinIndex t, std::uint32_t column) { return (std::uint64_t{t} << 32) | column; }

    void watch_names(const graph::Snapshot& g, graph::TwinIndex twin, const std::vector<std::string>& names,
                     std::uint32_t rule, std::uint32_t position) {
        const auto& layout = g.models()->at(g.twin_model(twin)).layout;
        for (const std::string& name : names)
            if (const dtdl::PropertySlot* slot = layout.find(name)) {
                auto& items = watches_[key(twin, slot->column)];
                if (items.empty() || items.back().rule != rule || items.back().position != position)
                    items.push_back({rule, position});
            }
    }

    void mark(const Item& item) {
        std::uint8_t& flag = flags_[item.rule][item.position];
        if (flag != 0) return;
        flag = 1;
        dirty_.push_back(item);
        if (!evaluation_pending_) {
            evaluation_pending_ = true;
            // Before every other event of this instant: the rules see a change
            // right after the event that made it.
            (void)run_->simulator().schedule(evaluate_type_, 0.0, EvaluateTick{0}, kernel::min_priority);
        }
    }

    void evaluate() {
        evaluation_pending_ = false;
        kernel::Simulator& sim = run_->simulator();
        const double now = sim.now();
        if (now == round_time_) {
            if (++rounds_ > max_rounds_per_instant)
                throw Error("rules: the rules did not settle at t = " + std::to_string(now) + " s after " +
                            std::to_string(max_rounds_per_instant) +
                            " evaluation rounds (rules that keep re-triggering each other?)");
        } else {
            round_time_ = now;
            rounds_ = 1;
        }
        std::vector<Item> items = std::move(dirty_);
        dirty_.clear();
        for (const Item& i : items) flags_[i.rule][i.position] = 0;
        std::sort(items.begin(), items.end());

        // Rules in the order listed: a propagated value is visible to the
        // rules after it in the same pass; condition rules fire at the end of
        // the pass, in (rule, twin) order.
        std::optional<graph::Snapshot> snap;
        std::vector<Item> fire_now;
        for (std::size_t first = 0; first < items.size();) {
            const std::uint32_t r = items[first].rule;
            std::size_t last = first;
            while (last < items.size() && items[last].rule == r) ++last;
            const std::span<const Item> group(items.data() + first, last - first);
            first = last;
            if (!snap) snap = run_->snapshot();
            const Rule& rule = rules_[r];
            if (!rule.propagation) {
                query::Evaluator ev(rule.when, *snap);
                for (const Item& item : group) {
                    ++stats_.evaluations;
                    const std::array<std::uint32_t, 1> row{twins_[item.position]};
                    const bool holds = ev.test(row) == query::Truth::true_;
                    CondState& st = states_[r][item.position];
                    if (holds == st.holds) continue;
                    st.holds = holds;
                    if (holds) {
                        st.since = now;
                        if (rule.for_s && *rule.for_s > 0.0)
                            st.timer = sim.schedule(timer_type_, *rule.for_s, RuleTimer{r, item.position});
                        else
                            fire_now.push_back(item);
                    } else {
                        (void)sim.cancel(st.timer);
                    }
                }
                continue;
            }
            if (propagate(rule, group, *snap)) snap.reset();
        }
        for (const Item& item : fire_now) fire(item.rule, item.position);
    }

    /// Recomputes the targets of one propagation rule; returns whether it wrote.
    bool propagate(const Rule& rule, std::span<const Item> group, const graph::Snapshot& snap) {
        std::optional<query::Evaluator> where;
        if (rule.where) where.emplace(*rule.where, snap);
        std::vector<graph::PropertyWrite> writes;
        std::vector<const Target*> removals;
        std::vector<std::pair<const Target*, std::optional<double>>> logged;
        for (const Item& item : group) {
            ++stats_.recomputations;
            const Target& tg = rule.targets[item.position];
            const std::optional<double> v = target_value(rule, tg, snap, where ? &*where : nullptr);
            if (v == snap.numeric_value(tg.twin, tg.column)) continue;
            ++stats_.propagated;
            if (v)
                writes.push_back({tg.twin, tg.column, *v, std::nullopt});
            else
                removals.push_back(&tg);
            if (rule.log) logged.emplace_back(&tg, v);
        }
        where.reset();
        if (!writes.empty()) {
            try {
                run_->write(writes);
            } catch (const std::exception& x) {
                throw Error(message(rule, snap.twin_id(writes.front().twin), x.what()));
            }
        }
        for (const Target* tg : removals) {
            try {
                run_->update_twin(tg->id, json::array({{{"op", "remove"}, {"path", "/" + rule.target_property}}}));
            } catch (const std::exception& x) {
                throw Error(message(rule, tg->id, x.what()));
            }
        }
        for (const auto& [tg, v] : logged)
            run_->log_event(tg->id, "rule",
                            {{"rule", rule.name},
                             {"aggregate", aggregate_names[static_cast<std::size_t>(rule.aggregate)]},
                             {"property", rule.target_property},
                             {"value", v ? json(*v) : json()}});
        return !writes.empty() || !removals.empty();
    }

    static std::string message(const Rule& rule, const std::string& twin, std::string_view what) {
        return "rules: rule \"" + rule.name + "\" (" + rule.path + "): twin \"" + twin + "\": " + std::string(what);
    }

    void fire(std::uint32_t r, std::uint32_t position) {
        const Rule& rule = rules_[r];
        const graph::TwinIndex twin = twins_[position];
        const std::string& id = ids_[position];
        const CondState& st = states_[r][position];
        ++stats_.firings;
        json detail = {{"rule", rule.name}, {"when", rule.when_text}};
        if (rule.for_s) {
            detail["for_s"] = *rule.for_s;
            detail["since"] = st.since;
        }
        run_->log_event(id, "rule", std::move(detail));
        for (const Action& a : rule.then) {
            switch (a.kind) {
                case ActionKind::set: {
                    const graph::Snapshot snap = run_->snapshot();
                    const json patch = set_patch(a, twin, snap);
                    if (patch.empty()) break;
                    for (const graph::TwinIndex t : action_twins(a, twin, snap)) {
                        const std::string& target = t == twin ? id : snap.twin_id(t);
                        try {
                            run_->update_twin(target, patch);
                        } catch (const std::exception& x) {
                            throw Error(message(rule, id, (t == twin ? "" : "on \"" + target + "\": ") + "set: " + x.what()));
                        }
                    }
                    break;
                }
                case ActionKind::fail:
                case ActionKind::restore: {
                    const char* event = a.kind == ActionKind::fail ? "fail" : "repair";
                    if (!run_->deliver(twin, event, a.data))
                        throw Error(message(rule, id, std::string("no behaviour bound to the twin handled the event \"") + event +
                                                          "\" (bind the availability model to it)"));
                    break;
                }
                case ActionKind::alarm: {
                    const graph::Snapshot snap = run_->snapshot();
                    for (const graph::TwinIndex t : action_twins(a, twin, snap)) {
                        const std::string& target = t == twin ? id : snap.twin_id(t);
                        run_->log_event(target, "alarm", {{"rule", rule.name}, {"text", a.text}});
                        if (a.property.empty()) continue;
                        try {
                            run_->update_twin(target, alarm_patch(a));
                        } catch (const std::exception& x) {
                            throw Error(message(rule, id, "alarm on \"" + target + "\": " + x.what()));
                        }
                    }
                    break;
                }
                case ActionKind::start:
                    try {
                        run_->start_process(a.text, {{"rule", rule.name}, {"twin", id}});
                    } catch (const std::exception& x) {
                        throw Error(message(rule, id, std::string("start: ") + x.what()));
                    }
                    break;
            }
        }
    }

    std::vector<graph::TwinIndex> twins_;
    std::vector<std::string> ids_;
    std::vector<Rule> rules_;
    std::vector<std::vector<CondState>> states_;       ///< per condition rule, per twin
    std::vector<std::vector<std::uint8_t>> flags_;     ///< dirty flags per rule, per twin / target
    std::unordered_map<std::uint64_t, std::vector<Item>> watches_;
    std::vector<Item> dirty_;
    bool evaluation_pending_ = false;
    double round_time_ = -1.0;
    std::uint32_t rounds_ = 0;
    scenario::Run* run_ = nullptr;
    kernel::EventType<RuleTimer> timer_type_{};
    kernel::EventType<EvaluateTick> evaluate_type_{};
    RulesStatistics stats_;
};

}  // namespace

std::string_view RulesModel::description() const {
    return "Declarative business rules: `when <expression> [for <duration>] then <actions>` (set properties, fail or "
           "restore the twin, raise an alarm) and propagation of aggregates (mean, min, max, sum, count, all, any) "
           "along relationships; evaluated incrementally when a property a rule reads changes.";
}

std::span<const scenario::ModelParameter> RulesModel::parameters() const { return declared; }

void RulesModel::check(const scenario::Binding& binding) const { (void)read(binding, detail::binding_graph(binding), false); }

std::unique_ptr<scenario::Behaviour> RulesModel::instantiate(const scenario::Binding& binding, scenario::Run& run) const {
    detail::require_ascending(binding);
    const graph::Snapshot& g = detail::binding_graph(binding, &run.base());
    return std::make_unique<RulesBehaviour>(binding, g, read(binding, g, true));
}

std::optional<RulesStatistics> rules_statistics(const scenario::Behaviour& behaviour) {
    const auto* b = dynamic_cast<const RulesBehaviour*>(&behaviour);
    if (b == nullptr) return std::nullopt;
    return b->statistics();
}

}  // namespace twinsim::models
