// The what-if engine's compiled half, behind python/twinsim/scenario.py
// (twinsim.Scenario, twinsim.run, twinsim.Run): the private classes
// _ScenarioSpec (scenario::ScenarioSpec), _PreparedScenario and _Run, the
// functions _prepare_job, _run_job and _compare_results (behind
// twinsim.Results.compare), and twinsim.ScenarioError.
//
// GIL: reading a scenario file, preparing scenarios, running a job and
// advancing a Run all release it. run_job's progress callback runs on the
// thread that called _run_job (the runner's contract); it takes the GIL back
// only to call PyErr_CheckSignals() and the Python progress callable. A
// pending signal (Ctrl-C: KeyboardInterrupt) or an exception of the callable
// makes it return false, so the runner cancels (no results file is left) and
// _run_job raises that exception.
//
// Behaviour models: the built-in registry (models/builtin.hpp).

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "document_arguments.hpp"
#include "json_conversion.hpp"
#include "models/building/calibration.hpp"
#include "models/building/cop_calibration.hpp"
#include "models/builtin.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/graph/snapshot.hpp"
#include "twinsim/io/merge.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/scenario/compare.hpp"
#include "twinsim/scenario/errors.hpp"
#include "twinsim/scenario/input_paths.hpp"
#include "twinsim/scenario/limits.hpp"
#include "twinsim/common/guideline14.hpp"
#include "twinsim/live/history.hpp"
#include "twinsim/live/replay_window.hpp"
#include "twinsim/scenario/compare_recorded.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/scenario/prepared_scenario.hpp"
#include "twinsim/scenario/plan.hpp"
#include "twinsim/scenario/precision.hpp"
#include "twinsim/scenario/recorded_input.hpp"
#include "twinsim/scenario/resume.hpp"
#include "twinsim/scenario/run.hpp"
#include "twinsim/scenario/runner.hpp"
#include "twinsim/scenario/scenario_reading.hpp"
#include "twinsim/scenario/scenario_spec.hpp"
#include "twinsim/scenario/select.hpp"
#include "twinsim/scenario/sweep.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

/// A table of records as a dict of column lists: columns(rows, std::pair{"name", &Row::name}, ...).
template <class Row, class... T>
py::dict columns(const std::vector<Row>& rows, const std::pair<const char*, T Row::*>&... fields) {
    py::dict out;
    (
        [&] {
            py::list column;
            for (const Row& row : rows) column.append(row.*(fields.second));
            out[fields.first] = column;
        }(),
        ...);
    return out;
}

using scenario::ScenarioSpec;

PyObject* scenario_error = nullptr;  // owned by the module too (see errors_bindings.cpp)

/// Sets twinsim.ScenarioError(message) with .file, .line, .field (None when
/// unknown) and .reason as the pending exception.
void raise_scenario_error(const scenario::ScenarioError& e) {
    py::object instance = py::reinterpret_borrow<py::object>(scenario_error)(e.what());
    instance.attr("file") = e.file().empty() ? py::object(py::none()) : py::object(py::str(e.file()));
    instance.attr("line") = e.line() == 0 ? py::object(py::none()) : py::object(py::int_(e.line()));
    instance.attr("field") = e.field().empty() ? py::object(py::none()) : py::object(py::str(e.field()));
    instance.attr("reason") = py::str(e.reason());
    PyErr_SetObject(scenario_error, instance.ptr());
}

// --- Python -> ordered JSON (key order matters: sweep names, parameter order) -------

nlohmann::ordered_json to_ordered(py::handle value) {
    if (py::isinstance<py::dict>(value)) {
        nlohmann::ordered_json object = nlohmann::ordered_json::object();
        for (const auto& [key, item] : py::reinterpret_borrow<py::dict>(value)) {
            if (!py::isinstance<py::str>(key))
                throw py::type_error("scenario keys must be str, not " +
                                     py::str(py::type::handle_of(key).attr("__name__")).cast<std::string>() + " (" +
                                     py::repr(key).cast<std::string>() + ")");
            object[key.cast<std::string>()] = to_ordered(item);
        }
        return object;
    }
    if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
        nlohmann::ordered_json array = nlohmann::ordered_json::array();
        for (const py::handle item : value) array.push_back(to_ordered(item));
        return array;
    }
    return nlohmann::ordered_json(to_json(value));  // scalars, numpy values (json_conversion.hpp)
}

// --- wrappers -----------------------------------------------------------------------

/// A prepared scenario (shared, immutable): pybind11 holders cannot hold a
/// pointer to const, so it is boxed.
struct Prepared {
    std::shared_ptr<const scenario::PreparedScenario> scenario;
};

/// The job's scenarios, each with its own base snapshot: sweeps expanded,
/// numbered 0, 1, ... in order, names unique (as scenario::prepare_all, which
/// takes one base for all).
std::vector<Prepared> prepare_job(const std::vector<ScenarioSpec>& specs, const std::vector<graph::Snapshot>& bases) {
    if (specs.size() != bases.size()) throw py::value_error("_prepare_job: one base per scenario");
    std::vector<Prepared> out;
    py::gil_scoped_release release;
    const scenario::ModelRegistry& registry = models::builtin_registry();
    std::set<std::string> names;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        for (ScenarioSpec& concrete : scenario::expand(specs[i])) {
            if (!names.insert(concrete.name).second)
                throw scenario::spec_error(specs[i], "/name", "name",
                                           "two scenarios of the job are named \"" + concrete.name + "\"");
            const auto index = static_cast<std::uint32_t>(out.size());
            out.push_back({scenario::prepare(concrete, bases[i], registry, index)});
        }
    }
    return out;
}

/// What the progress callback carries back to the calling thread.
struct CallbackState {
    py::object callable;       // None: only check for signals
    std::exception_ptr error;  // KeyboardInterrupt, or what the callable raised
};

py::dict progress_dict(const scenario::Progress& p) {
    return py::dict(py::arg("runs_done") = p.runs_done, py::arg("runs_total") = p.runs_total,
                    py::arg("runs_failed") = p.runs_failed, py::arg("fraction") = p.fraction(),
                    py::arg("simulated_seconds") = p.simulated_seconds,
                    py::arg("simulated_seconds_total") = p.simulated_seconds_total, py::arg("events") = p.events,
                    py::arg("elapsed_seconds") = p.elapsed_seconds,
                    py::arg("events_per_second") = p.events_per_second());
}

/// The KPI summaries and failures of a job as the dict _run_job returns.
py::dict job_dict(const scenario::JobResult& result) {
    py::list failures;
    for (const scenario::RunFailure& f : result.failures)
        failures.append(py::make_tuple(f.scenario, f.replication, f.message));
    using K = scenario::KpiSummary;
    const py::dict kpis = columns(result.kpis, std::pair{"scenario", &K::scenario}, std::pair{"name", &K::name},
                                  std::pair{"selection", &K::selection}, std::pair{"statistic", &K::statistic},
                                  std::pair{"unit", &K::unit}, std::pair{"n", &K::n}, std::pair{"mean", &K::mean},
                                  std::pair{"std", &K::std}, std::pair{"ci95_low", &K::ci95_low},
                                  std::pair{"ci95_high", &K::ci95_high}, std::pair{"p50", &K::p50},
                                  std::pair{"p90", &K::p90}, std::pair{"p95", &K::p95});
    return py::dict(py::arg("path") = result.path.empty() ? py::object(py::none()) : py::object(py::str(result.path.string())),
                    py::arg("failures") = failures, py::arg("kpis") = kpis,
                    py::arg("progress") = progress_dict(result.progress));
}

std::vector<std::shared_ptr<const scenario::PreparedScenario>> unboxed(const std::vector<Prepared>& prepared) {
    std::vector<std::shared_ptr<const scenario::PreparedScenario>> scenarios;
    scenarios.reserve(prepared.size());
    for (const Prepared& p : prepared) scenarios.push_back(p.scenario);
    return scenarios;
}

/// _run_job's options beyond the common ones: a batch of a distributed job
/// (tasks + shard), the base graph's version for the file's identity, or a
/// resumable job.
struct JobExtras {
    std::vector<std::size_t> tasks;
    std::optional<std::pair<std::uint32_t, std::uint32_t>> shard;
    std::string base_version;
    bool resume = false;
    std::size_t batch_size = 0;
    std::vector<scenario::PrecisionTarget> precision;  ///< sequential replications when not empty
    std::uint32_t max_replications = 1000;
    bool sync = true;  ///< fsync the file before it is renamed into place (a batch's scratch shard: no)
};

py::dict run_job(const std::vector<Prepared>& prepared, const py::object& out, unsigned threads,
                 const py::object& progress, const std::string& base_source, double progress_interval,
                 const JobExtras& extras) {
    const auto scenarios = unboxed(prepared);
    const std::filesystem::path path = out.is_none() ? std::filesystem::path() : to_path(out);
    if (extras.resume && path.empty()) throw py::value_error("resume=True needs an output file (out=...)");

    CallbackState state{progress, nullptr};
    scenario::RunnerOptions options;
    options.threads = threads;
    options.base_source = base_source;
    options.base_version = extras.base_version;
    options.writer.sync = extras.sync;
    options.tasks = extras.tasks;
    if (extras.shard) {
        options.shard_index = extras.shard->first;
        options.shard_count = extras.shard->second;
    }
    if (progress_interval > 0) options.progress_interval = progress_interval;
    options.progress = [&state](const scenario::Progress& p) -> bool {
        py::gil_scoped_acquire gil;
        if (state.error) return false;
        try {
            if (PyErr_CheckSignals() != 0) throw py::error_already_set();
            if (!state.callable.is_none()) state.callable(progress_dict(p));
        } catch (...) {
            state.error = std::current_exception();
            return false;
        }
        return true;
    };

    scenario::JobResult result;
    std::optional<scenario::PrecisionResult> precise;
    bool cancelled = false;
    {
        py::gil_scoped_release release;
        try {
            if (!extras.precision.empty()) {
                precise = scenario::run_until_precise(scenarios, path, options,
                                                      {extras.precision, extras.max_replications});
                result = precise->job;
            } else if (extras.resume) {
                scenario::ResumeOptions resume;
                resume.batch_size = extras.batch_size;
                result = scenario::run_job_resumable(scenarios, path, options, resume);
            } else {
                result = scenario::run_job(scenarios, path, options);
            }
        } catch (const scenario::Cancelled&) {
            cancelled = true;
        }
    }
    if (state.error && !extras.resume) {
        // Interrupted (or the progress callable failed), perhaps only in the
        // final progress call after the file was written: leave no file.
        if (!result.path.empty()) {
            std::error_code ignored;
            std::filesystem::remove(result.path, ignored);
        }
        std::rethrow_exception(state.error);
    }
    if (state.error) std::rethrow_exception(state.error);  // resumable: the finished batches stay
    if (cancelled) throw scenario::Cancelled();
    py::dict reply = job_dict(result);
    if (precise) {
        py::dict counts;
        for (std::size_t i = 0; i < scenarios.size(); ++i) counts[py::str(scenarios[i]->spec.name)] = precise->replications[i];
        reply["precision"] = py::dict(py::arg("replications") = counts, py::arg("rounds") = precise->rounds,
                                      py::arg("unmet") = precise->unmet);
    }
    return reply;
}

/// One replication stepped from Python. Calls are serialised by a mutex
/// (taken with the GIL released), so a Run shared between Python threads
/// stays consistent.
class PyRun {
public:
    PyRun(const Prepared& prepared, std::uint32_t replication) : prepared_(prepared.scenario) {
        if (replication >= prepared_->spec.replications)
            throw py::value_error("replication " + std::to_string(replication) + " is out of range: scenario \"" +
                                  prepared_->spec.name + "\" has " + std::to_string(prepared_->spec.replications) +
                                  " replication(s)");
        py::gil_scoped_release release;
        run_ = std::make_unique<scenario::Run>(prepared_, replication);
    }

    [[nodiscard]] double now() {
        py::gil_scoped_release release;
        std::lock_guard lock(mutex_);
        return run_->simulator().now();
    }
    [[nodiscard]] double horizon() const noexcept { return run_->horizon(); }
    [[nodiscard]] std::int64_t start_ns() const noexcept { return prepared_->spec.start.ns; }
    [[nodiscard]] std::uint32_t replication() const noexcept { return run_->replication(); }
    [[nodiscard]] const std::string& name() const noexcept { return prepared_->spec.name; }
    [[nodiscard]] bool finished() const noexcept { return finished_; }

    double advance_to(double t) {
        if (std::isnan(t)) throw py::value_error("advance_to: the time is NaN");
        py::gil_scoped_release release;
        std::lock_guard lock(mutex_);
        usable("advance_to");
        const double now = run_->simulator().now();
        if (t < now)
            throw py::value_error("advance_to(" + number(t) + "): the run is already at " + number(now) +
                                  " s; a run cannot go back in time");
        try {
            (void)run_->advance_to(t);
        } catch (const Error& e) {
            failure_ = e.what();
            throw;
        } catch (const std::exception& e) {
            failure_ = e.what();
            throw Error("run \"" + prepared_->spec.name + "\" replication " + std::to_string(run_->replication()) +
                        " failed: " + e.what());
        }
        return run_->simulator().now();
    }

    [[nodiscard]] graph::Snapshot snapshot() {
        py::gil_scoped_release release;
        std::lock_guard lock(mutex_);
        return run_->snapshot();
    }

    void update_twin(const std::string& id, const nlohmann::json& patch) {
        py::gil_scoped_release release;
        std::lock_guard lock(mutex_);
        usable("update_digital_twin");
        run_->update_twin(id, patch);
    }

    [[nodiscard]] py::object parameters() {
        nlohmann::json copy;
        {
            py::gil_scoped_release release;
            std::lock_guard lock(mutex_);
            copy = run_->parameters();
        }
        return to_python(copy);
    }

    /// {end, parameters, events: columns, kpis: columns, series: [{name, property, unit, model, twins, times, values}]}
    py::dict finish() {
        scenario::RunRecord record;
        {
            py::gil_scoped_release release;
            std::lock_guard lock(mutex_);
            usable("finish");
            finished_ = true;
            record = run_->finish();
        }
        py::dict events;
        {
            py::list replication, time, twin, type, detail;
            for (const io::EventRecord& e : record.events) {
                replication.append(e.replication);
                time.append(e.time);
                twin.append(e.twin);
                type.append(e.type);
                detail.append(e.detail_json.empty() ? std::string("{}") : e.detail_json);
            }
            events["replication"] = replication;
            events["seconds"] = time;
            events["twin"] = twin;
            events["type"] = type;
            events["detail"] = detail;
        }
        using K = io::KpiRow;
        const py::dict kpis = columns(record.kpis, std::pair{"name", &K::name}, std::pair{"selection", &K::selection},
                                      std::pair{"statistic", &K::statistic}, std::pair{"replication", &K::replication},
                                      std::pair{"aggregate", &K::aggregate}, std::pair{"value", &K::value},
                                      std::pair{"unit", &K::unit});
        py::list series;
        for (std::size_t i = 0; i < prepared_->series.size(); ++i) {
            const scenario::SeriesPlan& p = prepared_->series[i];
            py::dict s(py::arg("name") = p.name, py::arg("property") = p.property, py::arg("unit") = p.unit,
                       py::arg("model") = p.model, py::arg("twins") = p.twin_ids, py::arg("on_change") = p.on_change);
            if (!p.on_change) {
                const std::vector<double> empty;
                const std::vector<double>& values = i < record.samples.size() ? record.samples[i] : empty;
                const std::size_t n = p.twins.size();
                const std::size_t steps = n == 0 ? 0 : std::min(values.size() / n, p.times.size());
                s["times"] = std::vector<double>(p.times.begin(), p.times.begin() + static_cast<std::ptrdiff_t>(steps));
                s["values"] = values;
            } else {
                py::list time, twin, value;
                if (i < record.changes.size())
                    for (const auto& c : record.changes[i]) {
                        time.append(c.time);
                        twin.append(p.twin_ids[c.twin]);
                        value.append(c.value);
                    }
                s["changes"] = py::dict(py::arg("seconds") = time, py::arg("twin") = twin, py::arg("value") = value);
            }
            series.append(s);
        }
        return py::dict(py::arg("end") = record.end_time, py::arg("events_processed") = record.events_processed,
                        py::arg("parameters") = to_python(record.parameters), py::arg("events") = events,
                        py::arg("kpis") = kpis, py::arg("series") = series);
    }

private:
    static std::string number(double x) { return nlohmann::json(x).dump(); }

    /// Throws when the run can no longer be driven (call with the mutex held).
    void usable(const char* what) const {
        if (finished_) throw Error(std::string(what) + ": the run is finished");
        if (failure_)
            throw Error(std::string(what) + ": run \"" + prepared_->spec.name + "\" replication " +
                        std::to_string(run_->replication()) + " failed earlier: " + *failure_);
    }

    std::shared_ptr<const scenario::PreparedScenario> prepared_;
    std::unique_ptr<scenario::Run> run_;
    std::mutex mutex_;
    bool finished_ = false;
    std::optional<std::string> failure_;
};

}  // namespace

void define_scenario(py::module_& m) {
    scenario_error = new_located_exception(m, "ScenarioError",
            "A scenario that cannot be used: a bad file, a bad Scenario(...), or one its base graph refuses (an "
            "unknown model, a twin that does not exist, a property that is not numeric). Also a ValueError.\n\n"
            "str(): \"<file>:<line>: <field>: <reason>\". .file: the scenario file (None for a scenario built in "
            "code); .line: 1-based line of the offending entry (None when unknown); .field: its dotted path, e.g. "
            "\"recording.series[0].interval\"; .reason: what is wrong.");
    // Registered after define_errors' translator (ScenarioError is a twinsim::Error), so tried first.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const scenario::ScenarioError& e) {
            raise_scenario_error(e);
        }
    });

    py::class_<ScenarioSpec>(m, "_ScenarioSpec", "A scenario as data (private: use twinsim.Scenario).")
        .def_static("from_file",
                    [](const py::object& path, bool allow_outside_paths) {
                        const std::filesystem::path file = to_path(path);
                        scenario::ScenarioReadOptions options;
                        options.allow_outside_paths = allow_outside_paths;
                        py::gil_scoped_release release;
                        return scenario::read_scenario_file(file, options);
                    },
                    py::arg("path"), py::arg("allow_outside_paths") = false)
        .def_static("from_yaml",
                    [](const std::string& text, const std::string& source) {
                        py::gil_scoped_release release;
                        return scenario::scenario_from_yaml(text, source);
                    },
                    py::arg("text"), py::arg("source") = "<yaml>")
        .def_static("from_json_text",
                    [](const std::string& text, const std::string& source) {
                        py::gil_scoped_release release;
                        return scenario::scenario_from_json_text(text, source);
                    },
                    py::arg("text"), py::arg("source") = "<json>")
        .def_static("from_dict", [](const py::object& document) { return scenario::from_json(to_ordered(document)); },
                    py::arg("document"))
        .def("to_dict", [](const ScenarioSpec& self) { return to_python(scenario::to_json(self)); })
        .def("expand", [](const ScenarioSpec& self) { return scenario::expand(self); })
        .def("with_changes",
             [](const ScenarioSpec& self, const std::optional<std::uint64_t>& replications,
                const std::optional<std::uint64_t>& seed) {
                 ScenarioSpec copy = self;
                 if (replications) {
                     if (*replications < 1 || *replications > scenario::limits::max_replications)
                         throw scenario::ScenarioError("", 0, "replications",
                                                       "must be a positive integer, at most " +
                                                           std::to_string(scenario::limits::max_replications) +
                                                           " (the limit on replications)");
                     copy.replications = static_cast<std::uint32_t>(*replications);
                 }
                 if (seed) copy.seed = *seed;
                 return copy;
             },
             py::arg("replications") = py::none(), py::arg("seed") = py::none())
        .def_property_readonly("name", [](const ScenarioSpec& s) { return s.name; })
        .def_property_readonly("base", [](const ScenarioSpec& s) { return s.base; })
        .def_property_readonly("base_models", [](const ScenarioSpec& s) { return s.base_models; })
        .def_property_readonly("file", [](const ScenarioSpec& s) { return s.source.file; })
        .def_property_readonly("replications", [](const ScenarioSpec& s) { return s.replications; })
        .def_property_readonly("seed", [](const ScenarioSpec& s) { return s.seed; })
        .def_property_readonly("horizon", [](const ScenarioSpec& s) { return s.horizon; })
        .def_property_readonly("start_ns", [](const ScenarioSpec& s) { return s.start.ns; })
        .def_property_readonly("has_sweep", [](const ScenarioSpec& s) { return s.sweep.has_value(); })
        .def("__eq__", [](const ScenarioSpec& a, const ScenarioSpec& b) { return a == b; })
        .def("__copy__", [](const ScenarioSpec& self) { return self; })
        .def("__deepcopy__", [](const ScenarioSpec& self, const py::object&) { return self; }, py::arg("memo"));

    py::class_<Prepared>(m, "_PreparedScenario", "A scenario checked against its base graph (private).")
        .def_property_readonly("name", [](const Prepared& p) { return p.scenario->spec.name; })
        .def_property_readonly("index", [](const Prepared& p) { return p.scenario->index; })
        .def_property_readonly("replications", [](const Prepared& p) { return p.scenario->spec.replications; })
        .def_property_readonly("spec", [](const Prepared& p) { return p.scenario->spec; })
        .def_property_readonly("graph", [](const Prepared& p) { return p.scenario->graph; });

    m.def(
        "_resolve_input_path",
        [](const ScenarioSpec& spec, const std::string& folder, const std::string& written, const std::string& pointer,
           const std::string& field, bool allow_outside, bool allow_folder) {
            scenario::InputPathOptions options;
            options.allow_outside = allow_outside;
            options.allow_folder = allow_folder;
            options.trusted_folders = {models::builtin_dtdl_folder()};
            return scenario::resolve_input_path(spec, folder, written, pointer, field, options).string();
        },
        py::arg("spec"), py::arg("folder"), py::arg("written"), py::arg("pointer"), py::arg("field"),
        py::arg("allow_outside") = false, py::arg("allow_folder") = false,
        "A scenario's base or base_models entry resolved against folder and confined to its tree and to the "
        "built-in models' DTDL folder (scenario::resolve_input_path). Raises ScenarioError.");
    m.def(
        "_resolve_parameter_paths",
        [](const ScenarioSpec& spec, const std::string& folder, bool allow_outside) {
            scenario::InputPathOptions options;
            options.allow_outside = allow_outside;
            ScenarioSpec copy = spec;
            scenario::resolve_parameter_paths(copy, folder, models::builtin_registry(), options);
            return copy;
        },
        py::arg("spec"), py::arg("folder"), py::arg("allow_outside") = false,
        "A copy of spec whose behaviours' file parameters (thermal_zones' weather_file) are resolved against folder "
        "and confined to its tree (scenario::resolve_parameter_paths). Raises ScenarioError.");
    m.def(
        "_calibrate_building",
        [](const Prepared& p, const py::object& history, const std::vector<std::string>& fit,
           std::optional<double> window_start, std::optional<double> window_end, const std::string& cooling_property,
           const std::string& temperature_property, double max_gap, double warmup, std::size_t binding,
           int max_iterations, const std::string& out) {
            std::vector<std::string> texts = fit;
            const std::vector<std::string> cop_choices = models::take_cop_choices(texts);
            std::vector<models::ParameterChoice> choices;
            for (const std::string& f : texts) choices.push_back(models::parse_parameter_choice(f));
            models::CalibrationOptions o;
            o.window_start = window_start.value_or(0.0);
            o.window_end = window_end.value_or(p.scenario->spec.horizon);
            o.cooling_property = cooling_property;
            o.temperature_property = temperature_property;
            o.max_gap = max_gap;
            o.warmup = warmup;
            o.max_iterations = max_iterations;
            const models::ThermalSetup setup = models::thermal_setup(*p.scenario, binding);
            scenario::RecordedHistory recorded;
            if (py::isinstance<live::Store>(history)) {
                live::Store& store = history.cast<live::Store&>();
                live::HistoryQuery q;
                if (cop_choices.empty()) {  // a COP fit reads every row (the chillers' power)
                    q.twins = setup.zones;
                    q.properties = {o.temperature_property, "occupancy", "lightingPower", "equipmentHeatGain"};
                    if (!o.cooling_property.empty()) q.properties.push_back(o.cooling_property);
                }
                py::gil_scoped_release release;
                recorded = scenario::RecordedHistory(live::history_tables(store, q));
            } else {
                const std::string path = history.cast<std::string>();
                py::gil_scoped_release release;
                recorded = scenario::RecordedHistory::read_file(path);
            }
            nlohmann::json file;
            {
                py::gil_scoped_release release;
                if (!choices.empty() || cop_choices.empty())  // no choice at all: calibrate_thermal says so
                    file = models::calibrate_thermal(setup, recorded, choices, o).to_file_json();
                for (const std::string& chillers : cop_choices) {
                    models::CopOptions co;
                    co.binding = binding;
                    co.chillers = chillers;
                    co.window_start = o.window_start;
                    co.window_end = o.window_end;
                    co.max_gap = o.max_gap;
                    models::merge_cop(file, models::calibrate_cop(p.scenario->spec, p.scenario->base, recorded, co));
                }
                if (!out.empty()) models::save_calibration_json(file, out);
            }
            return to_python(nlohmann::ordered_json(file));
        },
        py::arg("prepared"), py::arg("history"), py::arg("fit"), py::arg("window_start"), py::arg("window_end"),
        py::arg("cooling_property"), py::arg("temperature_property"), py::arg("max_gap"), py::arg("warmup"),
        py::arg("binding"), py::arg("max_iterations"), py::arg("out"),
        "Calibrates the binding-th thermal_zones binding of a prepared scenario on a history file or a Store "
        "(models::calibrate_thermal) and returns the calibration file as a dict; writes it to out unless \"\". "
        "Releases the GIL.");
    m.def("_prepare_job", &prepare_job, py::arg("specs"), py::arg("bases"),
          "Expands sweeps and prepares every scenario against its base snapshot (built-in models). Releases the "
          "GIL. Raises ScenarioError.");
    m.def(
        "_run_job",
        [](const std::vector<Prepared>& prepared, const py::object& out, unsigned threads, const py::object& progress,
           const std::string& base_source, double progress_interval, std::vector<std::size_t> tasks,
           std::optional<std::pair<std::uint32_t, std::uint32_t>> shard, std::string base_version, bool resume,
           std::size_t batch_size, const std::vector<std::tuple<std::string, std::string, double, bool>>& precision,
           std::uint32_t max_replications, bool sync) {
            JobExtras extras{std::move(tasks), shard, std::move(base_version), resume, batch_size, {}, max_replications,
                             sync};
            for (const auto& [kpi, selection, half_width, relative] : precision)
                extras.precision.push_back({kpi, selection, half_width, relative});
            return run_job(prepared, out, threads, progress, base_source, progress_interval, extras);
        },
        py::arg("prepared"), py::arg("out"), py::arg("threads") = 0, py::arg("progress") = py::none(),
        py::arg("base_source") = "", py::arg("progress_interval") = 0.0, py::arg("tasks") = std::vector<std::size_t>{},
        py::arg("shard") = py::none(), py::arg("base_version") = "", py::arg("resume") = false,
        py::arg("batch_size") = 0,
        py::arg("precision") = std::vector<std::tuple<std::string, std::string, double, bool>>{},
        py::arg("max_replications") = 1000, py::arg("sync") = true,
        "Runs every replication of the prepared scenarios (scenario::run_job) with the GIL released; progress(dict) "
        "is called about every progress_interval seconds. Ctrl-C or an exception of progress cancels the job (no "
        "file is left; with resume=True, scenario::run_job_resumable, the finished batches stay) and is raised here. "
        "shard=(index, count) with tasks=[...] runs those tasks of the plan as a results shard (a batch of a "
        "distributed job); base_version overrides the file's base_graph_version. precision=[(kpi, selection, "
        "half_width, relative)] runs rounds until the targets are met (scenario::run_until_precise); the dict then "
        "has 'precision': {replications: {scenario: n}, rounds, unmet}. sync=False skips the fsync of the file (a "
        "scratch shard read back at once).");
    m.def(
        "_select_best",
        [](const std::vector<Prepared>& prepared, const std::string& kpi, const std::string& selection, bool maximize,
           double delta, double alpha, std::uint32_t first_stage, std::uint32_t max_replications, unsigned threads) {
            scenario::SelectedBest best;
            {
                py::gil_scoped_release release;
                best = scenario::select_best(unboxed(prepared),
                                             {kpi, selection, maximize, delta, alpha, first_stage, max_replications, 10,
                                              threads});
            }
            py::list systems;
            for (const auto& sys : best.systems)
                systems.append(py::dict(py::arg("scenario") = sys.name, py::arg("mean") = sys.mean,
                                        py::arg("replications") = sys.replications,
                                        py::arg("eliminated_at") = sys.eliminated_at ? py::object(py::int_(*sys.eliminated_at))
                                                                                     : py::object(py::none())));
            return py::dict(py::arg("best") = best.systems[best.best].name, py::arg("decided") = best.decided,
                            py::arg("eta") = best.eta, py::arg("h2") = best.h2, py::arg("systems") = systems);
        },
        py::arg("prepared"), py::arg("kpi"), py::arg("selection"), py::arg("maximize"), py::arg("delta"),
        py::arg("alpha"), py::arg("first_stage"), py::arg("max_replications"), py::arg("threads"),
        "Kim and Nelson's fully sequential selection of the best scenario (scenario::select_best). Releases the GIL.");
    m.def(
        "_cheapest_feasible",
        [](const std::vector<Prepared>& prepared, const std::string& kpi, const std::string& selection,
           double threshold, bool at_least, double alpha, std::uint32_t first_stage, std::uint32_t max_replications,
           unsigned threads) {
            scenario::CheapestFeasible c;
            {
                py::gil_scoped_release release;
                c = scenario::cheapest_feasible(unboxed(prepared), {kpi, selection, threshold, at_least, alpha,
                                                                    first_stage, max_replications, threads});
            }
            py::list systems;
            for (const auto& sys : c.systems)
                systems.append(py::dict(py::arg("scenario") = sys.name, py::arg("decision") = scenario::to_string(sys.status),
                                        py::arg("mean") = sys.mean, py::arg("low") = sys.low, py::arg("high") = sys.high,
                                        py::arg("replications") = sys.replications));
            return py::dict(py::arg("chosen") = c.chosen ? py::object(py::str(c.systems[*c.chosen].name)) : py::object(py::none()),
                            py::arg("alpha_per_test") = c.alpha_per_test, py::arg("systems") = systems);
        },
        py::arg("prepared"), py::arg("kpi"), py::arg("selection"), py::arg("threshold"), py::arg("at_least"),
        py::arg("alpha"), py::arg("first_stage"), py::arg("max_replications"), py::arg("threads"),
        "The cheapest scenario (in the order given) whose KPI meets the threshold with confidence 1 - alpha "
        "(scenario::cheapest_feasible). Releases the GIL.");
    m.def(
        "_plan_job",
        [](const std::vector<Prepared>& prepared) {
            const auto scenarios = unboxed(prepared);
            scenario::JobPlan plan;
            {
                py::gil_scoped_release release;
                plan = scenario::plan_job(scenarios);
            }
            return py::dict(py::arg("job") = plan.job, py::arg("tasks") = plan.tasks.size(),
                            py::arg("base_version") =
                                scenarios.empty() ? std::string() : std::to_string(scenarios.front()->graph.version()));
        },
        py::arg("prepared"),
        "The job's id, its number of tasks (scenario::plan_job) and the base_graph_version its results file carries.");
    m.def(
        "_prepare_concrete",
        [](const std::vector<std::string>& specs, const std::vector<graph::Snapshot>& bases) {
            if (specs.size() != bases.size()) throw py::value_error("_prepare_concrete: one base per scenario");
            std::vector<Prepared> out;
            py::gil_scoped_release release;
            const scenario::ModelRegistry& registry = models::builtin_registry();
            for (std::size_t i = 0; i < specs.size(); ++i)
                out.push_back({scenario::prepare(scenario::scenario_from_json_text(specs[i], "<task>"), bases[i],
                                                 registry, static_cast<std::uint32_t>(i))});
            return out;
        },
        py::arg("specs"), py::arg("bases"),
        "Prepares concrete scenarios (the JSON text of prepared scenarios' specs, sweeps already expanded) numbered "
        "0, 1, ... in order: what a worker of a distributed job prepares. Releases the GIL. Raises ScenarioError.");
    m.def(
        "_spec_json",
        [](const Prepared& p) { return scenario::to_json(p.scenario->spec).dump(); },
        py::arg("prepared"), "The prepared scenario's concrete spec as JSON text (scenario::to_json).");
    m.def(
        "_merge_results",
        [](const std::vector<std::filesystem::path>& shards, const std::filesystem::path& out, bool sync,
           bool own_files) {
            scenario::JobResult result;
            {
                py::gil_scoped_release release;
                io::WriterOptions options;
                options.sync = sync;
                const io::MergeReport report = io::merge_results(
                    shards, out, options, own_files ? io::ShardCheck::own_files : io::ShardCheck::forked_read);
                for (const io::MergeReport::Scenario& s : report.scenarios) {
                    for (const auto& [replication, message] : s.failures)
                        result.failures.push_back({s.name, replication, message});
                    for (const io::KpiSummaryRow& row : s.summaries) result.kpis.push_back(scenario::kpi_summary(s.name, row));
                }
                result.path = out;
            }
            return job_dict(result);
        },
        py::arg("shards"), py::arg("out"), py::arg("sync") = true, py::arg("own_files") = false,
        "Merges the results shards of one job into `out` (io::merge_results) and returns the dict _run_job returns "
        "(progress all zero). own_files: the shards are this library's own, returned intact by the job's workers "
        "(io::ShardCheck::own_files: no forked whole-file read). Releases the GIL. Raises TwinsimIoError naming "
        "the shard and why.");

    py::class_<io::ShardMerger>(m, "_ShardMerger",
                                "Merges a job's results shards one at a time as they come (io::ShardMerger); "
                                "private: twinsim.distributed uses it.")
        .def(py::init([](const std::filesystem::path& out, bool sync, bool own_files) {
                 io::WriterOptions options;
                 options.sync = sync;
                 return io::ShardMerger(out, options, own_files ? io::ShardCheck::own_files : io::ShardCheck::forked_read);
             }),
             py::arg("out"), py::arg("sync") = true, py::arg("own_files") = false)
        .def(
            "add",
            [](io::ShardMerger& self, const std::filesystem::path& shard) {
                py::gil_scoped_release release;
                self.add(shard);
            },
            py::arg("shard"),
            "Adds one shard and writes the scenarios it completes. Releases the GIL. Raises TwinsimIoError naming "
            "the shard and why.")
        .def_property_readonly("scenarios_written", &io::ShardMerger::scenarios_written)
        .def(
            "finish",
            [](io::ShardMerger& self) {
                scenario::JobResult result;
                {
                    py::gil_scoped_release release;
                    const io::MergeReport report = self.finish();
                    for (const io::MergeReport::Scenario& s : report.scenarios) {
                        for (const auto& [replication, message] : s.failures)
                            result.failures.push_back({s.name, replication, message});
                        for (const io::KpiSummaryRow& row : s.summaries)
                            result.kpis.push_back(scenario::kpi_summary(s.name, row));
                    }
                }
                return job_dict(result);
            },
            "Checks every shard came, closes the file and returns the dict _merge_results returns (without "
            "'path'). Releases the GIL. Raises TwinsimIoError.");

    m.def(
        "_validate_results",
        [](const std::filesystem::path& path) {
            py::gil_scoped_release release;
            const io::ResultsReader reader(path);
            reader.validate();
        },
        py::arg("path"),
        "Checks a results file's whole structure (io::ResultsReader::validate) before h5py reads it. Releases the GIL. "
        "Raises TwinsimIoError \"not a valid twinsim results file: <path>: why\" for a damaged or foreign file.");

    m.def(
        "_compare_results",
        [](const std::filesystem::path& path, const std::string& baseline) {
            nlohmann::ordered_json report;
            {
                py::gil_scoped_release release;
                const io::ResultsReader reader(path);
                report = scenario::to_json(scenario::compare(reader, baseline));
            }
            return to_python(report);
        },
        py::arg("path"), py::arg("baseline") = "",
        "The comparison of a results file's scenarios (scenario::compare) as the dict `twinsim compare --json` "
        "prints. Releases the GIL while reading. Raises TwinsimIoError for an unreadable file or an unknown baseline.");

    m.def(
        "_guideline14_results",
        [](const std::filesystem::path& path, std::size_t parameters) {
            nlohmann::ordered_json report;
            {
                py::gil_scoped_release release;
                const io::ResultsReader reader(path);
                Guideline14Options options;
                options.parameters = parameters;
                report = scenario::to_json(scenario::compare_recorded(reader, options), options);
            }
            return to_python(report);
        },
        py::arg("path"), py::arg("parameters") = 1,
        "Modelled vs recorded in a results file (scenario::compare_recorded): ASHRAE Guideline 14 per scenario and "
        "series, overall and per twin, as `twinsim compare --json` prints it under \"guideline14\". Releases the GIL "
        "while reading. Raises TwinsimIoError for an unreadable file.");

    m.def(
        "_resolve_replay_source",
        [](const ScenarioSpec& spec, const std::string& folder, bool allow_outside) {
            scenario::InputPathOptions options;
            options.allow_outside = allow_outside;
            ScenarioSpec copy = spec;
            const bool store = scenario::resolve_replay_source(copy, folder, options);
            return py::make_tuple(copy, store, copy.replay ? copy.replay->source : std::string());
        },
        py::arg("spec"), py::arg("folder"), py::arg("allow_outside") = false,
        "(spec, is_store, source): a copy of spec whose replay.source is resolved against folder and confined to its "
        "tree (scenario::resolve_replay_source); is_store when it is a folder (a live store). Raises ScenarioError.");

    m.def(
        "_replay_from_store",
        [](const ScenarioSpec& spec, live::Store& store) {
            if (!spec.replay)
                throw UsageError("scenario \"" + spec.name + "\" has no replay: section to read from a store");
            ScenarioSpec copy = spec;
            live::ReplayWindow window;
            {
                py::gil_scoped_release release;
                window = live::replay_window(
                    store, spec.start,
                    Timestamp{spec.start.ns + static_cast<std::int64_t>(std::llround(spec.horizon * 1e9))});
            }
            copy.replay->source = store.directory().string();
            copy.replay->loaded.history = std::make_shared<const scenario::RecordedHistory>(std::move(window.history));
            return py::make_tuple(copy, window.graph);
        },
        py::arg("spec"), py::arg("store"),
        "(spec, snapshot): the spec with the store's recorded history up to the window's end loaded into its replay "
        "section, and the store's graph at the window's start (live::replay_window), as `twinsim run --store` does. "
        "Releases the GIL while reading. Raises HistoryError (no graph at the window's start: a store filled after "
        "the fact) and StoreError.");

    m.def(
        "_cheapest",
        [](const std::filesystem::path& path, const std::string& kpi, const std::string& selection,
           const std::string& baseline) {
            nlohmann::ordered_json report;
            {
                py::gil_scoped_release release;
                const io::ResultsReader reader(path);
                const scenario::Comparison comparison = scenario::compare(reader, baseline);
                report = scenario::to_json(comparison, scenario::cheapest(comparison, kpi, selection));
            }
            return to_python(report);
        },
        py::arg("path"), py::arg("kpi"), py::arg("selection") = "", py::arg("baseline") = "",
        "The scenario with the lowest mean of a KPI (scenario::cheapest) as the dict `twinsim compare --cheapest KPI "
        "--json` prints. Raises TwinsimError for a KPI or selection the file does not hold.");

    m.def(
        "behaviours",
        [] {
            // The registry scenarios are prepared against: what each behaviour is and takes.
            py::list out;
            for (const scenario::BehaviourModel* behaviour : models::builtin_registry().list())
                out.append(to_python(scenario::describe(*behaviour)));
            return out;
        },
        "The behaviours scenarios can bind by name (the built-in registry), each a dict: name, description, "
        "interface (the DTDL interface it binds to, None for any twin), events it handles, and parameters (name, unit, "
        "description, default, required, scenario_parameter, min/greater_than/max, twin_property).");

    m.def("_parse_duration", [](const std::string& text) { return duration_seconds(text); }, py::arg("text"),
          "Seconds of an ISO 8601 duration (\"PT10M\", \"P1DT2H\"), or None when malformed.");

    py::class_<PyRun>(m, "_Run", "One replication stepped from Python (private: use twinsim.Run).")
        .def(py::init<const Prepared&, std::uint32_t>(), py::arg("prepared"), py::arg("replication") = 0)
        .def_property_readonly("now", &PyRun::now)
        .def_property_readonly("horizon", &PyRun::horizon)
        .def_property_readonly("start_ns", &PyRun::start_ns)
        .def_property_readonly("replication", &PyRun::replication)
        .def_property_readonly("name", &PyRun::name)
        .def_property_readonly("finished", &PyRun::finished)
        .def("advance_to", &PyRun::advance_to, py::arg("seconds"))
        .def("snapshot", &PyRun::snapshot)
        .def("update_twin",
             [](PyRun& self, const std::string& id, const py::object& patch) {
                 if (py::isinstance<py::str>(patch) || py::isinstance<py::dict>(patch) ||
                     !py::isinstance<py::iterable>(patch))
                     throw py::type_error("json_patch must be a list of {op, path, value} dicts");
                 nlohmann::json operations = nlohmann::json::array();
                 for (const py::handle op : patch) operations.push_back(to_json(op));
                 self.update_twin(id, operations);
             },
             py::arg("digital_twin_id"), py::arg("json_patch"))
        .def_property_readonly("parameters", &PyRun::parameters)
        .def("finish", &PyRun::finish);
}

}  // namespace twinsim::python
