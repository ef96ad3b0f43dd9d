#include "twinsim/scenario/prepared_scenario.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/query/expression.hpp"
#include "twinsim/scenario/detail/overrides.hpp"
#include "twinsim/scenario/detail/references.hpp"
#include "twinsim/scenario/detail/selection.hpp"
#include "twinsim/scenario/limits.hpp"

namespace twinsim::scenario {

namespace detail {

std::vector<graph::TwinIndex> select_twins(const graph::Snapshot& snapshot, const std::string& where) {
    std::vector<graph::TwinIndex> out;
    const auto twins = snapshot.twins();
    if (where.empty()) return twins;
    const query::CompiledExpression expr = query::compile_expression(where);
    query::Evaluator evaluator(expr, snapshot);
    std::unordered_map<dtdl::InterfaceIndex, std::optional<bool>> folded;
    for (const graph::TwinIndex t : twins) {
        const auto model = snapshot.twin_model(t);
        auto it = folded.find(model);
        if (it == folded.end()) it = folded.emplace(model, evaluator.fold_for_model(0, model)).first;
        if (it->second) {
            if (*it->second) out.push_back(t);
            continue;
        }
        const std::uint32_t row[1] = {t};
        if (evaluator.matches(row)) out.push_back(t);
    }
    return out;
}

}  // namespace detail

std::string cf_unit(std::string_view u) {
    static const std::pair<std::string_view, std::string_view> table[] = {
        {"", "1"},
        {"degreeCelsius", "degC"},
        {"degreeFahrenheit", "degF"},
        {"kelvin", "K"},
        {"watt", "W"},
        {"kilowatt", "kW"},
        {"megawatt", "MW"},
        {"horsepower", "hp"},
        {"kilowattHour", "kW h"},
        {"joule", "J"},
        {"kilojoule", "kJ"},
        {"second", "s"},
        {"minute", "min"},
        {"hour", "h"},
        {"day", "d"},
        {"percent", "%"},
        {"unity", "1"},
        {"metre", "m"},
        {"cubicMetre", "m3"},
        {"squareMetre", "m2"},
        {"litre", "L"},
        {"cubicMetrePerSecond", "m3 s-1"},
        {"litrePerSecond", "L s-1"},
        {"cubicMetrePerHour", "m3 h-1"},
        {"pascal", "Pa"},
        {"kilopascal", "kPa"},
        {"bar", "bar"},
        {"partsPerMillion", "ppm"},
        {"metrePerSecond", "m s-1"},
        {"revolutionPerMinute", "rpm"},
        {"hertz", "Hz"},
        {"volt", "V"},
        {"ampere", "A"},
        {"kilogram", "kg"},
    };
    for (const auto& [dtdl, cf] : table)
        if (dtdl == u) return std::string(cf);
    return std::string(u);
}

namespace {

std::string pointer_of(const std::string& section, std::size_t i, std::string_view key = {}) {
    std::string p = "/" + section + "/" + std::to_string(i);
    if (!key.empty()) p += "/" + std::string(key);
    return p;
}

std::string field_of(const std::string& section, std::size_t i, std::string_view key = {}) {
    std::string f = section + "[" + std::to_string(i) + "]";
    if (!key.empty()) f += "." + std::string(key);
    return f;
}

bool is_numeric(dtdl::ColumnType t) {
    return t == dtdl::ColumnType::float64 || t == dtdl::ColumnType::int64 || t == dtdl::ColumnType::boolean;
}

/// Twins of `twins` that declare `property`; checks that it is numeric where declared.
void resolve_property(const ScenarioSpec& spec, const graph::Snapshot& g, const std::vector<graph::TwinIndex>& selected,
                      const std::string& property, const std::string& pointer, const std::string& field,
                      std::vector<graph::TwinIndex>& twins, std::vector<std::string>& ids,
                      std::vector<std::uint32_t>& columns, std::string& model, std::string& unit) {
    for (const graph::TwinIndex t : selected) {
        const auto& iface = g.models()->at(g.twin_model(t));
        const dtdl::PropertySlot* slot = iface.layout.find(property);
        if (slot == nullptr) continue;
        if (!is_numeric(slot->type))
            throw spec_error(spec, pointer, field,
                             "property \"" + property + "\" of " + iface.definition->id + " is " +
                                 dtdl::to_string(slot->type) + ", not a number; only numeric properties can be recorded");
        if (model.empty()) {
            model = slot->declared_in;
            std::string u;
            if (slot->property != nullptr) u = slot->property->annotations.unit;
            unit = cf_unit(u);
        }
        twins.push_back(t);
        ids.push_back(g.twin_id(t));
        columns.push_back(slot->column);
    }
    if (twins.empty())
        throw spec_error(spec, pointer, field,
                         selected.empty() ? "the selection matches no twin"
                                          : "none of the " + std::to_string(selected.size()) +
                                                " selected twins has a property \"" + property + "\"");
}

}  // namespace

namespace {

/// The scenario's twins matching `where` ("" = all), a bad expression reported at `pointer`/`field`.
std::vector<graph::TwinIndex> select(const ScenarioSpec& spec, const graph::Snapshot& g, const std::string& where,
                                     const std::string& pointer, const std::string& field) {
    try {
        return detail::select_twins(g, where);
    } catch (const std::exception& x) {
        throw spec_error(spec, pointer, field, x.what());
    }
}

/// Step 1: the structural edits on a clone of the base (stamped with the start instant).
graph::Snapshot apply_edits(const ScenarioSpec& spec, const graph::Snapshot& base) {
    graph::TwinGraphOptions o;
    const Timestamp start = spec.start;
    o.clock = [start] { return start; };
    auto g = graph::TwinGraph::from_snapshot(base, o);
    for (std::size_t i = 0; i < spec.edits.size(); ++i) {
        const StructuralEdit& e = spec.edits[i];
        try {
            switch (e.kind) {
                case StructuralEdit::Kind::add_twin:
                    (void)g->upsert_twin(e.body.at("$dtId").get<std::string>(), e.body, {.if_match = {}, .if_none_match = true});
                    break;
                case StructuralEdit::Kind::remove_twin: g->delete_twin(e.twin_id, std::nullopt, /*cascade=*/true); break;
                case StructuralEdit::Kind::add_relationship: {
                    // The import-file form names the source and id inside the
                    // body; the graph takes them as arguments.
                    nlohmann::json body = e.body;
                    body.erase("$dtId");
                    body.erase("$relationshipId");
                    (void)g->upsert_relationship(e.body.at("$dtId").get<std::string>(),
                                                 e.body.at("$relationshipId").get<std::string>(), body,
                                                 {.if_match = {}, .if_none_match = true});
                    break;
                }
                case StructuralEdit::Kind::remove_relationship: g->delete_relationship(e.twin_id, e.relationship_id); break;
            }
        } catch (const ScenarioError&) {
            throw;
        } catch (const std::exception& x) {
            throw spec_error(spec, pointer_of("edits", i), field_of("edits", i), x.what());
        }
    }
    return g->snapshot();
}

/// The fixed parameters (sweep points were turned into fixed parameters by expand()).
nlohmann::json fixed_parameters(const ScenarioSpec& spec) {
    nlohmann::json out = nlohmann::json::object();
    for (const Parameter& p : spec.parameters)
        if (p.value) out[p.name] = *p.value;
    return out;
}

/// Step 2a: each model binding's behaviour model and twins.
void bind_models(PreparedScenario& out, const ModelRegistry& registry) {
    const ScenarioSpec& spec = out.spec;
    // The `behaviours:` section, or `models:` as the file names it.
    const std::string& section = spec.source.behaviours_section;
    const graph::Snapshot& g = out.graph;
    for (std::size_t i = 0; i < spec.models.size(); ++i) {
        const ModelBindingSpec& m = spec.models[i];
        BindingPlan plan;
        plan.model = registry.find(m.model);
        if (plan.model == nullptr) {
            std::string known;
            for (const auto* x : registry.list()) known += (known.empty() ? "" : ", ") + std::string(x->name());
            throw spec_error(spec, pointer_of(section, i, "model"), field_of(section, i, "model"),
                             "unknown model \"" + m.model + "\" (known: " + (known.empty() ? "none" : known) + ")");
        }
        plan.name = m.model;
        // Fixed parameters are substituted now; drawn ones stay "${name}" until the run.
        plan.parameters = m.parameters;
        // A model bound to a DTDL interface takes twins of that interface or of
        // one extending it; without `where` it takes all of them.
        const std::string iface(plan.model->interface());
        std::optional<dtdl::InterfaceIndex> iface_index;
        if (!iface.empty()) {
            iface_index = g.models()->find(iface);
            if (!iface_index)
                throw spec_error(spec, pointer_of(section, i, "model"), field_of(section, i, "model"),
                                 "model \"" + m.model + "\" binds to the DTDL interface " + iface +
                                     ", which the scenario's graph does not have (add its models, e.g. with `base_models:`)");
        }
        const std::string where = m.where.empty() && iface_index ? "IS_OF_MODEL('" + iface + "')" : m.where;
        plan.twins = select(spec, g, where, pointer_of(section, i, "where"), field_of(section, i, "where"));
        if (plan.twins.empty())
            throw spec_error(spec, pointer_of(section, i, "where"), field_of(section, i, "where"),
                             iface_index && m.where.empty() ? "no twin is of the interface " + iface : "the selection matches no twin");
        if (iface_index)
            for (const graph::TwinIndex t : plan.twins)
                if (!g.models()->is_a(g.twin_model(t), *iface_index))
                    throw spec_error(spec, pointer_of(section, i, "where"), field_of(section, i, "where"),
                                     "twin \"" + g.twin_id(t) + "\" is a " + g.models()->at(g.twin_model(t)).definition->id +
                                         ", but model \"" + m.model + "\" binds to " + iface + " and the interfaces that extend it");
        out.bindings.push_back(std::move(plan));
    }
}

/// Step 2b: random sub-stream keys: FNV-1a of "<model>#<k>" for the k-th
/// binding of that model (0 is left to the run's own sub-stream), made unique.
void assign_stream_keys(std::vector<BindingPlan>& bindings) {
    std::map<std::string, std::uint32_t> seen;
    std::set<std::uint32_t> used;
    for (BindingPlan& plan : bindings) {
        const std::string tag = plan.name + "#" + std::to_string(seen[plan.name]++);
        std::uint32_t h = 2166136261u;
        for (const char c : tag) h = (h ^ static_cast<std::uint8_t>(c)) * 16777619u;
        h &= 0x7fffffffu;  // stream ids are (key + 1) << 32 | twin
        while (!used.insert(h).second) h = (h + 1) & 0x7fffffffu;
        plan.stream_key = h;
    }
}

/// Step 2c: the bindings' processes, then each model checks its binding.
/// The models check their bindings against the graph with the overrides
/// whose values are known now (fixed or swept), so a negative capacity set
/// by an override is refused here rather than in every run.
void check_bindings(PreparedScenario& out) {
    const ScenarioSpec& spec = out.spec;
    const std::string& section = spec.source.behaviours_section;
    graph::Snapshot checked = out.graph;
    if (!spec.overrides.empty()) {
        graph::TwinGraphOptions o;
        const Timestamp start = spec.start;
        o.clock = [start] { return start; };
        auto scratch = graph::TwinGraph::from_snapshot(out.graph, o);
        detail::apply_overrides(*scratch, spec, out.fixed_parameters, /*known_only=*/true);
        checked = scratch->snapshot();
    }
    auto refuse = [&](std::size_t i, const std::exception& e) -> ScenarioError {
        if (const auto* x = dynamic_cast<const ModelParameterError*>(&e)) {
            const bool property = x->parameter().starts_with("properties.");  // a PropertyUse fixed by the model
            const std::string field = property ? x->parameter() : "parameters." + x->parameter();
            // "rules[2].when" -> "rules/2/when", so the line is the rule's own.
            std::string path;
            for (const char c : x->parameter()) {
                if (c == '[' || c == '.') path += '/';
                else if (c != ']') path += c;
            }
            return spec_error(spec, property ? pointer_of(section, i) : pointer_of(section, i, "parameters/" + path),
                              field_of(section, i, field), std::string(x->what()).substr(x->parameter().size() + 2));
        }
        return spec_error(spec, pointer_of(section, i), field_of(section, i), e.what());
    };
    // What check() sees of binding i (processes: set once they are all known).
    auto binding_of = [&](std::size_t i) {
        const BindingPlan& plan = out.bindings[i];
        Binding b;
        b.index = i;
        b.model = plan.name;
        b.parameters = plan.parameters;
        b.twins = plan.twins;
        b.graph = &checked;
        return b;
    };
    // The processes the bindings provide, so that models starting them by name can be checked.
    for (std::size_t i = 0; i < out.bindings.size(); ++i) {
        BindingPlan& plan = out.bindings[i];
        plan.parameters = detail::substitute_references(plan.parameters, out.fixed_parameters);
        try {
            for (std::string& name : plan.model->processes(binding_of(i))) out.processes.push_back(std::move(name));
        } catch (const std::exception& x) {
            throw refuse(i, x);
        }
    }
    std::sort(out.processes.begin(), out.processes.end());
    out.processes.erase(std::unique(out.processes.begin(), out.processes.end()), out.processes.end());
    for (std::size_t i = 0; i < out.bindings.size(); ++i) {
        const BindingPlan& plan = out.bindings[i];
        Binding b = binding_of(i);
        b.processes = &out.processes;
        try {
            for (const PropertyUse& use : plan.model->properties(b)) check_property_use(checked, b.twins, use);
            plan.model->check(b);
        } catch (const std::exception& x) {
            throw refuse(i, x);
        }
    }
}

/// Step 2d: the random events the bindings' rate parameters (a unit 1/s,
/// 1/min, 1/h or 1/d; a fixed or swept value, or the default) let one run
/// expect: rate x horizon x twins, summed over the bindings, within
/// limits::max_expected_events. A rate drawn per replication is not known yet.
void check_expected_events(const PreparedScenario& out) {
    const ScenarioSpec& spec = out.spec;
    const std::string& section = spec.source.behaviours_section;
    double total = 0.0;
    for (std::size_t i = 0; i < out.bindings.size(); ++i) {
        const BindingPlan& plan = out.bindings[i];
        for (const ModelParameter& p : plan.model->parameters()) {
            double per = 0.0;
            if (p.unit == "1/s") per = 1.0;
            else if (p.unit == "1/min") per = 60.0;
            else if (p.unit == "1/h") per = 3600.0;
            else if (p.unit == "1/d") per = 86400.0;
            else continue;
            const auto it = plan.parameters.find(p.name);
            const nlohmann::json& value = it != plan.parameters.end() ? *it : p.default_value;
            if (!value.is_number()) continue;
            const double events = value.get<double>() / per * spec.horizon * static_cast<double>(plan.twins.size());
            total += events;
            if (!(total <= limits::max_expected_events)) {
                std::ostringstream text;
                text << p.name << " = " << value.get<double>() << " " << p.unit << " over a horizon of " << spec.horizon
                     << " s and " << plan.twins.size() << " twin(s) makes about " << total
                     << " random events per run, more than " << limits::max_expected_events
                     << " (the limit on expected events per run)";
                throw spec_error(spec, pointer_of(section, i, "parameters/" + p.name),
                                 field_of(section, i, "parameters." + p.name), text.str());
            }
        }
    }
}

/// Step 3: injected events: the twin exists and a behaviour bound to it handles the event.
void resolve_injected_events(PreparedScenario& out) {
    const ScenarioSpec& spec = out.spec;
    for (std::size_t i = 0; i < spec.events.size(); ++i) {
        const InjectedEvent& e = spec.events[i];
        const auto twin = out.graph.find(e.twin);
        if (!twin)
            throw spec_error(spec, pointer_of("events", i, "twin"), field_of("events", i, "twin"),
                             "no twin \"" + e.twin + "\" in the scenario's graph");
        bool handled = false;
        for (const BindingPlan& plan : out.bindings) {
            if (!std::binary_search(plan.twins.begin(), plan.twins.end(), *twin)) continue;
            const auto names = plan.model->events();
            if (std::find(names.begin(), names.end(), e.event) != names.end()) handled = true;
        }
        if (!handled)
            throw spec_error(spec, pointer_of("events", i, "event"), field_of("events", i, "event"),
                             "no model bound to twin \"" + e.twin + "\" handles the event \"" + e.event +
                                 "\" (bind one in `models:`, e.g. `availability` for fail/repair)");
        out.event_twins.push_back(*twin);
    }
}

/// Step 4: override expressions compile (they are evaluated per replication).
void check_override_expressions(const ScenarioSpec& spec) {
    for (std::size_t i = 0; i < spec.overrides.size(); ++i) {
        try {
            if (!spec.overrides[i].where.empty()) (void)query::compile_expression(spec.overrides[i].where);
        } catch (const std::exception& x) {
            throw spec_error(spec, pointer_of("overrides", i, "where"), field_of("overrides", i, "where"), x.what());
        }
    }
}

/// Step 5: recorded series, named after their property ("#k" on a clash).
void plan_series(PreparedScenario& out) {
    const ScenarioSpec& spec = out.spec;
    const graph::Snapshot& g = out.graph;
    std::set<std::string> names;
    const double horizon = spec.horizon;
    for (std::size_t i = 0; i < spec.recording.series.size(); ++i) {
        const RecordSeries& r = spec.recording.series[i];
        const std::string ptr = "/recording/series/" + std::to_string(i);
        const std::string fld = "recording.series[" + std::to_string(i) + "]";
        const auto selected = select(spec, g, r.where, ptr + "/where", fld + ".where");
        for (std::size_t k = 0; k < r.properties.size(); ++k) {
            for (const bool change : {false, true}) {
                if (change ? !r.on_change : !r.interval) continue;
                SeriesPlan s;
                s.property = r.properties[k];
                s.on_change = change;
                resolve_property(spec, g, selected, s.property, ptr + "/properties/" + std::to_string(k),
                                 fld + ".properties[" + std::to_string(k) + "]", s.twins, s.twin_ids, s.columns, s.model, s.unit);
                std::string name = change ? s.property + ".changes" : s.property;
                if (!names.insert(name).second) {
                    int n = 2;
                    while (!names.insert(name + "#" + std::to_string(n)).second) ++n;
                    name += "#" + std::to_string(n);
                }
                s.name = name;
                if (!change) {
                    const double dt = *r.interval;
                    const auto steps = static_cast<std::uint64_t>(std::floor(horizon / dt * (1 + 1e-12)));
                    s.times.reserve(steps + 1);
                    for (std::uint64_t j = 0; j <= steps; ++j) s.times.push_back(static_cast<double>(j) * dt);
                }
                out.series.push_back(std::move(s));
            }
        }
    }
}

/// Step 6: KPIs, their twins and the unit of their value.
void plan_kpis(PreparedScenario& out) {
    const ScenarioSpec& spec = out.spec;
    const graph::Snapshot& g = out.graph;
    for (std::size_t i = 0; i < spec.kpis.size(); ++i) {
        const KpiSpec& k = spec.kpis[i];
        KpiPlan plan;
        plan.spec = k;
        const std::string ptr = "/kpis/" + std::to_string(i);
        const std::string fld = "kpis[" + std::to_string(i) + "]";
        if (k.statistic == KpiSpec::Statistic::event_count) {
            plan.unit = "1";
            // over: sum counts every event of the job (only those of the `where` twins
            // when given); any other `over` counts per twin, of the `where` twins or all.
            if (!k.where.empty() || k.over != KpiSpec::Over::sum)
                for (const graph::TwinIndex t : select(spec, g, k.where, ptr + "/where", fld + ".where")) {
                    plan.twins.push_back(t);
                    plan.twin_ids.push_back(g.twin_id(t));
                }
        } else {
            const auto selected = select(spec, g, k.where, ptr + "/where", fld + ".where");
            std::string model;
            std::string unit;
            resolve_property(spec, g, selected, k.property, ptr + "/property", fld + ".property", plan.twins,
                             plan.twin_ids, plan.columns, model, unit);
            switch (k.statistic) {
                case KpiSpec::Statistic::time_above:
                case KpiSpec::Statistic::time_below: plan.unit = "h"; break;
                case KpiSpec::Statistic::integral: plan.unit = unit == "1" ? "h" : unit + " h"; break;
                case KpiSpec::Statistic::excess_above:
                case KpiSpec::Statistic::excess_below:  // a temperature's excess is a difference: kelvin-hours
                    plan.unit = unit == "1" ? "h" : unit == "degC" || unit == "degF" ? "K h" : unit + " h";
                    break;
                default: plan.unit = unit;
            }
        }
        out.kpis.push_back(std::move(plan));
    }
}

std::string in_quotes(const std::string& text) { return "\"" + text + "\""; }

/// The history a replay reads: the one the front end loaded, else its
/// `source` as an HDF5 history file.
std::shared_ptr<const RecordedHistory> replay_history(const ScenarioSpec& spec) {
    const ReplaySpec& r = *spec.replay;
    if (r.loaded.history) return r.loaded.history;
    if (r.source.empty())
        throw spec_error(spec, "/replay", "replay",
                         "no recorded history: give 'source' (an HDF5 history file or a store directory) or run with "
                         "--store DIR");
    std::error_code ec;
    if (std::filesystem::is_directory(r.source, ec))
        throw spec_error(spec, "/replay/source", "replay.source",
                         in_quotes(r.source) + " is a folder: a live store is opened by the front end (twinsim run, "
                                               "Python), which loads its history; prepare() reads HDF5 history files");
    try {
        return std::make_shared<const RecordedHistory>(RecordedHistory::read_file(r.source));
    } catch (const Error& e) {
        throw spec_error(spec, "/replay/source", "replay.source", e.what());
    }
}

/// The instants a replay samples its inputs at, for writes at steps 0..n:
/// step k >= 1 integrates ((k-1) dt, k dt]: step interpolation takes the value
/// held just before k dt (before_instant), linear the value at the midpoint.
std::vector<double> replay_values(const RecordedHistory& h, const std::string& twin, const std::string& key,
                                  const ScenarioSpec& spec, std::uint64_t steps, Interpolation how, const GapPolicy& gaps) {
    const double dt = spec.step;
    std::vector<double> times(steps);
    for (std::uint64_t k = 1; k <= steps; ++k)
        times[k - 1] = how == Interpolation::step ? static_cast<double>(k) * dt : (static_cast<double>(k) - 0.5) * dt;
    std::vector<double> out;
    const std::vector<double> first = resample(h, twin, key, spec.start, std::vector<double>{0.0}, how, gaps);
    std::vector<double> rest = resample(h, twin, key, spec.start, times, how, gaps, how == Interpolation::step);
    out.reserve(steps + 1);
    out.push_back(first[0]);
    out.insert(out.end(), rest.begin(), rest.end());
    return out;
}

std::string replay_pointer(std::size_t i, const char* key = nullptr) {
    return "/replay/inputs/" + std::to_string(i) + (key ? "/" + std::string(key) : std::string());
}
std::string replay_field(std::size_t i, const char* key = nullptr) {
    return "replay.inputs[" + std::to_string(i) + "]" + (key ? "." + std::string(key) : std::string());
}

/// Replay, part 1 (before the bindings are checked): inputs that drive a
/// behaviour's series parameter become that parameter, [[seconds, value], ...]
/// at every step instant (instants without a usable value left out).
void plan_replay_parameters(PreparedScenario& out, const RecordedHistory& h, std::uint64_t steps) {
    ScenarioSpec& spec = out.spec;
    const ReplaySpec& r = *spec.replay;
    for (std::size_t i = 0; i < r.inputs.size(); ++i) {
        const ReplayInput& in = r.inputs[i];
        if (in.to_behaviour.empty()) continue;
        auto binding = std::find_if(spec.models.begin(), spec.models.end(),
                                    [&](const ModelBindingSpec& b) { return b.model == in.to_behaviour; });
        if (binding == spec.models.end())
            throw spec_error(spec, replay_pointer(i, "to"), replay_field(i, "to.behaviour"),
                             "no behaviour of model " + in_quotes(in.to_behaviour) + " in the scenario");
        if (!out.graph.contains(in.twin))
            throw spec_error(spec, replay_pointer(i, "twin"), replay_field(i, "twin"),
                             "twin " + in_quotes(in.twin) + " is not in the scenario's graph");
        std::vector<double> v;
        try {
            check_history_graph(h, out.graph, std::vector<std::string>{in.twin});
            GapPolicy gaps{in.max_gap.value_or(r.gaps.max_gap), in.on_gap.value_or(r.gaps.action)};
            const Interpolation how = in.interpolation.value_or(r.interpolation);
            // A model interpolates its own series: give it the values at the step instants.
            std::vector<double> times(steps + 1);
            for (std::uint64_t k = 0; k <= steps; ++k) times[k] = static_cast<double>(k) * spec.step;
            v = resample(h, in.twin, in.property, spec.start, times, how, gaps);
        } catch (const RecordedInputError& e) {
            throw spec_error(spec, replay_pointer(i), replay_field(i), e.what());
        }
        nlohmann::json series = nlohmann::json::array();
        for (std::uint64_t k = 0; k <= steps; ++k)
            if (!std::isnan(v[k])) series.push_back({static_cast<double>(k) * spec.step, v[k]});
        if (!series.empty()) binding->parameters[in.to_parameter] = std::move(series);
    }
}

/// Replay, part 2: the properties the inputs drive, and the recorded twins of
/// the interval series (modelled vs recorded).
void plan_replay(PreparedScenario& out, const RecordedHistory& h, std::uint64_t steps) {
    const ScenarioSpec& spec = out.spec;
    const ReplaySpec& r = *spec.replay;
    const graph::Snapshot& g = out.graph;
    auto plan = std::make_shared<ReplayPlan>();
    plan->step = spec.step;
    plan->source = h.source();
    std::set<std::pair<graph::TwinIndex, std::uint32_t>> driven;
    for (std::size_t i = 0; i < r.inputs.size(); ++i) {
        const ReplayInput& in = r.inputs[i];
        if (!in.to_behaviour.empty()) continue;
        std::vector<std::string> sources;
        if (!in.twin.empty()) {
            sources.push_back(in.twin);
        } else {
            for (const graph::TwinIndex t : select(spec, g, in.where, replay_pointer(i, "where"), replay_field(i, "where")))
                sources.push_back(g.twin_id(t));
        }
        const std::string property = in.to_property.empty() ? in.property : in.to_property;
        const GapPolicy gaps{in.max_gap.value_or(r.gaps.max_gap), in.on_gap.value_or(r.gaps.action)};
        const Interpolation how = in.interpolation.value_or(r.interpolation);
        try {
            check_history_graph(h, g, sources);
        } catch (const RecordedInputError& e) {
            throw spec_error(spec, replay_pointer(i), replay_field(i), e.what());
        }
        for (const std::string& source : sources) {
            const std::string& target_id = in.to_twin.empty() ? source : in.to_twin;
            const auto target = g.find(target_id);
            if (!target)
                throw spec_error(spec, replay_pointer(i, "to"), replay_field(i, "to.twin"),
                                 "twin " + in_quotes(target_id) + " is not in the scenario's graph");
            ReplayTarget t;
            t.twin = *target;
            t.twin_id = target_id;
            t.property = property;
            try {
                const graph::TwinIndex one[] = {*target};
                t.column = numeric_columns(g, one, property, "to.property").front();
            } catch (const ModelParameterError& e) {
                throw spec_error(spec, replay_pointer(i), replay_field(i),
                                 "twin " + in_quotes(target_id) + ": " + std::string(e.what()));
            }
            if (!driven.insert({t.twin, t.column}).second)
                throw spec_error(spec, replay_pointer(i), replay_field(i),
                                 in_quotes(target_id + "." + property) + " is driven by an earlier input already");
            // A straight line between two counts or two states is neither: refuse it before reading the record.
            if (how == Interpolation::linear) {
                const auto& model = g.models()->at(g.twin_model(t.twin));
                const dtdl::PropertySlot* slot = model.layout.find(property);
                if (slot != nullptr && slot->type != dtdl::ColumnType::float64)
                    throw spec_error(spec, replay_pointer(i, "interpolation"), replay_field(i, "interpolation"),
                                     "twin " + in_quotes(target_id) + ": property " + in_quotes(property) + " of " +
                                         model.definition->id + " is " +
                                         (slot->type == dtdl::ColumnType::boolean ? "a boolean" : "an integer") +
                                         ": linear interpolation would write values between two recorded ones "
                                         "that it cannot hold; use interpolation: step");
            }
            std::vector<double> v;
            try {
                v = replay_values(h, source, in.property, spec, steps, how, gaps);
            } catch (const RecordedInputError& e) {
                throw spec_error(spec, replay_pointer(i), replay_field(i), e.what());
            }
            for (std::uint64_t k = 0; k < v.size(); ++k) {
                const bool same = !t.values.empty() && (t.values.back() == v[k] ||
                                                        (std::isnan(t.values.back()) && std::isnan(v[k])));
                if (same) continue;
                t.steps.push_back(k);
                t.values.push_back(v[k]);
            }
            plan->targets.push_back(std::move(t));
        }
    }
    out.replay = std::move(plan);
    if (!r.compare) return;
    // Modelled vs recorded: "<property>.recorded" beside every interval series
    // whose property the history holds for at least one of its twins.
    const std::size_t planned = out.series.size();
    for (std::size_t s = 0; s < planned; ++s) {
        const SeriesPlan& p = out.series[s];
        if (p.on_change) continue;
        bool any = false;
        for (const std::string& id : p.twin_ids) any = any || h.find(id, p.property) != nullptr;
        if (!any) continue;
        auto values = std::make_shared<std::vector<double>>(p.times.size() * p.twins.size(),
                                                            std::numeric_limits<double>::quiet_NaN());
        GapPolicy lenient;
        lenient.action = GapAction::model;  // a comparison skips what was not recorded
        for (std::size_t n = 0; n < p.twin_ids.size(); ++n) {
            if (h.find(p.twin_ids[n], p.property) == nullptr) continue;
            const std::vector<double> v =
                resample(h, p.twin_ids[n], p.property, spec.start, p.times, Interpolation::step, lenient);
            for (std::size_t k = 0; k < v.size(); ++k) (*values)[k * p.twins.size() + n] = v[k];
        }
        SeriesPlan rec = p;
        rec.name = p.name + ".recorded";
        rec.recorded = std::move(values);
        out.series.push_back(std::move(rec));
    }
}

}  // namespace

std::shared_ptr<const PreparedScenario> prepare(const ScenarioSpec& spec, const graph::Snapshot& base,
                                                const ModelRegistry& registry, std::uint32_t index) {
    if (spec.sweep) throw spec_error(spec, "/sweep", "sweep", "prepare() takes one concrete scenario: expand() the sweep first");
    check_limits(spec);
    auto out = std::make_shared<PreparedScenario>();
    out->spec = spec;
    out->index = index;
    out->base = base;
    out->graph = apply_edits(spec, base);
    out->fixed_parameters = fixed_parameters(spec);
    std::shared_ptr<const RecordedHistory> history;
    const auto replay_steps = static_cast<std::uint64_t>(std::floor(spec.horizon / spec.step * (1 + 1e-12)));
    if (spec.replay) {
        history = replay_history(spec);
        plan_replay_parameters(*out, *history, replay_steps);
    }
    bind_models(*out, registry);
    assign_stream_keys(out->bindings);
    check_bindings(*out);
    check_expected_events(*out);
    resolve_injected_events(*out);
    check_override_expressions(spec);
    plan_series(*out);
    if (history) plan_replay(*out, *history, replay_steps);
    plan_kpis(*out);
    return out;
}

}  // namespace twinsim::scenario
