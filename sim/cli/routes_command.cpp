// `twinsim routes`: the event routes and file endpoints a durable store keeps
// (DIR/routes.json, sim/live/saved_routes.hpp). Every process that opens the
// store and changes its graph (`twinsim ingest --store`, `twinsim import
// --store`, Python's open_store) delivers its events along them.

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "graph_input.hpp"
#include "model_input.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/live/route_filter.hpp"
#include "twinsim/live/saved_routes.hpp"

namespace twinsim::cli {
namespace {

struct RoutesCommandOptions {
    std::string store;
    // add-endpoint
    std::string endpoint_name;
    std::string endpoint_file;
    std::uint64_t max_bytes = live::NdjsonFileEndpoint::Options{}.max_bytes;
    std::uint32_t keep = live::NdjsonFileEndpoint::Options{}.keep;
    std::string mqtt;                                ///< --mqtt URL: an MQTT endpoint instead of a file
    std::string mqtt_topic = "twinsim/{type}/{twin}";
    // add
    std::string route_id;
    std::string route_endpoint;
    std::string filter = "true";
    bool json = false;
};

void print_set(const live::SavedRouteSet& set, bool json) {
    if (json) {
        std::cout << live::saved_routes_text(set);
        return;
    }
    if (set.endpoints.empty()) std::cout << "no endpoints\n";
    for (const auto& e : set.endpoints)
        if (e.kind == "mqtt") std::cout << "endpoint " << e.name << ": MQTT " << e.url << " topic " << e.topic << " (QoS 1)\n";
        else if (e.kind == "webhook") std::cout << "endpoint " << e.name << ": webhook " << e.url << '\n';
        else std::cout << "endpoint " << e.name << ": NDJSON file " << e.path.string() << " (rotated at " << e.options.max_bytes
                  << " bytes, " << e.options.keep << " kept)\n";
    if (set.routes.empty()) std::cout << "no routes\n";
    for (const auto& r : set.routes) std::cout << "route " << r.id << " -> " << r.endpoint_name << ": " << r.filter << '\n';
}

// Opens the store (taking its lock, so no other process changes the routes
// meanwhile), starts its events and runs `edit` on them.
int with_store_routes(const RoutesCommandOptions& o, const std::function<void(live::StoreEvents&)>& edit) {
    LoadedGraph loaded;
    try {
        loaded = open_existing_store(o.store, /*allow_undefined_extensions=*/true);
    } catch (const live::StoreError& e) {
        return report_store_error(e);
    }
    try {
        live::StoreEvents events(loaded.target(), loaded.store->directory());
        edit(events);
        events.close();
    } catch (const live::RouteFilterError& e) {
        std::cerr << "twinsim: invalid filter: " << e.what() << '\n';
        return exit_invalid;
    } catch (const graph::NotFoundError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_invalid;
    }
    return exit_valid;
}

}  // namespace

Command add_routes_command(CLI::App& app) {
    auto o = std::make_shared<RoutesCommandOptions>();
    CLI::App* command = app.add_subcommand(
        "routes", "List and change the event routes and NDJSON file endpoints a durable store keeps (docs/events.md, "
                  "\"Saved routes\"); ingest and import into the store deliver their events along them");
    command->require_subcommand(1);
    auto store_option = [&](CLI::App* sub) {
        sub->add_option("--store", o->store, "The durable store's directory")->required();
    };

    CLI::App* list = command->add_subcommand("list", "Print the store's endpoints and routes");
    store_option(list);
    list->add_flag("--json", o->json, "Print the routes file's JSON");

    CLI::App* add_endpoint = command->add_subcommand(
        "add-endpoint", "Add an endpoint that appends each routed event to an NDJSON file, or (--mqtt) publishes it to an MQTT broker");
    store_option(add_endpoint);
    add_endpoint->add_option("NAME", o->endpoint_name, "The endpoint's name")->required();
    add_endpoint->add_option("FILE", o->endpoint_file, "The NDJSON file (created; appended to); not with --mqtt");
    add_endpoint->add_option("--mqtt", o->mqtt,
                             "Publish each event (the CloudEvent as JSON, QoS 1) to the broker mqtt://HOST[:PORT] instead");
    add_endpoint->add_option("--topic", o->mqtt_topic,
                             "With --mqtt: the topic template; {type}, {subject}, {twin} and {source} are replaced")
        ->capture_default_str();
    add_endpoint->add_option("--max-bytes", o->max_bytes, "Rotate the file before it would grow past this size")
        ->capture_default_str()->check(CLI::PositiveNumber);
    add_endpoint->add_option("--keep", o->keep, "Rotated files kept (FILE.1, FILE.2, ...)")->capture_default_str()->check(CLI::Range(0U, 1000U));

    CLI::App* remove_endpoint = command->add_subcommand("remove-endpoint", "Remove an endpoint (no route may use it)");
    store_option(remove_endpoint);
    remove_endpoint->add_option("NAME", o->endpoint_name, "The endpoint's name")->required();

    CLI::App* add = command->add_subcommand("add", "Create or replace an event route {id, endpointName, filter}");
    store_option(add);
    add->add_option("ID", o->route_id, "The route's id")->required();
    add->add_option("--endpoint", o->route_endpoint, "The endpoint it delivers to")->required();
    add->add_option("--filter", o->filter,
                    "ADT's route filter, e.g. \"type = 'Microsoft.DigitalTwins.Twin.Update'\" (default: true, every event)")
        ->capture_default_str();

    CLI::App* remove = command->add_subcommand("delete", "Delete an event route");
    store_option(remove);
    remove->add_option("ID", o->route_id, "The route's id")->required();

    command->footer("Exit status: 0 done; 1 an invalid filter, an unknown route or endpoint, a damaged store or routes "
                    "file; 2 usage error, a store that cannot be opened (missing, open in another process).");
    return {command, [o, list, add_endpoint, remove_endpoint, add, remove] {
                if (list->parsed())
                    return with_store_routes(*o, [&](live::StoreEvents& e) { print_set(e.saved().saved(), o->json); });
                if (add_endpoint->parsed() && o->mqtt.empty() == o->endpoint_file.empty()) {
                    std::cerr << "twinsim: error: routes add-endpoint: give the endpoint's FILE or --mqtt URL (one of them)\n";
                    return exit_usage;
                }
                if (add_endpoint->parsed())
                    return with_store_routes(*o, [&](live::StoreEvents& e) {
                        live::SavedFileEndpoint endpoint;
                        endpoint.name = o->endpoint_name;
                        endpoint.path = o->endpoint_file;
                        if (!o->mqtt.empty()) {
                            endpoint.kind = "mqtt";
                            endpoint.url = o->mqtt;
                            endpoint.topic = o->mqtt_topic;
                        }
                        endpoint.options.max_bytes = o->max_bytes;
                        endpoint.options.keep = o->keep;
                        e.saved().add_file_endpoint(std::move(endpoint));
                        std::cout << "added endpoint " << o->endpoint_name << '\n';
                    });
                if (remove_endpoint->parsed())
                    return with_store_routes(*o, [&](live::StoreEvents& e) {
                        e.saved().remove_endpoint(o->endpoint_name);
                        std::cout << "removed endpoint " << o->endpoint_name << '\n';
                    });
                if (add->parsed())
                    return with_store_routes(*o, [&](live::StoreEvents& e) {
                        e.saved().upsert_route({o->route_id, o->route_endpoint, o->filter});
                        std::cout << "route " << o->route_id << " -> " << o->route_endpoint << ": " << o->filter << '\n';
                    });
                return with_store_routes(*o, [&](live::StoreEvents& e) {
                    e.saved().delete_route(o->route_id);
                    std::cout << "deleted route " << o->route_id << '\n';
                });
            }};
}

}  // namespace twinsim::cli
