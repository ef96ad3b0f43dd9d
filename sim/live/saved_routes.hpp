#pragma once
// Event routes and file endpoints that outlive the process: a store keeps
// them in DIR/routes.json, and every process that opens the store and routes
// its events (twinsim ingest / import --store, Python open_store) delivers to
// them (docs/events.md, "Saved routes").
//
// Only endpoints that can be rebuilt from a description are saved: NDJSON
// files, MQTT topics and webhooks. A callback endpoint belongs to the
// process that added it, and so does a route to one: SavedRoutes applies it
// to the router and does not write it to the file.
//
// The file is outside input (a user may edit it): read_saved_routes checks
// its size, nesting, every member's type and every filter before anything is
// applied.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "twinsim/live/errors.hpp"
#include "twinsim/live/routes.hpp"

namespace twinsim::live {

/// A routes file that cannot be used. The message names the file, the place
/// in it (a JSON pointer such as /routes/2/filter, or a line and column for
/// text that is not JSON) and why.
class SavedRoutesError : public LiveError {
public:
    using LiveError::LiveError;
};

/// The routes file refuses to grow past this (1 MiB): far more than any set
/// of routes needs, small enough to read at once.
inline constexpr std::uint64_t max_saved_routes_bytes = 1u << 20;
/// At most this many endpoints and this many routes.
inline constexpr std::size_t max_saved_routes = 1000;

/// An endpoint that is saved: appends each routed event to an NDJSON file
/// (NdjsonFileEndpoint with these options).
struct SavedFileEndpoint {
    SavedFileEndpoint() = default;
    /// An NDJSON file endpoint.
    SavedFileEndpoint(std::string name_, std::filesystem::path path_, NdjsonFileEndpoint::Options options_)
        : name(std::move(name_)), path(std::move(path_)), options(options_) {}
    std::string name;
    std::filesystem::path path;  ///< absolute
    NdjsonFileEndpoint::Options options;
    /// "ndjson" (the file above) or "mqtt": publish each event to the broker
    /// `url` (mqtt://HOST[:PORT]) on the topic made from the template `topic`
    /// (mqtt_endpoint.hpp), built by the factory register_saved_endpoint_kind
    /// installed (the twinsim program does; a program without it refuses the
    /// store's routes with SavedRoutesError).
    ///
    /// "webhook": POST each event to `url` (http:// or https://) as a
    /// CloudEvent, `path` being the PEM CA file an https server is checked
    /// against (empty: the system's); built by the factory the service
    /// registers (service::register_webhook_endpoint_kind).
    std::string kind = "ndjson";
    std::string url;
    std::string topic;
};

/// Builds an endpoint of a saved kind other than ndjson; throws what the
/// endpoint's constructor throws.
using SavedEndpointFactory = std::shared_ptr<Endpoint> (*)(const SavedFileEndpoint&);
/// Installs the factory of `kind` (process-wide; call before opening stores).
void register_saved_endpoint_kind(const std::string& kind, SavedEndpointFactory factory);
/// The endpoint a saved description stands for. Throws SavedRoutesError for a
/// kind without a factory, and what the endpoint's constructor throws.
[[nodiscard]] std::shared_ptr<Endpoint> make_saved_endpoint(const SavedFileEndpoint& endpoint);

struct SavedRouteSet {
    std::vector<SavedFileEndpoint> endpoints;  ///< by name
    std::vector<EventRoute> routes;            ///< by id
};

/// "<dir>/routes.json"
[[nodiscard]] std::filesystem::path saved_routes_file(const std::filesystem::path& store_directory);

/// Reads a routes file; a missing file is an empty set. Throws
/// SavedRoutesError (malformed JSON, a member of the wrong type, an unknown
/// member, a file over max_saved_routes_bytes, nesting over max_json_depth, a
/// duplicate name or id, a route to an endpoint the file does not have, a
/// filter that does not parse — each with where and why), IoError when the
/// file exists but cannot be read.
[[nodiscard]] SavedRouteSet read_saved_routes(const std::filesystem::path& file);
/// The same from text; `origin` names it in messages.
[[nodiscard]] SavedRouteSet parse_saved_routes(std::string_view text, const std::string& origin);
/// The file's text for a set (stable: sorted, indented).
[[nodiscard]] std::string saved_routes_text(const SavedRouteSet& set);
/// Writes the set atomically (a temporary file, fsynced, renamed over the
/// old one, the directory fsynced): after a crash the file holds the old set
/// or the new one. Throws IoError (the old file is then unchanged).
void write_saved_routes(const std::filesystem::path& file, const SavedRouteSet& set);

/// A store's saved routes, applied to the router of its graph. Every change
/// goes to the router first (which checks it) and then, when it concerns a
/// saved endpoint, to the file; when writing the file fails, the router
/// change is undone and IoError is thrown. Not thread-safe: one owner.
class SavedRoutes {
public:
    /// Reads `file` (read_saved_routes' errors) and adds its endpoints and
    /// routes to `router` (IoError when an endpoint's file cannot be opened).
    /// The router must outlive this object.
    SavedRoutes(std::filesystem::path file, EventRouter& router);

    [[nodiscard]] const SavedRouteSet& saved() const noexcept { return set_; }
    [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }

    /// Adds and saves an NDJSON file endpoint (a relative path is made
    /// absolute against the current directory). Throws what
    /// EventRouter::add_endpoint and NdjsonFileEndpoint throw, SavedRoutesError
    /// beyond max_saved_routes.
    void add_file_endpoint(SavedFileEndpoint endpoint);
    /// Removes an endpoint (saved or not). Throws as EventRouter::remove_endpoint.
    void remove_endpoint(const std::string& name);
    /// Creates or replaces a route; it is saved when its endpoint is a saved
    /// one (a route to a callback endpoint lives as long as the process).
    /// Throws as EventRouter::upsert_route.
    void upsert_route(const EventRoute& route);
    /// Throws graph::NotFoundError (EventRouteNotFound).
    void delete_route(const std::string& id);
    /// True when the route `id` is in the file.
    [[nodiscard]] bool is_saved_route(const std::string& id) const;

private:
    void save(const SavedRouteSet& next);
    std::filesystem::path file_;
    EventRouter* router_;
    SavedRouteSet set_;
};

/// A store's event router with its saved routes, as every front end that
/// opens a store starts it (twinsim ingest / import --store, Python).
///
/// The router's notifications are numbered on from the last number of the
/// previous StoreEvents of the same store that closed cleanly (kept in
/// <dir>/events-sequence); after a crash, numbering resumes from that saved
/// number plus the graph's change events committed since it was saved, so
/// change notifications never reuse a number (telemetry published by the
/// crashed process may; docs/events.md).
class StoreEvents {
public:
    /// Starts a router on `graph` (which may be destroyed first: close()
    /// then copes) with `options`; when options.dead_letter is
    /// empty it is <store_directory>/dead-letter-events.ndjson. Applies the
    /// saved routes. Throws what EventRouter's constructor and SavedRoutes throw.
    StoreEvents(graph::TwinGraph& graph, const std::filesystem::path& store_directory, RouterOptions options = {});
    StoreEvents(const StoreEvents&) = delete;
    StoreEvents& operator=(const StoreEvents&) = delete;
    /// close()
    ~StoreEvents();

    [[nodiscard]] EventRouter& router() noexcept { return *router_; }
    /// The router, sharing ownership with this object.
    [[nodiscard]] std::shared_ptr<EventRouter> shared_router() const noexcept { return router_; }
    [[nodiscard]] SavedRoutes& saved() noexcept { return *saved_; }
    /// Delivers what is queued (EventRouter::close), then saves the last
    /// notification number. Idempotent; never throws.
    void close() noexcept;

private:
    struct Tracker;
    std::filesystem::path sequence_file_;
    graph::TwinGraph* graph_;
    std::shared_ptr<Tracker> tracker_;  // the graph's last change-event sequence, and whether the graph lives
    graph::TwinGraph::ListenerId listener_ = 0;
    std::shared_ptr<EventRouter> router_;
    std::unique_ptr<SavedRoutes> saved_;
    bool closed_ = false;
};

}  // namespace twinsim::live
