#pragma once
// One define_* function per area of the extension module twinsim._core (Drake's
// habit): module.cpp only declares the module and calls them in order.

#include <pybind11/pybind11.h>

#include <filesystem>
#include <memory>

namespace twinsim::live {
class EventRouter;
}

namespace twinsim::graph {
class TwinGraph;
}  // namespace twinsim::graph

namespace twinsim::python {

/// Creates the exception class twinsim.NAME with base class(es) `bases` (a
/// class or a tuple of classes), docstring `doc` and class attributes `dict`
/// (may be null), and adds it to the module. The class lives as long as the
/// interpreter, so the returned borrowed pointer never dangles. Throws
/// pybind11::error_already_set when Python refuses.
PyObject* new_exception(pybind11::module_& m, const char* name, PyObject* bases, const char* doc,
                        PyObject* dict = nullptr);

/// new_exception for an error located in an input file: bases TwinsimError and
/// ValueError, class attributes code, file, line, field and reason (None).
PyObject* new_located_exception(pybind11::module_& m, const char* name, const char* doc);

/// TwinsimError, TwinsimIoError, ModelError, the graph errors (NotFoundError,
/// ConflictError, ValidationError, GraphImportError) and Diagnostic, and the
/// translation of C++ exceptions into them.
void define_errors(pybind11::module_& m);

/// ModelSet and the views of a compiled model: Interface, Content, Schema, PropertySlot.
void define_dtdl(pybind11::module_& m);

/// TwinGraph (the ADT DigitalTwinsClient surface) and Snapshot. Needs
/// define_dtdl first (Snapshot.models returns a ModelSet).
void define_graph(pybind11::module_& m);

/// query_twins on Snapshot and TwinGraph, twinsim.QueryError and the pager
/// behind twinsim.QueryResult. Needs define_errors and define_graph first.
void define_query(pybind11::module_& m);

/// twinsim.ScenarioError and the private _ScenarioSpec, _PreparedScenario,
/// _Run, _prepare_job and _run_job behind twinsim.Scenario, twinsim.run and
/// twinsim.Run (python/twinsim/scenario.py). Needs define_errors, define_graph first.
void define_scenario(pybind11::module_& m);

/// TwinGraph.ingest and twinsim.MappingError (ingest_bindings.cpp). Needs
/// define_errors and define_graph first.
void define_ingest(pybind11::module_& m);

/// Event routes, endpoints and telemetry as methods of TwinGraph, and
/// twinsim.RouteFilterError / twinsim.TelemetryError. Needs define_errors and
/// define_graph first.
void define_routes(pybind11::module_& m);

/// Store.history and the rest of a store's history (history_bindings.cpp),
/// twinsim.HistoryError. Needs define_store first.
void define_history(pybind11::module_& m);

/// twinsim.WeibullLife, WeibullFit, fit_weibull, WeibullAft, WeibullAftFit,
/// _fit_weibull_aft and twinsim.LifetimeError (lifetime_bindings.cpp,
/// models/equipment/lifetime.hpp). Needs define_errors first.
void define_lifetime(pybind11::module_& m);

/// For a store's graph: its event router (started with the store's saved
/// routes, live::StoreEvents) and routes live until release_graph_events,
/// not until a Python wrapper of the graph is collected. Needs the GIL.
void keep_graph_events(const graph::TwinGraph& graph, const std::filesystem::path& store_directory);
/// Closes (flushing) and forgets the graph's event router. Only the address
/// is used: the graph may already be gone (the router copes). Needs the GIL.
void release_graph_events(const graph::TwinGraph* graph);
/// twinsim.open_store, twinsim.Store and the store's exceptions (StoreError,
/// StoreLockedError, StoreCorruptError, StoreWriteError). Needs define_errors
/// and define_graph first.
void define_store(pybind11::module_& m);

/// TwinGraph.add_rules / remove_rules / rules / rule_firings /
/// rules_statistics / drain_rules / start_rules and twinsim.RuleFileError
/// (rules_bindings.cpp, models/rules/live_rules.hpp). Needs define_errors
/// and define_graph first.
void define_rules(pybind11::module_& m);
/// A store's graph: its live rules keep their sets in `directory`; starts
/// them now when the store keeps some. Needs the GIL.
void note_store_rules(graph::TwinGraph& graph, const std::filesystem::path& directory);
/// Stops and forgets the graph's live rules (before its store closes). Needs the GIL.
void release_graph_rules(const graph::TwinGraph* graph);

/// The event router of a TwinGraph (Python object), started on first use as
/// publish_telemetry and add_endpoint do (routes_bindings.cpp).
std::shared_ptr<live::EventRouter> graph_router(const pybind11::object& graph);

/// twinsim.PrognosticsModel, twinsim.LivePrognostics, RulDistribution, HistorySet, read_rul_truth and
/// the errors HistoryInputError, PrognosticsParameterError
/// (prognostics_bindings.cpp, models/equipment/prognostics.hpp). Needs
/// define_errors and define_store first.
void define_prognostics(pybind11::module_& m);
/// twinsim.read_tmy3 and twinsim.WeatherInputError (weather_bindings.cpp,
/// models/building/weather.hpp). Needs define_errors first.
void define_weather(pybind11::module_& m);

/// A store's graph: graph.ingest drops the message ids the store remembers
/// (DIR/message-ids.db, live/ingest/message_ids.hpp) and remembers those it
/// applies (ingest_bindings.cpp). Throws IoError. Needs the GIL.
void note_store_message_ids(const graph::TwinGraph& graph, const std::filesystem::path& directory);
/// Closes and forgets them (before the store closes). Needs the GIL.
void release_store_message_ids(const graph::TwinGraph* graph);

}  // namespace twinsim::python
