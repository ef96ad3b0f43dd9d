#pragma once
// The Azure Digital Twins data-plane REST API over a durable store, without
// any transport: a Request (method, raw target, headers, body) goes in, a
// Response (status, headers, JSON body) comes out. The HTTP server
// (http_server.hpp) is a thin shell around RestApi::handle, and tests and
// fuzz targets call handle directly. docs/service.md lists every operation,
// its action, status codes and limits.
//
// What each operation does lives below this layer: graph::adt (match
// conditions, model data, dependenciesFor, components, model patches), the
// graph's own writes, query::query_twins / continue_query, live telemetry
// and routes. This file maps URLs, headers and bodies onto those calls and
// their results and errors onto ADT's status codes, headers and error bodies.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace twinsim::live {
class Store;
class StoreEvents;
}  // namespace twinsim::live

namespace twinsim::service {

class AccessPolicy;
class EventSubscription;

/// The API versions accepted in ?api-version= (the Python SDK sends the
/// first, the JavaScript SDK the second).
inline constexpr std::string_view api_versions[] = {"2023-10-31", "2022-05-31"};

/// Limits of what a request may carry (docs/service.md, "Limits").
struct RequestLimits {
    std::size_t max_body_bytes = 8u << 20;      ///< 8 MiB: larger bodies get 413 PayloadTooLarge
    std::size_t max_target_bytes = 8192;        ///< request line target (the transport enforces it too)
    std::size_t max_page_size = 1000;           ///< max-items-per-page is capped at this
    std::size_t default_list_page_size = 100;   ///< lists without max-items-per-page
    std::size_t default_query_page_size = 100;  ///< queries without max-items-per-page
    std::size_t max_models_per_call = 250;      ///< POST /models (ADT's limit)
    std::size_t query_cursors = 512;            ///< continuation tokens remembered (their snapshots held)
    /// Import jobs read their input (and write their output log) only
    /// inside this directory; empty: import jobs are refused.
    std::filesystem::path import_directory;
    /// The what-if results files (HDF5, docs/results-format.md) the
    /// /results operations read: the regular files directly inside this
    /// directory (a name leaving it, through .. or a symbolic link, is
    /// refused); empty: /results answers 501.
    std::filesystem::path results_directory;
    std::size_t max_results_files = 1000;  ///< GET /results lists at most this many (by name)
    /// The PEM CAs that https webhooks created through PUT /endpoints/{name}
    /// check their server against (empty: the system's).
    std::filesystem::path webhook_ca;
};

/// One request as the transport received it.
struct Request {
    std::string method;  ///< "GET", "PUT", ...
    /// The raw request target: path and query, percent-encoded as sent
    /// ("/digitaltwins/room%201?api-version=2023-10-31").
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;  ///< names as sent (looked up case-insensitively)
    std::string body;
    /// "https://host:port" as the client addressed the server: nextLink
    /// URLs are built on it.
    std::string base_url;

    /// The first header of this name (ASCII case-insensitive), or nullopt.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;  ///< besides Content-Type
    std::string body;                                          ///< JSON text, empty for 204
    /// Set for GET /events: the transport streams this subscription's frames
    /// as text/event-stream (event_stream.hpp) instead of sending `body`.
    std::shared_ptr<EventSubscription> stream;
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

/// Every operation of the API (docs/service.md lists each with its REST
/// form and its ADT action).
enum class Operation : std::uint8_t {
    health,
    add_models, list_models, get_model, update_model, delete_model,
    query,
    get_twin, upsert_twin, update_twin, delete_twin,
    get_component, update_component,
    get_relationship, upsert_relationship, update_relationship, delete_relationship,
    list_relationships, list_incoming_relationships,
    publish_telemetry, publish_component_telemetry,
    list_event_routes, get_event_route, upsert_event_route, delete_event_route,
    list_endpoints, get_endpoint, upsert_endpoint, delete_endpoint,  ///< twinsim's: /endpoints (webhooks)
    event_stream,  ///< GET /events: twinsim's server-sent-events stream
    list_import_jobs, get_import_job, add_import_job, delete_import_job, cancel_import_job,
    list_delete_jobs, get_delete_job, add_delete_job,
    // twinsim's what-if results (not ADT's): GET /results, /results/{file},
    // /results/{file}/comparison, /results/{file}/sparkline
    list_results, get_results, compare_results, results_sparkline,
};
inline constexpr std::size_t operation_count = static_cast<std::size_t>(Operation::results_sparkline) + 1;

/// The operation's name as the Python SDK's method would say it ("get_digital_twin", ...).
[[nodiscard]] const char* to_string(Operation operation) noexcept;

/// What a request addresses, once its URL is parsed.
struct Route {
    Operation operation = Operation::health;
    std::string twin_id;          ///< /digitaltwins/{id}
    std::string relationship_id;  ///< /relationships/{relId}
    std::string component;        ///< /components/{path}
    std::string model_id;         ///< /models/{id}
    std::string event_route_id;   ///< /eventroutes/{id}
    std::string endpoint_name;    ///< /endpoints/{name}
    std::string job_id;           ///< /jobs/imports/{id}, /jobs/deletions/{id}
    std::string results_file;     ///< /results/{file}
};

/// An error as ADT reports it: status, code (body and x-ms-error-code) and message.
struct ApiError {
    int status = 400;
    std::string code;
    std::string message;
};

/// The Response ADT sends for `error`: {"error": {"code", "message"}} with
/// the x-ms-error-code header.
[[nodiscard]] Response error_response(const ApiError& error);

/// Splits and percent-decodes the target and finds the operation. Returns
/// an ApiError (404 NotFound for an unknown path, 405 MethodNotAllowed for
/// a known path with another method, 400 InvalidArgument for a bad escape,
/// an empty or over-long id segment, or a NUL or control character in one)
/// in `error` instead. Never throws for any input.
[[nodiscard]] std::optional<Route> parse_route(std::string_view method, std::string_view target, ApiError& error);

/// The REST API over one open store. Thread-safe: handle() may run on many
/// threads at once (the graph serialises its writers; reads work on
/// snapshots).
class RestApi {
public:
    /// `store` (and `events`, which may be null: then no event routes and
    /// telemetry is checked and recorded but not routed) must outlive the
    /// RestApi. With `access` (which must outlive it too) every operation
    /// but health needs a bearer token whose roles grant the operation's
    /// action (access.hpp): 401 without a valid token, 403 without the
    /// action or outside a scoped role's twins; a query answers only the
    /// twins the caller may read. Without it every request is allowed.
    RestApi(live::Store& store, live::StoreEvents* events, RequestLimits limits = {},
            const AccessPolicy* access = nullptr);
    RestApi(const RestApi&) = delete;
    RestApi& operator=(const RestApi&) = delete;
    ~RestApi();

    /// Answers one request. Never throws: every failure becomes an ADT
    /// error response (an unexpected exception: 500 InternalServerError).
    /// traceparent and tracestate are echoed.
    [[nodiscard]] Response handle(const Request& request);

    [[nodiscard]] const RequestLimits& limits() const noexcept;

    /// Stops the background work: import jobs still queued end cancelled,
    /// the running one is cancelled (its import rolls back) and waited for.
    /// Later import jobs are refused (503). Call it before closing the store;
    /// the destructor calls it too. Idempotent; never throws.
    void stop_jobs() noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::service
