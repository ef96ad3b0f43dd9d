// Event routes, endpoints and telemetry on twinsim.TwinGraph: thin methods
// over live::EventRouter (sim/live/routes.hpp), one router per graph, created
// on first use and closed (flushing what it queued) when the graph is
// garbage-collected or close_events() is called.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "bindings.hpp"
#include "time_argument.hpp"
#include "document_arguments.hpp"
#include "json_conversion.hpp"
#include "text_argument.hpp"
#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/live/route_filter.hpp"
#include "twinsim/live/routes.hpp"
#include "twinsim/live/saved_routes.hpp"
#include "twinsim/live/telemetry.hpp"

namespace py = pybind11;

namespace twinsim::python {

namespace {

using graph::TwinGraph;
using live::EventRouter;

PyObject* route_filter_error = nullptr;
PyObject* telemetry_error = nullptr;

struct GraphEvents {
    live::RouterOptions options;
    std::shared_ptr<EventRouter> router;
    /// A store's graph: its router is a StoreEvents, with the saved routes.
    std::shared_ptr<live::StoreEvents> store_events;
};

// One entry per TwinGraph that used events (the GIL guards the table).
std::unordered_map<const TwinGraph*, GraphEvents>& table() {
    static auto* t = new std::unordered_map<const TwinGraph*, GraphEvents>();
    return *t;
}

// Closes the graph's router (flushing it); `forget` also drops the options
// (the graph is gone).
void release_router(const TwinGraph* key, bool forget) {
    auto it = table().find(key);
    if (it == table().end()) return;
    std::shared_ptr<EventRouter> router = std::move(it->second.router);
    std::shared_ptr<live::StoreEvents> store_events = std::move(it->second.store_events);
    it->second.router.reset();
    it->second.store_events.reset();
    if (forget) table().erase(it);
    if (router) {
        py::gil_scoped_release release;  // workers may need the GIL for Python endpoints
        if (store_events) store_events->close();  // also saves the last sequence number
        router->close();
        router.reset();
        store_events.reset();
    }
}

// Graphs whose Python objects come and go while the graph stays (a store's
// graph: each `store.graph` may be a new wrapper). Their events are released
// by their owner (release_graph_events), not when a wrapper dies.
// The value is the store's directory (its saved routes).
std::unordered_map<const TwinGraph*, std::filesystem::path>& owned_elsewhere() {
    static auto* s = new std::unordered_map<const TwinGraph*, std::filesystem::path>();
    return *s;
}

// The saved routes of a store's graph; nullptr for another graph.
live::SavedRoutes* saved_routes_of(const py::object& self);

GraphEvents& entry_of(const py::object& self) {
    TwinGraph& graph = self.cast<TwinGraph&>();
    auto [it, added] = table().try_emplace(&graph);
    if (added && owned_elsewhere().count(&graph) == 0) {
        // When the graph object goes, its router is closed and forgotten.
        const TwinGraph* key = &graph;
        py::cpp_function on_gone([key](py::handle weak) {
            release_router(key, true);
            weak.dec_ref();
        });
        py::weakref weak(self, on_gone);
        weak.release();  // kept alive until the callback runs
    }
    return it->second;
}

// The graph's router, started on first use. Shared: a caller that releases
// the GIL keeps it alive even if close_events() runs meanwhile.
std::shared_ptr<EventRouter> router_of(const py::object& self) {
    if (auto& existing = entry_of(self).router) return existing;
    TwinGraph& graph = self.cast<TwinGraph&>();
    const live::RouterOptions options = entry_of(self).options;
    std::shared_ptr<EventRouter> made;
    std::shared_ptr<live::StoreEvents> made_store;
    const auto store = owned_elsewhere().find(&graph);
    {
        // Subscribing takes the graph's mutex, which a writer may hold while
        // a Python listener of the graph waits for the GIL.
        py::gil_scoped_release release;
        if (store != owned_elsewhere().end()) {
            made_store = std::make_shared<live::StoreEvents>(graph, store->second, options);
            made = made_store->shared_router();
        } else {
            made = std::make_shared<EventRouter>(graph, options);
        }
    }
    GraphEvents& entry = entry_of(self);
    if (!entry.router) {
        entry.router = std::move(made);
        entry.store_events = std::move(made_store);
    } else {  // another thread started one meanwhile
        py::gil_scoped_release release;
        if (made_store) made_store->close();
        made->close();
        made.reset();
        made_store.reset();
    }
    return entry.router;
}

std::chrono::milliseconds millis(double seconds, const char* name) {
    if (!(seconds >= 0.0) || seconds > 1e9) throw py::value_error(std::string(name) + " must be a number of seconds >= 0");
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0 + 0.5));
}

nlohmann::json payload_argument(const py::object& telemetry) {
    if (py::isinstance<py::str>(telemetry)) {
        const std::string text = telemetry.cast<std::string>();
        nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded()) throw py::value_error("telemetry: the str is not valid JSON");
        return j;
    }
    return to_json(telemetry);
}

std::map<std::string, std::string> units_argument(const py::object& units) {
    std::map<std::string, std::string> out;
    if (units.is_none()) return out;
    if (!py::isinstance<py::dict>(units)) throw py::type_error("units must be a dict of telemetry name to unit name");
    for (const auto& [k, v] : units.cast<py::dict>()) {
        if (!py::isinstance<py::str>(k) || !py::isinstance<py::str>(v))
            throw py::type_error("units must map str telemetry names to str unit names");
        out.emplace(k.cast<std::string>(), v.cast<std::string>());
    }
    return out;
}

std::uint64_t publish(const py::object& self, const std::string& twin_id, const std::string& component,
                      const py::object& telemetry, const py::object& message_id, const py::object& source_time,
                      const py::object& units) {
    const std::shared_ptr<EventRouter> router = router_of(self);
    const nlohmann::json payload = payload_argument(telemetry);
    std::string id;
    if (!message_id.is_none()) {
        if (!py::isinstance<py::str>(message_id)) throw py::type_error("message_id must be a str or None");
        id = message_id.cast<std::string>();
    }
    const auto when = optional_instant_argument(source_time, "source_time");
    const auto unit_map = units_argument(units);
    py::gil_scoped_release release;
    return router->publish_telemetry(twin_id, payload, std::move(id), when, component, unit_map);
}

// A Python callable as an endpoint: called with the event as a dict, on the
// endpoint's worker thread with the GIL; raising refuses the event.
std::shared_ptr<live::Endpoint> callback_endpoint(const py::object& callback) {
    std::shared_ptr<py::object> function(new py::object(callback), [](py::object* p) {
        py::gil_scoped_acquire gil;
        delete p;
    });
    return std::make_shared<live::CallbackEndpoint>([function](const live::Notification& n) {
        py::gil_scoped_acquire gil;
        try {
            (*function)(to_python(n.event));
        } catch (py::error_already_set& e) {
            throw std::runtime_error(std::string("the Python endpoint raised ") + e.what());
        }
    });
}

py::dict route_dict(const live::EventRoute& r) {
    return py::dict(py::arg("id") = r.id, py::arg("endpointName") = r.endpoint_name, py::arg("filter") = r.filter);
}

// ADT's DigitalTwinsEventRoute: a dict {endpointName|endpoint_name, filter}
// or an object with endpoint_name and filter attributes.
live::EventRoute route_argument(const std::string& id, const py::object& route) {
    live::EventRoute r;
    r.id = id;
    py::object endpoint;
    py::object filter;
    if (py::isinstance<py::dict>(route)) {
        const py::dict d = route.cast<py::dict>();
        if (d.contains("endpointName")) endpoint = d["endpointName"];
        else if (d.contains("endpoint_name")) endpoint = d["endpoint_name"];
        if (d.contains("filter")) filter = d["filter"];
    } else {
        if (py::hasattr(route, "endpoint_name")) endpoint = route.attr("endpoint_name");
        if (py::hasattr(route, "filter")) filter = route.attr("filter");
    }
    if (!endpoint || !py::isinstance<py::str>(endpoint))
        throw py::type_error("event_route needs endpointName (or endpoint_name) as a str");
    if (!filter || !py::isinstance<py::str>(filter)) throw py::type_error("event_route needs filter as a str");
    r.endpoint_name = endpoint.cast<std::string>();
    r.filter = filter.cast<std::string>();
    return r;
}

template <class F>
void method(py::object& cls, const char* name, F&& f, const char* doc, auto... extra) {
    cls.attr(name) = py::cpp_function(std::forward<F>(f), py::name(name), py::is_method(cls),
                                      py::sibling(py::getattr(cls, name, py::none())), extra..., doc);
}

}  // namespace

void keep_graph_events(const TwinGraph& graph, const std::filesystem::path& store_directory) {
    owned_elsewhere()[&graph] = store_directory;
}

namespace {
live::SavedRoutes* saved_routes_of(const py::object& self) {
    (void)router_of(self);
    const std::shared_ptr<live::StoreEvents>& e = entry_of(self).store_events;
    return e ? &e->saved() : nullptr;
}
}  // namespace

void release_graph_events(const TwinGraph* graph) {
    release_router(graph, true);
    owned_elsewhere().erase(graph);
}

void define_routes(py::module_& m) {
    const py::object twinsim_error = m.attr("TwinsimError");
    {
        py::dict attributes;
        attributes["line"] = 0;
        attributes["column"] = 0;
        const py::tuple bases = py::make_tuple(twinsim_error, py::handle(PyExc_ValueError));
        route_filter_error = new_exception(m, "RouteFilterError", bases.ptr(),
            "An event-route filter that does not parse or names something route filters do not know. Also a "
            "ValueError.\n\n.line, .column: where (1-based); the message says why.", attributes.ptr());
        py::handle(route_filter_error).attr("code") = py::str("EventRouteFilterInvalid");
    }
    {
        const py::tuple bases = py::make_tuple(twinsim_error, py::handle(PyExc_ValueError));
        telemetry_error = new_exception(m, "TelemetryError", bases.ptr(),
            "A telemetry message the twin's model refuses; the message names the twin, its model, the telemetry "
            "and why. Also a ValueError.", nullptr);
        py::handle(telemetry_error).attr("code") = py::str("TelemetryInvalid");
    }
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const live::RouteFilterError& e) {
            py::object error = py::handle(route_filter_error)(py::str(e.what()));
            error.attr("line") = e.line();
            error.attr("column") = e.column();
            PyErr_SetObject(route_filter_error, error.ptr());
        } catch (const live::TelemetryError& e) {
            PyErr_SetString(telemetry_error, e.what());
        }
    });

    py::object cls = m.attr("TwinGraph");
    method(cls, "configure_events",
           [](const py::object& self, const py::object& source, const py::object& queue_capacity,
              const std::string& backpressure, double block_timeout, std::uint32_t max_attempts, double initial_backoff,
              double max_backoff, const py::object& dead_letter, double close_timeout) {
               GraphEvents& e = entry_of(self);
               if (e.router)
                   throw py::value_error("configure_events: the graph's event router already runs (configure it "
                                         "before adding endpoints, routes or telemetry, or after close_events())");
               live::RouterOptions o;
               if (!source.is_none()) o.source = source.cast<std::string>();
               if (!queue_capacity.is_none()) {
                   const auto n = queue_capacity.cast<std::int64_t>();
                   if (n < 1) throw py::value_error("queue_capacity must be at least 1");
                   o.queue_capacity = static_cast<std::size_t>(n);
               }
               if (backpressure == "block") o.backpressure = live::Backpressure::block;
               else if (backpressure == "drop") o.backpressure = live::Backpressure::drop;
               else throw py::value_error("backpressure must be 'block' or 'drop', not '" + backpressure + "'");
               o.block_timeout = millis(block_timeout, "block_timeout");
               if (max_attempts < 1) throw py::value_error("max_attempts must be at least 1");
               o.max_attempts = max_attempts;
               o.initial_backoff = millis(initial_backoff, "initial_backoff");
               o.max_backoff = millis(max_backoff, "max_backoff");
               if (!dead_letter.is_none()) o.dead_letter = to_path(dead_letter);
               o.close_timeout = millis(close_timeout, "close_timeout");
               e.options = std::move(o);
           },
           "Sets how the graph's event router delivers (before its first use): source (the CloudEvents source "
           "of change events, default 'twinsim.local'), queue_capacity (10000), backpressure ('block': a writer "
           "waits up to block_timeout seconds for space, then the event is dropped; 'drop': dropped at once; "
           "dropped events are counted and dead-lettered), max_attempts, initial_backoff and max_backoff (retries "
           "of an endpoint that raises, in seconds, doubling), dead_letter (NDJSON file of events given up), "
           "close_timeout (seconds close_events() may take to deliver what is queued). See docs/events.md.",
           py::kw_only(), py::arg("source") = py::none(), py::arg("queue_capacity") = py::none(),
           py::arg("backpressure") = "block", py::arg("block_timeout") = 5.0, py::arg("max_attempts") = 5,
           py::arg("initial_backoff") = 0.1, py::arg("max_backoff") = 10.0, py::arg("dead_letter") = py::none(),
           py::arg("close_timeout") = 10.0);
    method(cls, "add_endpoint",
           [](const py::object& self, const std::string& name, const py::object& target, std::uint64_t max_bytes,
              std::uint32_t keep) {
               const std::shared_ptr<EventRouter> router = router_of(self);
               std::shared_ptr<live::Endpoint> endpoint;
               if (PyCallable_Check(target.ptr())) {
                   endpoint = callback_endpoint(target);
               } else {
                   live::NdjsonFileEndpoint::Options o;
                   o.max_bytes = max_bytes;
                   o.keep = keep;
                   if (live::SavedRoutes* saved = saved_routes_of(self)) {  // a store keeps it
                       saved->add_file_endpoint({name, to_path(target), o});
                       return;
                   }
                   endpoint = std::make_shared<live::NdjsonFileEndpoint>(to_path(target), o);
               }
               router->add_endpoint(name, std::move(endpoint));
           },
           "Adds an endpoint named `name`: a callable (called as callback(event) with each routed CloudEvent as a "
           "dict, on a delivery thread, never the writer's; raising refuses the event: it is retried, then "
           "dead-lettered), or a path (each event appended as one JSON line; the file is rotated when it would "
           "exceed max_bytes: <path> becomes <path>.1, <path>.1 becomes <path>.2..., keeping `keep` old files).",
           py::arg("name"), py::arg("target"), py::kw_only(), py::arg("max_bytes") = 64ull << 20, py::arg("keep") = 10);
    method(cls, "remove_endpoint",
           [](const py::object& self, const std::string& name) {
               const std::shared_ptr<EventRouter> router = router_of(self);
               live::SavedRoutes* saved = saved_routes_of(self);
               py::gil_scoped_release release;
               if (saved) saved->remove_endpoint(name);
               else router->remove_endpoint(name);
           },
           "Delivers what is queued for the endpoint, then removes it. Raises NotFoundError, TwinsimError while a "
           "route uses it.",
           py::arg("name"));
    method(cls, "list_endpoints", [](const py::object& self) { return router_of(self)->endpoint_names(); },
           "The endpoint names, sorted.");
    method(cls, "upsert_event_route",
           [](const py::object& self, const std::string& event_route_id, const py::object& event_route) {
               const live::EventRoute route = route_argument(event_route_id, event_route);
               if (live::SavedRoutes* saved = saved_routes_of(self)) saved->upsert_route(route);
               else router_of(self)->upsert_route(route);
           },
           "Creates or replaces an event route (ADT's upsert_event_route): event_route is a dict {'endpointName', "
           "'filter'} or an object with endpoint_name and filter. Raises RouteFilterError (with .line, .column), "
           "ValidationError (EventRouteEndpointInvalid) for an unknown endpoint.",
           py::arg("event_route_id"), py::arg("event_route"));
    method(cls, "add_event_route",
           [](const py::object& self, const std::string& route_id, const std::string& endpoint_name,
              const std::string& filter) {
               if (live::SavedRoutes* saved = saved_routes_of(self)) saved->upsert_route({route_id, endpoint_name, filter});
               else router_of(self)->upsert_route({route_id, endpoint_name, filter});
           },
           "upsert_event_route(route_id, {'endpointName': endpoint_name, 'filter': filter}).", py::arg("route_id"),
           py::arg("endpoint_name"), py::arg("filter") = "true");
    method(cls, "get_event_route",
           [](const py::object& self, const std::string& event_route_id) {
               return route_dict(router_of(self)->get_route(event_route_id));
           },
           "The route as a dict {id, endpointName, filter}. Raises NotFoundError (EventRouteNotFound).",
           py::arg("event_route_id"));
    method(cls, "list_event_routes",
           [](const py::object& self) {
               py::list out;
               for (const auto& r : router_of(self)->routes()) out.append(route_dict(r));
               return out;
           },
           "Every route as a dict {id, endpointName, filter}, by id.");
    method(cls, "delete_event_route",
           [](const py::object& self, const std::string& event_route_id) {
               if (live::SavedRoutes* saved = saved_routes_of(self)) saved->delete_route(event_route_id);
               else router_of(self)->delete_route(event_route_id);
           },
           "Deletes a route. Raises NotFoundError (EventRouteNotFound).", py::arg("event_route_id"));
    method(cls, "publish_telemetry",
           [](const py::object& self, const Text& digital_twin_id, const py::object& telemetry,
              const py::object& message_id, const py::object& source_time, const py::object& units) {
               return publish(self, digital_twin_id, {}, telemetry, message_id, source_time, units);
           },
           "Publishes telemetry of a twin (ADT's publish_telemetry): telemetry is a dict (or JSON text) of "
           "Telemetry names of the twin's model and values, checked against their DTDL schemas; units "
           "optionally gives the unit a number was measured in ({'temperature': 'degreeFahrenheit'}), converted "
           "to the Telemetry's unit. Changes no twin state; routed as a microsoft.iot.telemetry event with id = "
           "message_id (a UUID when None) and telemetrysourcetime = source_time (RFC 3339 str or aware datetime). "
           "Returns the event's sequence number. Raises TelemetryError, NotFoundError.",
           py::arg("digital_twin_id"), py::arg("telemetry"), py::arg("message_id") = py::none(), py::kw_only(),
           py::arg("source_time") = py::none(), py::arg("units") = py::none());
    method(cls, "publish_component_telemetry",
           [](const py::object& self, const Text& digital_twin_id, const std::string& component_name,
              const py::object& telemetry, const py::object& message_id, const py::object& source_time,
              const py::object& units) {
               return publish(self, digital_twin_id, component_name, telemetry, message_id, source_time, units);
           },
           "publish_telemetry for a component of the twin: checked against the component's model; the event's "
           "subject is the component name and its dataschema the component's model. Raises NotFoundError "
           "(ComponentNotFound) for an unknown component.",
           py::arg("digital_twin_id"), py::arg("component_name"), py::arg("telemetry"),
           py::arg("message_id") = py::none(), py::kw_only(), py::arg("source_time") = py::none(),
           py::arg("units") = py::none());
    method(cls, "flush_events",
           [](const py::object& self, double timeout) {
               const std::shared_ptr<EventRouter> router = router_of(self);
               const auto ms = millis(timeout, "timeout");
               py::gil_scoped_release release;
               return router->flush(ms);
           },
           "Waits until every queued event was delivered or dead-lettered; False if timeout (seconds) passed first.",
           py::arg("timeout") = 10.0);
    method(cls, "close_events",
           [](const py::object& self) { release_router(&self.cast<TwinGraph&>(), false); },
           "Stops routing: delivers what is queued (within close_timeout), closes the endpoints and forgets the "
           "routes and endpoints. A later event method starts a new router with the same configure_events settings.");
    method(cls, "event_stats",
           [](const py::object& self) {
               const live::RouterStats s = router_of(self)->stats();
               return py::dict(py::arg("published") = s.published, py::arg("delivered") = s.delivered,
                               py::arg("retries") = s.retries, py::arg("dead_lettered") = s.dead_lettered,
                               py::arg("dropped") = s.dropped, py::arg("queued") = s.queued,
                               py::arg("last_sequence") = s.last_sequence);
           },
           "Delivery counters as a dict: published, delivered, retries, dead_lettered, dropped, queued, "
           "last_sequence.");
}

std::shared_ptr<EventRouter> graph_router(const py::object& graph) { return router_of(graph); }

}  // namespace twinsim::python
