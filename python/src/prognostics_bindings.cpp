// Degradation prognostics from Python (models/equipment/prognostics.hpp):
// twinsim.PrognosticsModel (fit, load, save, predict), twinsim.RulDistribution,
// the history readers, and the errors twinsim.HistoryInputError and
// twinsim.PrognosticsParameterError. The pure-Python layer
// (python/twinsim/prognostics.py) adds calibrate() and predict_rul().

#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "json_conversion.hpp"
#include "models/equipment/live_prognostics.hpp"
#include "models/equipment/prognostics.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/live/routes.hpp"
#include "twinsim/live/store.hpp"

namespace py = pybind11;

namespace twinsim::python {
namespace {

using models::HistorySet;
using models::PrognosticsModel;
using models::RulDistribution;

/// twinsim.LivePrognostics: the engine, and what it needs kept alive.
struct PyLivePrognostics {
    std::shared_ptr<const PrognosticsModel> model;
    std::shared_ptr<live::EventRouter> router;
    std::unique_ptr<models::LivePrognostics> engine;

    models::LivePrognostics& get() {
        if (!engine) throw py::value_error("this LivePrognostics is closed");
        return *engine;
    }
};

std::shared_ptr<const PrognosticsModel> model_argument(const py::object& model) {
    if (py::isinstance<PrognosticsModel>(model)) return std::make_shared<const PrognosticsModel>(model.cast<const PrognosticsModel&>());
    const std::filesystem::path file = model.cast<std::filesystem::path>();
    py::gil_scoped_release release;
    return std::make_shared<const PrognosticsModel>(PrognosticsModel::load(file));
}

/// A copy of `values` as a numpy array of shape (rows,) or (rows, columns).
py::array_t<double> numpy_copy(const std::vector<double>& values, std::size_t rows, std::size_t columns = 0) {
    py::array_t<double> out = columns == 0 ? py::array_t<double>(std::vector<py::ssize_t>{static_cast<py::ssize_t>(rows)})
                                           : py::array_t<double>(std::vector<py::ssize_t>{static_cast<py::ssize_t>(rows),
                                                                                          static_cast<py::ssize_t>(columns)});
    std::copy(values.begin(), values.end(), out.mutable_data());
    return out;
}

PyObject* history_input_error = nullptr;
PyObject* parameter_error = nullptr;

HistorySet read_source(const std::filesystem::path& file, const std::string& format, const std::vector<std::string>& settings,
                       const std::vector<std::string>& sensors, const std::vector<std::string>& units, bool failed) {
    models::HistorySource s;
    s.file = file;
    s.format = format;
    s.settings = settings;
    s.sensors = sensors;
    s.units = units;
    s.failed = failed;
    return models::read_histories(s);
}

}  // namespace

void define_prognostics(py::module_& m) {
    history_input_error = new_exception(
        m, "HistoryInputError", py::make_tuple(m.attr("TwinsimError"), py::handle(PyExc_ValueError)).ptr(),
        "Histories that cannot be read or fitted on: the message names the file, line and column and why. Also a "
        "ValueError.");
    parameter_error = new_exception(
        m, "PrognosticsParameterError", py::make_tuple(m.attr("TwinsimError"), py::handle(PyExc_ValueError)).ptr(),
        "A prognostics parameters file that cannot be used: the message names the field and why. Also a ValueError.");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const models::HistoryInputError& e) {
            PyErr_SetString(history_input_error, e.what());
        } catch (const models::PrognosticsParameterError& e) {
            PyErr_SetString(parameter_error, e.what());
        }
    });

    py::class_<HistorySet>(m, "HistorySet",
                           "Histories of a fleet: per unit, one row of operating settings and sensor readings per "
                           "cycle (models/equipment/histories.hpp).")
        .def_static(
            "read",
            [](const std::filesystem::path& file, const std::string& format, const std::vector<std::string>& settings,
               const std::vector<std::string>& sensors, const std::vector<std::string>& units, bool failed) {
                py::gil_scoped_release release;
                return read_source(file, format, settings, sensors, units, failed);
            },
            "Reads C-MAPSS text (gzip or not), CSV (unit, cycle, setting*, sensors) or an HDF5 history file "
            "(format 'history': name the sensor and setting keys). failed=True: run-to-failure histories.",
            py::arg("file"), py::kw_only(), py::arg("format") = "auto", py::arg("settings") = std::vector<std::string>{},
            py::arg("sensors") = std::vector<std::string>{}, py::arg("units") = std::vector<std::string>{},
            py::arg("failed") = true)
        .def_static(
            "from_store",
            [](live::Store& store, const std::vector<std::string>& settings, const std::vector<std::string>& sensors,
               const std::vector<std::string>& units, bool failed) {
                py::gil_scoped_release release;
                return models::histories_from_store(store, settings, sensors, failed, units);
            },
            "The histories recorded in a durable store (its property updates and telemetry of the named keys; the "
            "k-th distinct time of a twin is its cycle k).",
            py::arg("store"), py::kw_only(), py::arg("settings") = std::vector<std::string>{}, py::arg("sensors"),
            py::arg("units") = std::vector<std::string>{}, py::arg("failed") = false)
        .def_property_readonly("setting_names", [](const HistorySet& s) { return s.setting_names; })
        .def_property_readonly("sensor_names", [](const HistorySet& s) { return s.sensor_names; })
        .def_property_readonly("units", [](const HistorySet& s) {
            std::vector<std::string> ids;
            for (const auto& u : s.units) ids.push_back(u.id);
            return ids;
        }, "The unit ids, in order")
        .def_property_readonly("rows", &HistorySet::rows)
        .def("unit",
             [](const HistorySet& s, const std::string& id) {
                 for (const auto& u : s.units)
                     if (u.id == id) {
                         py::dict d;
                         d["cycles"] = numpy_copy(u.cycles, u.rows());
                         d["settings"] = numpy_copy(u.settings, u.rows(), s.setting_count());
                         d["sensors"] = numpy_copy(u.sensors, u.rows(), s.sensor_count());
                         d["failed"] = u.failed;
                         return d;
                     }
                 throw py::key_error("no unit \"" + id + "\"");
             },
             "One unit's rows as numpy arrays: cycles, settings (rows x settings), sensors (rows x sensors), failed.",
             py::arg("id"))
        .def("__len__", [](const HistorySet& s) { return s.units.size(); });

    py::class_<RulDistribution>(m, "RulDistribution",
                                "The remaining useful life of one unit after its last observed cycle, on whole cycles: "
                                "pmf[k] = P(RUL = k).")
        .def_readonly("unit", &RulDistribution::unit)
        .def_readonly("cycle", &RulDistribution::cycle, "The last observed cycle")
        .def_readonly("health", &RulDistribution::health, "The health indicator of the last 5 cycles (1 healthy, 0 failed)")
        .def_property_readonly("pmf", [](const RulDistribution& r) { return numpy_copy(r.pmf, r.pmf.size()); })
        .def_property_readonly("mean", &RulDistribution::mean)
        .def("quantile", &RulDistribution::quantile, "The smallest k with P(RUL <= k) >= p", py::arg("p"))
        .def("probability_within", &RulDistribution::probability_within,
             "P(RUL <= h): the probability of failing within h cycles", py::arg("h"))
        .def("capped_mean", &RulDistribution::capped_mean, "E[min(RUL, cap)]", py::arg("cap"))
        .def("capped_quantile", &RulDistribution::capped_quantile, py::arg("p"), py::arg("cap"))
        .def("__copy__", [](const RulDistribution& r) { return r; })
        .def("__deepcopy__", [](const RulDistribution& r, const py::dict&) { return r; }, py::arg("memo"))
        .def("__repr__", [](const RulDistribution& r) {
            return "<RulDistribution " + r.unit + ": mean " + std::to_string(r.mean()) + " cycles, 90% [" +
                   std::to_string(r.quantile(0.05)) + ", " + std::to_string(r.quantile(0.95)) + "]>";
        });

    py::class_<PrognosticsModel>(m, "PrognosticsModel",
                                 "The fitted degradation prognostics model (models/equipment/prognostics.md): a health "
                                 "indicator fused from the informative sensors and a Bayesian degradation model with "
                                 "fleet priors. Immutable.")
        .def_static(
            "fit",
            [](const HistorySet& training, double rul_cap) {
                models::PrognosticsOptions o;
                o.health.rul_cap = rul_cap;
                py::gil_scoped_release release;
                return PrognosticsModel::fit(training, o);
            },
            "Fits on the run-to-failure units of `training`.", py::arg("training"), py::kw_only(),
            py::arg("rul_cap") = 125.0)
        .def_static(
            "load",
            [](const std::filesystem::path& file) {
                py::gil_scoped_release release;
                return PrognosticsModel::load(file);
            },
            "Reads a parameters file (twinsim calibrate, PrognosticsModel.save).", py::arg("file"))
        .def_static(
            "from_dict", [](const py::object& d) { return PrognosticsModel::from_json(to_json(d)); },
            "The model of a parameters dict (to_dict()).", py::arg("parameters"))
        .def(
            "save",
            [](const PrognosticsModel& model, const std::filesystem::path& file) { model.save(file); },
            "Writes the parameters file (JSON, via a temporary renamed).", py::arg("file"))
        .def("to_dict", [](const PrognosticsModel& model) { return to_python(model.to_json()); })
        .def(
            "predict",
            [](const PrognosticsModel& model, const HistorySet& units) {
                py::gil_scoped_release release;
                return model.predict(units);
            },
            "The RUL distribution of every unit (columns matched by name), at its last cycle.", py::arg("units"))
        .def(
            "predict_health",
            [](const PrognosticsModel& model, const std::string& unit, const std::vector<double>& cycles,
               const std::vector<double>& health) { return model.predict_health(unit, cycles, health); },
            "The RUL distribution from a unit's health indicator at its cycles.", py::arg("unit"), py::arg("cycles"),
            py::arg("health"))
        .def(
            "health",
            [](const PrognosticsModel& model, const HistorySet& units, const std::string& id) {
                const HistorySet ordered = model.health_indicator().reorder(units);
                for (const auto& u : ordered.units)
                    if (u.id == id) {
                        const std::vector<double> h = model.health_indicator().evaluate(u);
                        return numpy_copy(h, h.size());
                    }
                throw py::key_error("no unit \"" + id + "\"");
            },
            "The health indicator of one unit at each of its cycles.", py::arg("units"), py::arg("unit"))
        .def_property_readonly("informative_sensors",
                               [](const PrognosticsModel& model) { return model.health_indicator().informative_sensors(); })
        .def_property_readonly("conditions",
                               [](const PrognosticsModel& model) { return model.health_indicator().condition_count(); })
        .def_property_readonly("rul_cap", [](const PrognosticsModel& model) { return model.health_indicator().rul_cap(); })
        .def_property_readonly("training", [](const PrognosticsModel& model) { return to_python(model.training()); },
                               "What it was fitted on: units, rows, life (min, mean, max), seconds");

    py::class_<PyLivePrognostics>(
        m, "LivePrognostics",
        "Keeps the prognostic properties (healthIndicator, rulMean, rulP05/P50/P95, rulQuantiles, failureProbability, "
        "...) of the DegradingEquipment twins of a live graph or store current as readings arrive: property updates "
        "of their sensors, and telemetry ({'reading': {sensor: value}}) through the graph's event router. All "
        "readings queued are predicted together and written in one update_twins call "
        "(models/equipment/live_prognostics.hpp).")
        .def(py::init([](const py::object& target, const py::object& model, double horizon, const std::string& interface,
                         bool telemetry, std::size_t queue_capacity) {
                 py::object graph_object = py::isinstance<live::Store>(target) ? target.attr("graph") : target;
                 graph::TwinGraph& graph = graph_object.cast<graph::TwinGraph&>();
                 auto made = std::make_unique<PyLivePrognostics>();
                 made->model = model_argument(model);
                 if (telemetry) made->router = graph_router(graph_object);
                 models::LivePrognosticsOptions o;
                 o.horizon = horizon;
                 o.interface = interface;
                 o.queue_capacity = queue_capacity;
                 py::gil_scoped_release release;
                 made->engine = std::make_unique<models::LivePrognostics>(graph, made->model, o, made->router.get());
                 return made;
             }),
             py::keep_alive<1, 2>(),
             "Starts live prognostics on a TwinGraph or Store with a PrognosticsModel or a parameters file; "
             "horizon: cycles of failureProbability.",
             py::arg("graph"), py::arg("model"), py::kw_only(), py::arg("horizon") = 30.0,
             py::arg("interface") = "dtmi:twinsim:equipment:DegradingEquipment;1", py::arg("telemetry") = true,
             py::arg("queue_capacity") = 100000)
        .def(
            "seed",
            [](PyLivePrognostics& self, const HistorySet& histories) {
                models::LivePrognostics& engine = self.get();
                py::gil_scoped_release release;
                return engine.seed(histories);
            },
            "Queues past readings (units named by twin id), e.g. HistorySet.from_store(store, sensors=...). Returns "
            "how many units are not followed twins (skipped).",
            py::arg("histories"))
        .def(
            "drain",
            [](PyLivePrognostics& self) {
                models::LivePrognostics& engine = self.get();
                if (self.router) {
                    py::gil_scoped_release release;
                    self.router->flush(std::chrono::milliseconds(60000));
                }
                py::gil_scoped_release release;
                engine.drain();
            },
            "Waits until every reading so far (telemetry routed so far included) is predicted and written.")
        .def_property_readonly("statistics",
                               [](PyLivePrognostics& self) {
                                   const models::LivePrognosticsStatistics s = self.get().statistics();
                                   py::dict d;
                                   d["readings"] = s.readings;
                                   d["incomplete"] = s.incomplete;
                                   d["updates"] = s.updates;
                                   d["twins_updated"] = s.twins_updated;
                                   d["failures"] = s.failures;
                                   d["last_error"] = s.last_error;
                                   return d;
                               })
        .def(
            "distribution",
            [](PyLivePrognostics& self, const std::string& twin) -> py::object {
                const auto d = self.get().distribution(twin);
                return d ? py::cast(*d) : py::none();
            },
            "The latest RulDistribution of a twin, or None.", py::arg("twin"))
        .def(
            "close",
            [](PyLivePrognostics& self) {
                std::unique_ptr<models::LivePrognostics> engine = std::move(self.engine);
                py::gil_scoped_release release;
                engine.reset();
            },
            "Stops following the graph (readings still queued are dropped: drain() first).")
        .def("__enter__", [](const py::object& self) { return self; })
        .def("__exit__", [](PyLivePrognostics& self, const py::args&) {
            std::unique_ptr<models::LivePrognostics> engine = std::move(self.engine);
            py::gil_scoped_release release;
            engine.reset();
        });

    m.def(
        "read_rul_truth", [](const std::filesystem::path& file) { return models::read_rul_truth(file); },
        "The C-MAPSS truth file RUL_FD00x.txt: one true RUL per test unit.", py::arg("file"));
}

}  // namespace twinsim::python
