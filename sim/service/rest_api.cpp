#include "twinsim/service/rest_api.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <charconv>
#include <chrono>
#include <deque>
#include <fstream>
#include <istream>
#include <streambuf>
#include <thread>
#include <exception>
#include <map>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "twinsim/common/error.hpp"
#include "twinsim/common/json_depth.hpp"
#include "twinsim/common/time.hpp"
#include "twinsim/dtdl/diagnostic.hpp"
#include "twinsim/graph/adt_api.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/graph/ndjson.hpp"
#include "twinsim/io/errors.hpp"
#include "twinsim/io/results_reader.hpp"
#include "twinsim/live/route_filter.hpp"
#include "twinsim/live/saved_routes.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/live/telemetry.hpp"
#include "twinsim/query/query.hpp"
#include "twinsim/scenario/compare.hpp"
#include "twinsim/scenario/results_view.hpp"
#include "twinsim/service/access.hpp"
#include "twinsim/service/event_stream.hpp"

namespace twinsim::service {

using nlohmann::json;

namespace {

constexpr std::array<const char*, operation_count> operation_names{
    "health",
    "create_models", "list_models", "get_model", "decommission_model", "delete_model",
    "query_twins",
    "get_digital_twin", "upsert_digital_twin", "update_digital_twin", "delete_digital_twin",
    "get_component", "update_component",
    "get_relationship", "upsert_relationship", "update_relationship", "delete_relationship",
    "list_relationships", "list_incoming_relationships",
    "publish_telemetry", "publish_component_telemetry",
    "list_event_routes", "get_event_route", "upsert_event_route", "delete_event_route",
    "list_endpoints", "get_endpoint", "upsert_endpoint", "delete_endpoint",
    "event_stream",
    "list_import_jobs", "get_import_job", "add_import_job", "delete_import_job", "cancel_import_job",
    "list_delete_jobs", "get_delete_job", "add_delete_job",
    "list_results", "get_results", "compare_results", "results_sparkline",
};

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

std::optional<std::string_view> find_header(const std::vector<std::pair<std::string, std::string>>& headers,
                                            std::string_view name) {
    for (const auto& [key, value] : headers)
        if (iequals(key, name)) return std::string_view(value);
    return std::nullopt;
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Percent-decodes `in`; '+' becomes a space when `plus_is_space` (query
/// strings). nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return std::nullopt;
            const int hi = hex_value(in[i + 1]);
            const int lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

std::string percent_encode(std::string_view in) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : in) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' || u == '_' ||
            u == '.' || u == '~' || u == ':' || u == ';') {
            out += c;
        } else {
            out += '%';
            out += digits[u >> 4];
            out += digits[u & 15U];
        }
    }
    return out;
}

/// Ids in a path segment: not empty, at most 512 bytes, no control
/// characters, not "." or ".." (never read as a path step).
constexpr std::size_t max_id_bytes = 512;

bool valid_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > max_id_bytes || id == "." || id == "..") return false;
    return std::none_of(id.begin(), id.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

using Params = std::multimap<std::string, std::string, std::less<>>;

std::optional<Params> parse_params(std::string_view query) {
    Params params;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        const std::size_t eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!key || !value) return std::nullopt;
        params.emplace(std::move(*key), std::move(*value));
    }
    return params;
}

std::optional<std::string_view> param(const Params& params, std::string_view name) {
    const auto it = params.find(name);
    if (it == params.end()) return std::nullopt;
    return std::string_view(it->second);
}

/// A failure inside a handler, turned into its response by handle().
struct Failure {
    ApiError error;
};

[[noreturn]] void fail(int status, std::string code, std::string message) {
    throw Failure{ApiError{status, std::move(code), std::move(message)}};
}

/// ADT's status for an error code the library throws, and the code ADT
/// reports for it (the graph says DigitalTwinAlreadyExists where ADT, whose
/// create-only is an If-None-Match precondition, says PreconditionFailed).
std::pair<int, std::string> status_of(const std::string& code, int fallback) {
    static const std::unordered_map<std::string, std::pair<int, std::string>> table{
        {"DigitalTwinNotFound", {404, "DigitalTwinNotFound"}},
        {"RelationshipNotFound", {404, "RelationshipNotFound"}},
        {"ModelNotFound", {404, "ModelNotFound"}},
        {"ComponentNotFound", {404, "ComponentNotFound"}},
        {"EventRouteNotFound", {404, "EventRouteNotFound"}},
        {"TargetTwinNotFound", {400, "TargetTwinNotFound"}},
        {"PreconditionFailed", {412, "PreconditionFailed"}},
        {"DigitalTwinAlreadyExists", {412, "PreconditionFailed"}},
        {"RelationshipAlreadyExists", {412, "PreconditionFailed"}},
        {"ModelAlreadyExists", {409, "ModelAlreadyExists"}},
        {"ModelReferencesNotDeleted", {409, "ModelReferencesNotDeleted"}},
        {"ModelReferencesNotDecommissioned", {409, "ModelReferencesNotDecommissioned"}},
        {"RelationshipsNotDeleted", {400, "RelationshipsNotDeleted"}},
        {"EventRouteEndpointInvalid", {400, "EventRouteEndpointInvalid"}},
        {"EndpointNotFound", {400, "EventRouteEndpointInvalid"}},
    };
    const auto it = table.find(code);
    if (it != table.end()) return it->second;
    return {fallback, code.empty() ? std::string("BadRequest") : code};
}

json parse_body(const Request& request, const char* what) {
    if (request.body.empty()) fail(400, "InvalidArgument", std::string("the request has no body: expected ") + what);
    if (const auto at = find_json_depth_excess(request.body))
        fail(400, "InvalidArgument", "the body " + json_depth_reason() + " (at byte " + std::to_string(*at) + ")");
    try {
        return json::parse(request.body);
    } catch (const json::parse_error& e) {
        fail(400, "InvalidArgument", std::string("the body is not valid JSON (expected ") + what + "): " + e.what());
    }
}

void require_json_content(const Request& request, std::initializer_list<std::string_view> accepted) {
    const auto type = request.header("Content-Type");
    if (!type) return;  // ADT's SDKs always send one; curl users often forget it
    std::string_view media = *type;
    media = media.substr(0, media.find(';'));
    while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
    for (const std::string_view ok : accepted)
        if (iequals(media, ok)) return;
    std::string list;
    for (const std::string_view ok : accepted) list += (list.empty() ? "" : " or ") + std::string(ok);
    fail(415, "UnsupportedMediaType", "Content-Type " + std::string(*type) + " is not accepted here: send " + list);
}

std::string to_text(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

Response json_response(int status, const json& body) {
    Response r;
    r.status = status;
    r.body = to_text(body);
    return r;
}

Response no_content(std::optional<std::string> etag = std::nullopt) {
    Response r;
    r.status = 204;
    if (etag) r.headers.emplace_back("ETag", std::move(*etag));
    return r;
}

Response with_etag(Response r, const json& document) {
    const auto it = document.find("$etag");
    if (it != document.end() && it->is_string()) r.headers.emplace_back("ETag", it->get<std::string>());
    return r;
}

}  // namespace

const char* to_string(Operation operation) noexcept {
    const auto i = static_cast<std::size_t>(operation);
    return i < operation_names.size() ? operation_names[i] : "?";
}

std::optional<std::string_view> Request::header(std::string_view name) const { return find_header(headers, name); }
std::optional<std::string_view> Response::header(std::string_view name) const { return find_header(headers, name); }

Response error_response(const ApiError& error) {
    Response r;
    r.status = error.status;
    r.headers.emplace_back("x-ms-error-code", error.code);
    r.body = to_text(json{{"error", {{"code", error.code}, {"message", error.message}}}});
    return r;
}

std::optional<Route> parse_route(std::string_view method, std::string_view target, ApiError& error) {
    const auto bad = [&](int status, std::string code, std::string message) -> std::optional<Route> {
        error = ApiError{status, std::move(code), std::move(message)};
        return std::nullopt;
    };
    std::string_view path = target.substr(0, target.find('?'));
    if (path.empty() || path.front() != '/') return bad(400, "InvalidArgument", "the request target must start with /");
    std::vector<std::string> segments;
    std::size_t start = 1;
    while (start <= path.size()) {
        const std::size_t slash = path.find('/', start);
        const std::string_view raw = path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
        auto decoded = percent_decode(raw, false);
        if (!decoded) return bad(400, "InvalidArgument", "malformed percent-escape in the path segment '" + std::string(raw) + "'");
        segments.push_back(std::move(*decoded));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    if (!segments.empty() && segments.back().empty()) segments.pop_back();  // a trailing slash
    const std::size_t n = segments.size();
    for (std::size_t i = 1; i < n; i += 1) {
        if (!valid_id(segments[i]))
            return bad(400, "InvalidArgument",
                       "invalid id in the path (segment " + std::to_string(i + 1) +
                           "): ids are 1 to 512 bytes without control characters");
    }
    const auto allowed = [&](std::initializer_list<std::pair<std::string_view, Operation>> methods) -> std::optional<Route> {
        for (const auto& [m, op] : methods) {
            if (method == m) {
                Route route;
                route.operation = op;
                return route;
            }
        }
        std::string list;
        for (const auto& [m, op] : methods) list += (list.empty() ? "" : ", ") + std::string(m);
        return bad(405, "MethodNotAllowed", std::string(method) + " is not allowed on " + std::string(path) + " (allowed: " + list + ")");
    };
    const auto not_found = [&] { return bad(404, "NotFound", "no operation at " + std::string(path)); };
    if (n == 0) return not_found();
    const std::string& head = segments[0];
    std::optional<Route> route;
    if (head == "health" && n == 1) {
        route = allowed({{"GET", Operation::health}});
    } else if (head == "models") {
        if (n == 1) route = allowed({{"GET", Operation::list_models}, {"POST", Operation::add_models}});
        else if (n == 2)
            route = allowed({{"GET", Operation::get_model}, {"PATCH", Operation::update_model}, {"DELETE", Operation::delete_model}});
        else return not_found();
        if (route && n == 2) route->model_id = segments[1];
    } else if (head == "jobs" && n >= 2 && segments[1] == "imports") {
        if (n == 2) route = allowed({{"GET", Operation::list_import_jobs}});
        else if (n == 3)
            route = allowed({{"GET", Operation::get_import_job}, {"PUT", Operation::add_import_job},
                             {"DELETE", Operation::delete_import_job}});
        else if (n == 4 && segments[3] == "cancel") route = allowed({{"POST", Operation::cancel_import_job}});
        else return not_found();
        if (route && n >= 3) route->job_id = segments[2];
    } else if (head == "jobs" && n >= 2 && segments[1] == "deletions") {
        if (n == 2) route = allowed({{"GET", Operation::list_delete_jobs}, {"POST", Operation::add_delete_job}});
        else if (n == 3) route = allowed({{"GET", Operation::get_delete_job}});
        else return not_found();
        if (route && n == 3) route->job_id = segments[2];
    } else if (head == "results") {
        if (n == 1) route = allowed({{"GET", Operation::list_results}});
        else if (n == 2) route = allowed({{"GET", Operation::get_results}});
        else if (n == 3 && segments[2] == "comparison") route = allowed({{"GET", Operation::compare_results}});
        else if (n == 3 && segments[2] == "sparkline") route = allowed({{"GET", Operation::results_sparkline}});
        else return not_found();
        if (route && n >= 2) route->results_file = segments[1];
    } else if (head == "events" && n == 1) {
        route = allowed({{"GET", Operation::event_stream}});
    } else if (head == "query" && n == 1) {
        route = allowed({{"POST", Operation::query}});
    } else if (head == "eventroutes") {
        if (n == 1) route = allowed({{"GET", Operation::list_event_routes}});
        else if (n == 2)
            route = allowed({{"GET", Operation::get_event_route}, {"PUT", Operation::upsert_event_route},
                             {"DELETE", Operation::delete_event_route}});
        else return not_found();
        if (route && n == 2) route->event_route_id = segments[1];
    } else if (head == "endpoints") {
        if (n == 1) route = allowed({{"GET", Operation::list_endpoints}});
        else if (n == 2)
            route = allowed({{"GET", Operation::get_endpoint}, {"PUT", Operation::upsert_endpoint},
                             {"DELETE", Operation::delete_endpoint}});
        else return not_found();
        if (route && n == 2) route->endpoint_name = segments[1];
    } else if (head == "digitaltwins" && n >= 2) {
        const std::string& twin = segments[1];
        if (n == 2) {
            route = allowed({{"GET", Operation::get_twin}, {"PUT", Operation::upsert_twin}, {"PATCH", Operation::update_twin},
                             {"DELETE", Operation::delete_twin}});
        } else if (segments[2] == "telemetry" && n == 3) {
            route = allowed({{"POST", Operation::publish_telemetry}});
        } else if (segments[2] == "relationships" && n == 3) {
            route = allowed({{"GET", Operation::list_relationships}});
        } else if (segments[2] == "relationships" && n == 4) {
            route = allowed({{"GET", Operation::get_relationship}, {"PUT", Operation::upsert_relationship},
                             {"PATCH", Operation::update_relationship}, {"DELETE", Operation::delete_relationship}});
            if (route) route->relationship_id = segments[3];
        } else if (segments[2] == "incomingrelationships" && n == 3) {
            route = allowed({{"GET", Operation::list_incoming_relationships}});
        } else if (segments[2] == "components" && n == 4) {
            route = allowed({{"GET", Operation::get_component}, {"PATCH", Operation::update_component}});
            if (route) route->component = segments[3];
        } else if (segments[2] == "components" && n == 5 && segments[4] == "telemetry") {
            route = allowed({{"POST", Operation::publish_component_telemetry}});
            if (route) route->component = segments[3];
        } else {
            return not_found();
        }
        if (route) route->twin_id = twin;
    } else {
        return not_found();
    }
    return route;
}

// --- the API ---------------------------------------------------------------------------

struct RestApi::Impl {
    live::Store& store;
    live::StoreEvents* events;
    RequestLimits limits;
    const AccessPolicy* access;

    // Query continuation tokens and the snapshot each page was cut from, so
    // the next page reads the same graph version (bounded; oldest first out).
    std::mutex cursor_mutex;
    std::unordered_map<std::string, graph::Snapshot> cursors;
    std::deque<std::string> cursor_order;

    // GET /events: a router endpoint of our own and a route to it (in this
    // process only: a route to a callback endpoint is never saved), hidden
    // from the event-route operations. Attached while a stream is open:
    // the first GET /events attaches a fresh hub, and the first request
    // after the last stream closed detaches it, so without a stream open no
    // notification is built or delivered for it (with no endpoint at all,
    // the router only numbers them). Guarded by hub_mutex.
    static constexpr const char* stream_name = "twinsim-event-stream";
    std::mutex hub_mutex;
    std::shared_ptr<EventHub> hub;
    std::atomic<bool> hub_attached{false};

    Impl(live::Store& s, live::StoreEvents* e, RequestLimits l, const AccessPolicy* a)
        : store(s), events(e), limits(l), access(a) {}
    ~Impl() {
        stop_jobs();
        std::lock_guard lock(hub_mutex);
        detach_hub();
    }

    /// hub_mutex held.
    void detach_hub() noexcept {
        if (hub == nullptr) return;
        try {
            events->router().delete_route(stream_name);
            events->router().remove_endpoint(stream_name);
        } catch (const std::exception&) {
            // the router is closing: it closes the endpoint itself
        }
        hub->close();
        hub.reset();
        hub_attached.store(false, std::memory_order_relaxed);
    }

    /// After a request: detaches the stream's hub once no stream is open.
    void detach_idle_hub() noexcept {
        if (!hub_attached.load(std::memory_order_relaxed)) return;
        std::lock_guard lock(hub_mutex);
        if (hub != nullptr && hub->idle()) detach_hub();
    }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    /// The twin a notification is about: its subject before
    /// "/relationships/", or for telemetry the id in its source.
    static std::string event_twin(const json& event) {
        const std::string type = event.value("type", std::string());
        if (type == live::telemetry_event_type) {
            const std::string source = event.value("source", std::string());
            const std::size_t at = source.rfind("/digitaltwins/");
            return at == std::string::npos ? std::string() : source.substr(at + 14);
        }
        std::string subject = event.value("subject", std::string());
        const std::size_t rel = subject.find("/relationships/");
        return rel == std::string::npos ? subject : subject.substr(0, rel);
    }

    static std::string event_model(const json& event) {
        if (event.contains("dataschema") && event.at("dataschema").is_string()) return event.at("dataschema").get<std::string>();
        if (!event.contains("data") || !event.at("data").is_object()) return {};
        const json& data = event.at("data");
        if (data.contains("modelId") && data.at("modelId").is_string()) return data.at("modelId").get<std::string>();
        if (data.contains("$metadata") && data.at("$metadata").is_object())
            return data.at("$metadata").value("$model", std::string());
        return {};
    }

    // --- jobs. A delete job runs inside the request that starts it. An
    // import job is queued: PUT answers at once (status notstarted), one
    // background worker runs the queued imports in order (running, then
    // succeeded, failed or cancelled); GET polls it. Finished jobs are kept
    // for GET (the last 1000 of each kind) until deleted or the server stops.
    std::mutex job_mutex;
    std::condition_variable job_cv;
    std::map<std::string, json> import_jobs, delete_jobs;
    std::size_t delete_counter = 0;

    struct QueuedImport {
        std::string id;
        std::filesystem::path input;
        std::optional<std::filesystem::path> output;
        std::shared_ptr<std::atomic<bool>> cancel;
    };
    std::deque<QueuedImport> import_queue;  // guarded by job_mutex
    /// The cancel flags of the jobs not finished yet (queued or running).
    std::map<std::string, std::shared_ptr<std::atomic<bool>>> unfinished_imports;
    bool jobs_stopping = false;
    std::thread import_worker;  // started with the first import job

    /// Import jobs queued or running at once; one more is 400 JobLimitReached.
    static constexpr std::size_t max_unfinished_imports = 100;
    static constexpr std::size_t max_kept_jobs = 1000;

    static void keep(std::map<std::string, json>& jobs, const std::string& id, json job) {
        jobs[id] = std::move(job);
        trim(jobs);
    }

    /// Drops finished jobs (oldest id first) beyond max_kept_jobs; a job not
    /// finished is never dropped.
    static void trim(std::map<std::string, json>& jobs) {
        for (auto it = jobs.begin(); jobs.size() > max_kept_jobs && it != jobs.end();) {
            const std::string status = it->second.value("status", std::string());
            if (status == "notstarted" || status == "running" || status == "cancelling") ++it;
            else it = jobs.erase(it);
        }
    }

    /// Stops the import worker: queued jobs end cancelled, the running one is
    /// asked to stop (its import is rolled back) and waited for.
    void stop_jobs() noexcept {
        {
            std::lock_guard lock(job_mutex);
            jobs_stopping = true;
            for (auto& [id, flag] : unfinished_imports) flag->store(true);
        }
        job_cv.notify_all();
        if (import_worker.joinable()) import_worker.join();
    }

    /// A blob URI of an import job as a file inside the import directory:
    /// "file:///abs/path", an absolute path or one relative to the directory.
    /// Anything that leaves the directory (.., symbolic links) is refused.
    std::filesystem::path confined(const std::string& uri, const char* member) {
        if (limits.import_directory.empty())
            fail(400, "ValidationFailed", "import jobs are off: start the server with --import-dir DIR");
        std::string path = uri;
        if (path.rfind("file://", 0) == 0) path = path.substr(7);
        else if (path.find("://") != std::string::npos)
            fail(400, "ValidationFailed", std::string(member) + " must be a file path or a file:// URI inside the import directory, found " + uri);
        if (path.empty() || path.find('\0') != std::string::npos) fail(400, "ValidationFailed", std::string(member) + " is empty");
        std::error_code ec;
        const std::filesystem::path root = std::filesystem::weakly_canonical(limits.import_directory, ec);
        std::filesystem::path p = path;
        if (p.is_relative()) p = root / p;
        const std::filesystem::path resolved = std::filesystem::weakly_canonical(p, ec);
        const auto [end, _] = std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end());
        if (ec || end != root.end())
            fail(400, "ValidationFailed", std::string(member) + " " + uri + " is outside the import directory " + root.string());
        return resolved;
    }

    Response add_import_job(const Request& request, const Route& route) {
        const json body = parse_body(request, "an import job {\"inputBlobUri\", \"outputBlobUri\"}");
        if (!body.is_object() || !body.contains("inputBlobUri") || !body.at("inputBlobUri").is_string())
            fail(400, "ValidationFailed", "an import job needs \"inputBlobUri\"");
        const std::filesystem::path input = confined(body.at("inputBlobUri").get<std::string>(), "inputBlobUri");
        std::optional<std::filesystem::path> output;
        if (body.contains("outputBlobUri") && body.at("outputBlobUri").is_string())
            output = confined(body.at("outputBlobUri").get<std::string>(), "outputBlobUri");
        const std::string created = format_timestamp(now());
        json job{{"id", route.job_id}, {"inputBlobUri", body.at("inputBlobUri")},
                 {"outputBlobUri", body.value("outputBlobUri", std::string())}, {"status", "notstarted"},
                 {"createdDateTime", created}, {"lastActionDateTime", created}};
        {
            std::lock_guard lock(job_mutex);
            if (jobs_stopping) fail(503, "ServiceUnavailable", "the server is stopping: no new import job is started");
            if (import_jobs.count(route.job_id) != 0)
                fail(400, "ValidationFailed", "an import job with id " + route.job_id + " exists already");
            if (unfinished_imports.size() >= max_unfinished_imports)
                fail(400, "JobLimitReached", "there are " + std::to_string(unfinished_imports.size()) +
                                                 " import jobs queued or running, the limit; wait for one to finish");
            auto cancel = std::make_shared<std::atomic<bool>>(false);
            unfinished_imports[route.job_id] = cancel;
            import_queue.push_back(QueuedImport{route.job_id, input, output, cancel});
            keep(import_jobs, route.job_id, job);
            if (!import_worker.joinable()) import_worker = std::thread([this] { run_import_jobs(); });
        }
        job_cv.notify_all();
        return json_response(201, job);
    }

    /// The import worker: runs the queued jobs one after another until stop_jobs().
    void run_import_jobs() {
        std::unique_lock lock(job_mutex);
        for (;;) {
            job_cv.wait(lock, [&] { return jobs_stopping || !import_queue.empty(); });
            if (import_queue.empty()) return;  // stopping, nothing queued
            QueuedImport next = std::move(import_queue.front());
            import_queue.pop_front();
            const auto current = unfinished_imports.find(next.id);
            if (current == unfinished_imports.end() || current->second != next.cancel) continue;  // deleted and made anew
            const auto it = import_jobs.find(next.id);
            if (it == import_jobs.end()) {  // deleted while queued
                unfinished_imports.erase(current);
                continue;
            }
            if (next.cancel->load()) {
                finish_import(next, "cancelled", json(), json::array({json{{"level", "info"}, {"message", "cancelled before it started"}}}));
                continue;
            }
            it->second["status"] = "running";
            it->second["lastActionDateTime"] = format_timestamp(now());
            lock.unlock();
            std::string status;
            json error;
            json log = json::array();
            try {
                const graph::ImportStats stats = import_file(next.input, *next.cancel);
                status = "succeeded";
                log.push_back(json{{"level", "info"}, {"message", "imported " + std::to_string(stats.models) + " models, " +
                                                                  std::to_string(stats.twins) + " twins, " +
                                                                  std::to_string(stats.relationships) + " relationships"}});
            } catch (const graph::ImportError& e) {
                status = "failed";
                error = json{{"code", "ImportFailed"}, {"message", e.what()}};
                for (const graph::ImportProblem& p : e.problems())
                    log.push_back(json{{"level", "error"}, {"line", p.line}, {"section", p.section}, {"message", p.message}});
            } catch (const std::exception& e) {
                if (next.cancel->load()) {
                    status = "cancelled";
                    log.push_back(json{{"level", "info"}, {"message", "cancelled while running: nothing was imported"}});
                } else {
                    status = "failed";
                    error = json{{"code", "ImportFailed"}, {"message", e.what()}};
                    log.push_back(json{{"level", "error"}, {"message", e.what()}});
                }
            }
            lock.lock();
            finish_import(next, status, error, log);
        }
    }

    /// Records a job's end (job_mutex held) and writes its log to outputBlobUri.
    void finish_import(const QueuedImport& job, const std::string& status, const json& error, const json& log) {
        const auto current = unfinished_imports.find(job.id);
        const bool still_listed = current != unfinished_imports.end() && current->second == job.cancel;
        if (still_listed) unfinished_imports.erase(current);
        if (job.output) {
            std::ofstream out(*job.output, std::ios::trunc);
            for (const json& line : log) out << line.dump() << '\n';
        }
        if (!still_listed) return;  // deleted (and perhaps made anew with the same id) while running
        const auto it = import_jobs.find(job.id);
        if (it == import_jobs.end()) return;  // deleted while running
        const std::string finished = format_timestamp(now());
        it->second["status"] = status;
        it->second["finishedDateTime"] = finished;
        it->second["lastActionDateTime"] = finished;
        if (!error.is_null()) it->second["error"] = error;
        trim(import_jobs);
    }

    /// A file read for an import that a cancel interrupts: the next read after
    /// the flag is set fails, so the import stops there and rolls back.
    class CancellableFile final : public std::streambuf {
    public:
        CancellableFile(const std::filesystem::path& file, const std::atomic<bool>& cancel) : in_(file, std::ios::binary), cancel_(cancel) {}
        [[nodiscard]] bool is_open() const { return in_.is_open(); }

    protected:
        int_type underflow() override {
            if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
            if (cancel_.load()) throw std::runtime_error("the import job was cancelled");
            in_.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
            const std::streamsize n = in_.gcount();
            if (n <= 0) {
                if (in_.bad()) throw std::runtime_error("read error");
                return traits_type::eof();
            }
            setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
            return traits_type::to_int_type(*gptr());
        }

    private:
        std::ifstream in_;
        const std::atomic<bool>& cancel_;
        std::array<char, 1 << 16> buffer_{};
    };

    graph::ImportStats import_file(const std::filesystem::path& file, const std::atomic<bool>& cancel) {
        std::error_code ec;
        const auto status = std::filesystem::status(file, ec);
        if (!std::filesystem::exists(status)) throw IoError("cannot read " + file.string() + ": no such file");
        if (!std::filesystem::is_regular_file(status))
            throw IoError("cannot read " + file.string() + ": not a regular file (an import reads regular files only)");
        CancellableFile buffer(file, cancel);
        if (!buffer.is_open()) throw IoError("cannot read " + file.string() + ": it cannot be opened");
        std::istream in(&buffer);
        return graph::import_ndjson(graph(), in, file.string());
    }

    Response cancel_import_job(const std::string& id) {
        std::lock_guard lock(job_mutex);
        const auto it = import_jobs.find(id);
        if (it == import_jobs.end()) fail(404, "ImportJobNotFound", "no import job " + id);
        if (const auto flag = unfinished_imports.find(id); flag != unfinished_imports.end()) {
            flag->second->store(true);
            // Queued: ends cancelled when the worker reaches it; running: its
            // import stops at its next read and rolls back (or finishes first).
            it->second["status"] = "cancelling";
            it->second["lastActionDateTime"] = format_timestamp(now());
        }
        return json_response(200, it->second);
    }

    Response delete_import_job(const std::string& id) {
        std::lock_guard lock(job_mutex);
        if (import_jobs.erase(id) == 0) fail(404, "ImportJobNotFound", "no import job " + id);
        // A job not finished yet is cancelled: nothing of it is applied.
        if (const auto flag = unfinished_imports.find(id); flag != unfinished_imports.end()) flag->second->store(true);
        return no_content();
    }

    json job_of(std::map<std::string, json>& jobs, const std::string& id, const char* code) {
        std::lock_guard lock(job_mutex);
        const auto it = jobs.find(id);
        if (it == jobs.end()) fail(404, code, "no job " + id);
        return it->second;
    }

    std::vector<json> all_jobs(const std::map<std::string, json>& jobs) {
        std::lock_guard lock(job_mutex);
        std::vector<json> out;
        for (const auto& entry : jobs) out.push_back(entry.second);
        return out;
    }

    Response add_delete_job(const Request& request) {
        std::string id;
        {
            std::lock_guard lock(job_mutex);
            id = "delete-" + std::to_string(++delete_counter);
        }
        const std::string created = format_timestamp(now());
        json job{{"id", id}, {"createdDateTime", created}};
        try {
            (void)graph::adt::delete_all(graph());
            job["status"] = "succeeded";
        } catch (const twinsim::Error& e) {
            job["status"] = "failed";
            job["error"] = json{{"code", "DeleteJobFailed"}, {"message", e.what()}};
        }
        job["finishedDateTime"] = format_timestamp(now());
        {
            std::lock_guard lock(job_mutex);
            keep(delete_jobs, id, job);
        }
        Response r = json_response(202, job);
        r.headers.emplace_back("Operation-Location", request.base_url + "/jobs/deletions/" + percent_encode(id) +
                                                         "?api-version=" + std::string(api_versions[0]));
        return r;
    }

    // --- what-if results (--results DIR) -------------------------------------------------
    // Readers of the files asked for, kept while the file is unchanged (by
    // size and modification time), at most 8; HDF5 calls are serialised by
    // the io layer, so one reader serves many requests.
    struct CachedReader {
        std::filesystem::file_time_type modified;
        std::uintmax_t bytes = 0;
        std::shared_ptr<const io::ResultsReader> reader;
    };
    std::mutex results_mutex;
    std::map<std::filesystem::path, CachedReader> readers;

    std::filesystem::path results_root() {
        if (limits.results_directory.empty())
            fail(501, "NotImplemented", "no results files are served: start the server with --results DIR");
        std::error_code ec;
        const std::filesystem::path root = std::filesystem::weakly_canonical(limits.results_directory, ec);
        if (ec || !std::filesystem::is_directory(root, ec))
            fail(503, "ServiceUnavailable", "the results directory " + limits.results_directory.string() + " cannot be read");
        return root;
    }

    /// The results file `name` inside the results directory (404 when it is
    /// not a regular file there; a name leaving the directory is refused).
    std::shared_ptr<const io::ResultsReader> results_reader(const std::string& name) {
        const std::filesystem::path root = results_root();
        if (name == "." || name == ".." || name.find('/') != std::string::npos || name.find('\\') != std::string::npos)
            fail(400, "InvalidArgument", "a results file is named by its file name in the results directory, found '" + name + "'");
        std::error_code ec;
        const std::filesystem::path resolved = std::filesystem::weakly_canonical(root / name, ec);
        if (ec || resolved.parent_path() != root)
            fail(400, "InvalidArgument", "results file '" + name + "' is outside the results directory " + root.string());
        const auto status = std::filesystem::status(resolved, ec);
        if (ec || !std::filesystem::is_regular_file(status))
            fail(404, "ResultsFileNotFound", "no results file '" + name + "' in " + root.string());
        const auto modified = std::filesystem::last_write_time(resolved, ec);
        const std::uintmax_t bytes = std::filesystem::file_size(resolved, ec);
        {
            std::lock_guard lock(results_mutex);
            const auto it = readers.find(resolved);
            if (it != readers.end() && it->second.modified == modified && it->second.bytes == bytes) return it->second.reader;
        }
        std::shared_ptr<const io::ResultsReader> reader;
        try {
            reader = std::make_shared<const io::ResultsReader>(resolved);
        } catch (const io::ResultsError& e) {
            fail(422, "InvalidResultsFile", e.what());
        }
        std::lock_guard lock(results_mutex);
        if (readers.size() >= 8 && readers.count(resolved) == 0) readers.erase(readers.begin());
        readers[resolved] = CachedReader{modified, bytes, reader};
        return reader;
    }

    static void require_scenario(const io::ResultsReader& reader, const std::string& name, const std::string& file) {
        const std::vector<std::string> all = reader.scenarios();
        if (std::find(all.begin(), all.end(), name) != all.end()) return;
        std::string list;
        for (const std::string& s : all) list += (list.empty() ? "" : ", ") + s;
        fail(404, "ScenarioNotFound", "results file '" + file + "' has no scenario '" + name + "' (it has " + list + ")");
    }

    Response list_results() {
        const std::filesystem::path root = results_root();
        std::vector<std::pair<std::string, json>> files;
        std::error_code ec;
        for (std::filesystem::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
            std::error_code fe;
            if (!it->is_regular_file(fe)) continue;
            const std::string name = it->path().filename().string();
            const std::string ext = it->path().extension().string();
            if (ext != ".h5" && ext != ".hdf5" && ext != ".nc") continue;
            if (std::filesystem::weakly_canonical(it->path(), fe).parent_path() != root || fe) continue;  // a link out
            const auto modified = std::filesystem::last_write_time(it->path(), fe);
            const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(
                modified - std::filesystem::file_time_type::clock::now() + std::chrono::system_clock::now().time_since_epoch());
            files.emplace_back(name, json{{"name", name}, {"bytes", it->file_size(fe)},
                                          {"modified", format_timestamp(Timestamp{since.count()})}});
        }
        if (ec) fail(503, "ServiceUnavailable", "the results directory " + root.string() + " cannot be listed: " + ec.message());
        std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        json value = json::array();
        for (std::size_t i = 0; i < files.size() && i < limits.max_results_files; ++i) value.push_back(std::move(files[i].second));
        return json_response(200, json{{"value", std::move(value)}, {"truncated", files.size() > limits.max_results_files}});
    }

    Response results_sparkline(const Route& route, const Params& params) {
        const auto reader = results_reader(route.results_file);
        const auto scenario = param(params, "scenario");
        const auto series = param(params, "series");
        const auto twin = param(params, "twin");
        if (!scenario || !series || !twin)
            fail(400, "InvalidArgument", "a sparkline needs the query parameters scenario, series and twin");
        require_scenario(*reader, std::string(*scenario), route.results_file);
        const std::vector<std::string> names = reader->series_names(*scenario);
        if (std::find(names.begin(), names.end(), *series) == names.end())
            fail(404, "SeriesNotFound", "scenario '" + std::string(*scenario) + "' of '" + route.results_file +
                                            "' records no series '" + std::string(*series) + "'");
        std::size_t points = 200;
        if (const auto text = param(params, "points")) {
            const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), points);
            if (ec != std::errc() || end != text->data() + text->size() || points < 1 || points > scenario::max_sparkline_points)
                fail(400, "InvalidArgument", "points must be an integer from 1 to " +
                                                 std::to_string(scenario::max_sparkline_points) + ", found '" + std::string(*text) + "'");
        }
        try {
            return json_response(200, scenario::to_json(scenario::sparkline(*reader, *scenario, *series, *twin, points)));
        } catch (const io::ResultsError&) {
            throw;
        } catch (const twinsim::Error& e) {
            fail(404, "TwinNotRecorded", e.what());
        }
    }

    Response results(const Route& route, const Params& params) {
        try {
            switch (route.operation) {
                case Operation::list_results: return list_results();
                case Operation::get_results:
                    return json_response(200, scenario::describe_results(*results_reader(route.results_file)));
                case Operation::compare_results: {
                    const auto reader = results_reader(route.results_file);
                    const auto baseline = param(params, "baseline");
                    if (baseline) require_scenario(*reader, std::string(*baseline), route.results_file);
                    return json_response(200, scenario::to_json(scenario::compare(*reader, std::string(baseline.value_or("")))));
                }
                default: return results_sparkline(route, params);
            }
        } catch (const io::ResultsError& e) {
            fail(422, "InvalidResultsFile", e.what());
        }
    }

    Response event_stream(const Caller* caller) {
        if (events == nullptr) fail(501, "NotImplemented", "this server was started without events");
        EventSubscription::Admit admit;
        static constexpr std::string_view read = "Microsoft.DigitalTwins/digitaltwins/read";
        if (caller != nullptr && !caller->may_everywhere(read)) {
            admit = [this, who = *caller](const json& event) {
                const auto models = graph().snapshot().models();
                return who.may_on_twin(read, event_twin(event), event_model(event),
                                       [&](std::string_view m, std::string_view base) { return models->is_a(m, base); });
            };
        }
        Response r;
        r.status = 200;
        std::lock_guard lock(hub_mutex);
        if (hub == nullptr) {
            auto fresh = std::make_shared<EventHub>();
            events->router().add_endpoint(stream_name, fresh);
            try {
                events->router().upsert_route(live::EventRoute{stream_name, stream_name, "true"});
            } catch (...) {
                events->router().remove_endpoint(stream_name);
                throw;
            }
            hub = std::move(fresh);
            hub_attached.store(true, std::memory_order_relaxed);
        }
        r.stream = hub->subscribe(std::move(admit));
        return r;
    }

    graph::TwinGraph& graph() { return store.graph(); }

    std::size_t page_size(const Request& request, std::size_t fallback) const {
        const auto text = request.header("max-items-per-page");
        if (!text) return fallback;
        std::size_t value = 0;
        const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
        if (ec != std::errc() || end != text->data() + text->size() || value == 0)
            fail(400, "InvalidArgument", "max-items-per-page must be a positive integer, found '" + std::string(*text) + "'");
        return std::min(value, limits.max_page_size);
    }

    /// One page of a list: {"value": [...], "nextLink": absolute URL or null}.
    /// The position and page size travel in the nextLink's continuationToken
    /// ("<offset>.<size>"), with the request's own parameters.
    Response page(const Request& request, const Params& params, std::string_view path, std::vector<json> items) {
        std::size_t offset = 0;
        std::size_t size = page_size(request, limits.default_list_page_size);
        if (const auto token = param(params, "continuationToken")) {
            const std::size_t dot = token->find('.');
            std::size_t o = 0, s = 0;
            const auto parse = [](std::string_view t, std::size_t& v) {
                const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
                return ec == std::errc() && end == t.data() + t.size() && !t.empty();
            };
            if (dot == std::string_view::npos || !parse(token->substr(0, dot), o) || !parse(token->substr(dot + 1), s) ||
                s == 0)
                fail(400, "InvalidArgument", "invalid continuationToken '" + std::string(*token) + "'");
            offset = o;
            size = std::min(s, limits.max_page_size);
        }
        json value = json::array();
        const std::size_t end = std::min(items.size(), offset + size);
        for (std::size_t i = std::min(offset, items.size()); i < end; ++i) value.push_back(std::move(items[i]));
        json body{{"value", std::move(value)}, {"nextLink", nullptr}};
        if (end < items.size()) {
            std::string link = request.base_url + std::string(path) + "?";
            for (const auto& [key, v] : params) {
                if (key == "continuationToken") continue;
                link += percent_encode(key) + "=" + percent_encode(v) + "&";
            }
            link += "continuationToken=" + std::to_string(end) + "." + std::to_string(size);
            body["nextLink"] = link;
        }
        return json_response(200, body);
    }

    // --- models

    Response add_models(const Request& request) {
        require_json_content(request, {"application/json"});
        const json body = parse_body(request, "a JSON array of DTDL interfaces");
        if (!body.is_array()) fail(400, "InvalidArgument", "POST /models takes a JSON array of DTDL interfaces");
        if (body.empty()) fail(400, "InvalidArgument", "POST /models: the array of models is empty");
        if (body.size() > limits.max_models_per_call)
            fail(400, "LimitExceeded", "POST /models takes at most " + std::to_string(limits.max_models_per_call) +
                                           " models per call, found " + std::to_string(body.size()));
        std::vector<dtdl::Document> documents;
        documents.reserve(body.size());
        for (std::size_t i = 0; i < body.size(); ++i) documents.push_back({"<model " + std::to_string(i) + ">", to_text(body[i])});
        const std::vector<std::string> ids = graph().add_models(documents);
        const graph::Snapshot now = graph().snapshot();
        json out = json::array();
        for (const std::string& id : ids) out.push_back(graph::adt::model_data(now.get_model(id)));
        return json_response(201, out);
    }

    static bool flag(const Params& params, std::string_view name) {
        const auto text = param(params, name);
        if (!text) return false;
        if (*text == "true" || *text == "True") return true;
        if (*text == "false" || *text == "False") return false;
        fail(400, "InvalidArgument", std::string(name) + " must be true or false, found '" + std::string(*text) + "'");
    }

    Response list_models(const Request& request, const Params& params) {
        const bool definitions = flag(params, "includeModelDefinition");
        std::vector<std::string> wanted;
        for (auto [it, end] = params.equal_range("dependenciesFor"); it != end; ++it) {
            // The SDK repeats the parameter; a comma-separated list is accepted too.
            std::string_view rest = it->second;
            while (!rest.empty()) {
                const std::size_t comma = rest.find(',');
                if (comma != 0) wanted.emplace_back(rest.substr(0, comma));
                if (comma == std::string_view::npos) break;
                rest.remove_prefix(comma + 1);
            }
        }
        const graph::Snapshot snapshot = graph().snapshot();
        const std::vector<graph::ModelInfo> models =
            wanted.empty() ? snapshot.list_models() : graph::adt::dependencies_for(snapshot, wanted);
        std::vector<json> items;
        items.reserve(models.size());
        for (const graph::ModelInfo& model : models) items.push_back(graph::adt::model_data(model, definitions));
        return page(request, params, "/models", std::move(items));
    }

    // --- twins

    /// If-Match and If-None-Match of an upsert.
    static graph::WriteCondition upsert_condition(const Request& request) {
        graph::WriteCondition condition;
        if (const auto none = request.header("If-None-Match")) {
            if (*none != "*") fail(400, "InvalidArgument", "If-None-Match accepts only *, found '" + std::string(*none) + "'");
            condition.if_none_match = true;
        }
        if (const auto match = request.header("If-Match")) condition.if_match = std::string(*match);
        return condition;
    }

    static std::optional<std::string> if_match(const Request& request) {
        if (request.header("If-None-Match"))
            fail(400, "InvalidArgument", "If-None-Match applies to PUT only; use If-Match on PATCH and DELETE");
        if (const auto match = request.header("If-Match")) return std::string(*match);
        return std::nullopt;
    }

    json patch_body(const Request& request) {
        require_json_content(request, {"application/json-patch+json", "application/json"});
        json patch = parse_body(request, "a JSON Patch array");
        if (!patch.is_array()) fail(400, "JsonPatchInvalid", "the body must be a JSON Patch: an array of operations");
        return patch;
    }

    Response upsert_twin(const Request& request, const Route& route) {
        require_json_content(request, {"application/json"});
        const json twin = parse_body(request, "a digital twin");
        if (!twin.is_object()) fail(400, "InvalidArgument", "the body must be a digital twin (a JSON object)");
        const json stored = graph().upsert_twin(route.twin_id, twin, upsert_condition(request));
        return with_etag(json_response(200, stored), stored);
    }

    Response update_twin(const Request& request, const Route& route) {
        const json patch = patch_body(request);
        graph().update_twin(route.twin_id, patch, if_match(request));
        return no_content(etag_now(route.twin_id));
    }

    /// The twin's etag just after a write (a later writer may have moved it on).
    std::optional<std::string> etag_now(const std::string& twin_id) {
        try {
            return graph().snapshot().twin_etag(twin_id);
        } catch (const graph::NotFoundError&) {
            return std::nullopt;  // deleted meanwhile by another caller
        }
    }

    Response update_component(const Request& request, const Route& route) {
        const json patch = patch_body(request);
        graph::adt::update_component(graph(), route.twin_id, route.component, patch, if_match(request));
        return no_content(etag_now(route.twin_id));
    }

    // --- relationships

    Response upsert_relationship(const Request& request, const Route& route) {
        require_json_content(request, {"application/json"});
        const json body = parse_body(request, "a relationship");
        if (!body.is_object()) fail(400, "InvalidArgument", "the body must be a relationship (a JSON object)");
        const json stored = graph().upsert_relationship(route.twin_id, route.relationship_id, body, upsert_condition(request));
        return with_etag(json_response(200, stored), stored);
    }

    Response update_relationship(const Request& request, const Route& route) {
        const json patch = patch_body(request);
        graph().update_relationship(route.twin_id, route.relationship_id, patch, if_match(request));
        std::optional<std::string> etag;
        try {
            etag = graph().snapshot().get_relationship(route.twin_id, route.relationship_id).value("$etag", std::string());
        } catch (const graph::NotFoundError&) {
        }
        return no_content(etag);
    }

    // --- telemetry

    Response telemetry(const Request& request, const Route& route) {
        require_json_content(request, {"application/json"});
        const auto message_id = request.header("Message-Id");
        if (!message_id || message_id->empty())
            fail(400, "InvalidArgument", "telemetry needs the Message-Id header (the id of the message, for deduplication)");
        std::optional<Timestamp> source_time;
        if (const auto text = request.header("Telemetry-Source-Time")) {
            std::string why;
            source_time = parse_timestamp(*text, &why);
            if (!source_time)
                fail(400, "InvalidArgument", "Telemetry-Source-Time must be an RFC 3339 date-time, found '" + std::string(*text) +
                                                 "'" + (why.empty() ? "" : ": " + why));
        }
        const json payload = parse_body(request, "a telemetry object");
        const graph::Snapshot snapshot = graph().snapshot();
        const live::TelemetryMessage message = live::check_telemetry(snapshot, route.twin_id, route.component, payload);
        store.record_telemetry(message.twin_id, message.component, message.model_id, message.payload, now(), source_time);
        if (events != nullptr)
            events->router().publish_telemetry(route.twin_id, payload, std::string(*message_id), source_time, route.component);
        return no_content();
    }

    static Timestamp now() { return utc_now(); }

    // --- query

    /// Drops the rows a scoped caller may not read: a twin row (SELECT *),
    /// a row of twins (SELECT A, B with JOIN/MATCH: every twin must be
    /// readable), a relationship row (its source twin). Rows of plain values
    /// (projections, COUNT) cannot be checked twin by twin: a caller with only
    /// scoped read gets 403 for them.
    void filter_rows(query::QueryResult& result, const Caller& caller, const graph::Snapshot& snapshot) {
        static constexpr std::string_view read = "Microsoft.DigitalTwins/digitaltwins/read";
        if (caller.may_everywhere(read)) return;
        const auto models = snapshot.models();
        const auto is_a = [&](std::string_view m, std::string_view base) { return models->is_a(m, base); };
        const auto readable_twin = [&](const json& twin) {
            const std::string id = twin.value("$dtId", std::string());
            std::string model;
            if (twin.contains("$metadata") && twin.at("$metadata").is_object())
                model = twin.at("$metadata").value("$model", std::string());
            return caller.may_on_twin(read, id, model, is_a);
        };
        std::vector<json> kept;
        for (json& row : result.rows) {
            bool ok = true;
            if (row.is_object() && row.contains("$dtId")) {
                ok = readable_twin(row);
            } else if (row.is_object() && row.contains("$sourceId")) {
                const std::string source = row.value("$sourceId", std::string());
                ok = snapshot.contains(source) && readable_twin(snapshot.get_twin(source));
            } else {
                bool any_twin = false;
                for (const auto& [key, value] : row.items()) {
                    if (value.is_object() && value.contains("$dtId")) {
                        any_twin = true;
                        ok = ok && readable_twin(value);
                    }
                }
                if (!any_twin)
                    fail(403, "Forbidden", "the caller " + caller.subject +
                                               " may read only some twins (a scoped role): its queries must return twins "
                                               "(SELECT * or SELECT <aliases>), not projections or counts");
            }
            if (ok) kept.push_back(std::move(row));
        }
        result.rows = std::move(kept);
    }

    Response query(const Request& request, const Params& params, const Caller* caller) {
        require_json_content(request, {"application/json"});
        // ?as-of=TIME (twinsim's): the query reads the graph as it was then
        // (Store::snapshot_at, docs/store.md "Time travel"); its continuation
        // tokens keep reading that past graph.
        std::optional<Timestamp> as_of;
        if (const auto text = param(params, "as-of")) {
            std::string why;
            as_of = parse_timestamp(*text, &why);
            if (!as_of)
                fail(400, "InvalidArgument", "as-of \"" + std::string(*text) +
                                                 "\" is not an RFC 3339 time such as 2026-07-14T14:00:00Z (" + why + ")");
        }
        const json body = parse_body(request, "{\"query\": ...} or {\"continuationToken\": ...}");
        if (!body.is_object()) fail(400, "InvalidArgument", "the body must be {\"query\": \"SELECT ...\"}");
        query::QueryOptions options;
        options.page_size = page_size(request, limits.default_query_page_size);
        query::QueryResult result;
        const auto token = body.find("continuationToken");
        if (token != body.end() && token->is_string() && !token->get<std::string>().empty()) {
            const std::string text = token->get<std::string>();
            graph::Snapshot snapshot = cursor(text);
            result = query::continue_query(snapshot, text, options);
            remember(result.continuation_token, snapshot);
            if (caller != nullptr) filter_rows(result, *caller, snapshot);
        } else {
            const auto q = body.find("query");
            if (q == body.end() || !q->is_string() || q->get<std::string>().empty())
                fail(400, "InvalidArgument", "the body must hold \"query\": the query text");
            if (q->get<std::string>().size() > 8000 * 4)
                fail(400, "LimitExceeded", "the query text is longer than 32,000 characters");
            graph::Snapshot snapshot = as_of ? store.snapshot_at(*as_of) : graph().snapshot();
            result = query::query_twins(snapshot, q->get<std::string>(), options);
            remember(result.continuation_token, snapshot);
            if (caller != nullptr) filter_rows(result, *caller, snapshot);
        }
        Response r = json_response(200, result.to_json());
        const double charge = 1.0 + static_cast<double>(result.stats.rows_examined) / 1000.0;
        char text[32];
        std::snprintf(text, sizeof text, "%.2f", charge);
        r.headers.emplace_back("query-charge", text);
        return r;
    }

    graph::Snapshot cursor(const std::string& token) {
        std::lock_guard lock(cursor_mutex);
        const auto it = cursors.find(token);
        if (it != cursors.end()) return it->second;
        return graph().snapshot();  // forgotten: the library says whether it still applies
    }

    void remember(const std::string& token, const graph::Snapshot& snapshot) {
        if (token.empty() || limits.query_cursors == 0) return;
        std::lock_guard lock(cursor_mutex);
        if (!cursors.emplace(token, snapshot).second) return;
        cursor_order.push_back(token);
        while (cursor_order.size() > limits.query_cursors) {
            cursors.erase(cursor_order.front());
            cursor_order.pop_front();
        }
    }

    // --- event routes

    static json route_json(const live::EventRoute& route) {
        return json{{"id", route.id}, {"endpointName", route.endpoint_name}, {"filter", route.filter}};
    }

    live::StoreEvents& routes() {
        if (events == nullptr) fail(501, "NotImplemented", "this server was started without event routes");
        return *events;
    }

    /// Serialises changes to the saved routes (SavedRoutes has one owner at a time).
    std::mutex saved_routes_mutex;

    // --- endpoints (twinsim's; ADT configures endpoints in its control plane):
    // webhooks created here are saved in the store's routes.json with the
    // routes to them, so both outlive a restart (docs/service.md, "Events").

    static json endpoint_json(const std::string& name, const live::SavedFileEndpoint* saved) {
        if (saved == nullptr) return json{{"name", name}, {"endpointType", "process"}};
        json out{{"name", name}, {"endpointType", saved->kind}};
        if (saved->kind == "webhook") out["url"] = saved->url;
        else if (saved->kind == "mqtt") out.update(json{{"url", saved->url}, {"topic", saved->topic}});
        else out["path"] = saved->path.string();
        return out;
    }

    static const live::SavedFileEndpoint* saved_endpoint(const live::SavedRouteSet& set, const std::string& name) {
        for (const live::SavedFileEndpoint& e : set.endpoints)
            if (e.name == name) return &e;
        return nullptr;
    }

    std::vector<json> list_endpoints() {
        live::StoreEvents& r = routes();
        std::lock_guard lock(saved_routes_mutex);
        std::vector<json> out;
        for (const std::string& name : r.router().endpoint_names())
            if (name != stream_name) out.push_back(endpoint_json(name, saved_endpoint(r.saved().saved(), name)));
        return out;
    }

    json get_endpoint(const std::string& name) {
        live::StoreEvents& r = routes();
        std::lock_guard lock(saved_routes_mutex);
        const std::vector<std::string> names = r.router().endpoint_names();
        if (name == stream_name || std::find(names.begin(), names.end(), name) == names.end())
            fail(404, "EndpointNotFound", "no endpoint " + name);
        return endpoint_json(name, saved_endpoint(r.saved().saved(), name));
    }

    Response upsert_endpoint(const Request& request, const Route& route) {
        require_json_content(request, {"application/json"});
        const json body = parse_body(request, "an endpoint {\"endpointType\": \"webhook\", \"url\"}");
        if (!body.is_object()) fail(400, "InvalidArgument", "the body must be an endpoint {\"endpointType\": \"webhook\", \"url\"}");
        for (auto it = body.begin(); it != body.end(); ++it)
            if (const std::string& key = it.key(); key != "endpointType" && key != "url" && key != "name")
                fail(400, "InvalidArgument", "unknown member \"" + key + "\" in the endpoint (known: endpointType, url)");
        const auto type = body.find("endpointType");
        if (type == body.end() || !type->is_string() || !iequals(type->get<std::string>(), "webhook"))
            fail(400, "InvalidArgument", "\"endpointType\" must be \"webhook\" (the only kind created through the API)");
        const auto url = body.find("url");
        if (url == body.end() || !url->is_string() ||
            (url->get<std::string>().rfind("http://", 0) != 0 && url->get<std::string>().rfind("https://", 0) != 0))
            fail(400, "InvalidArgument", "\"url\" must be the webhook's http:// or https:// URL");
        live::StoreEvents& r = routes();
        std::lock_guard lock(saved_routes_mutex);
        if (route.endpoint_name == stream_name) fail(400, "InvalidArgument", "the endpoint name " + route.endpoint_name + " is reserved");
        const std::vector<std::string> names = r.router().endpoint_names();
        if (std::find(names.begin(), names.end(), route.endpoint_name) != names.end()) {
            const live::SavedFileEndpoint* saved = saved_endpoint(r.saved().saved(), route.endpoint_name);
            if (saved != nullptr && saved->kind == "webhook" && saved->url == url->get<std::string>() &&
                saved->path == limits.webhook_ca)
                return json_response(200, endpoint_json(route.endpoint_name, saved));
            fail(409, "EndpointAlreadyExists", "an endpoint named " + route.endpoint_name +
                                                   " exists with another description: delete it first (no route may use it)");
        }
        live::SavedFileEndpoint endpoint;
        endpoint.name = route.endpoint_name;
        endpoint.kind = "webhook";
        endpoint.url = url->get<std::string>();
        endpoint.path = limits.webhook_ca;
        r.saved().add_file_endpoint(endpoint);
        return json_response(201, endpoint_json(endpoint.name, saved_endpoint(r.saved().saved(), endpoint.name)));
    }

    Response delete_endpoint(const Route& route) {
        live::StoreEvents& r = routes();
        std::lock_guard lock(saved_routes_mutex);
        const std::vector<std::string> names = r.router().endpoint_names();
        if (route.endpoint_name == stream_name || std::find(names.begin(), names.end(), route.endpoint_name) == names.end())
            fail(404, "EndpointNotFound", "no endpoint " + route.endpoint_name);
        for (const live::EventRoute& er : r.router().routes())
            if (er.endpoint_name == route.endpoint_name)
                fail(409, "EndpointInUse", "the endpoint " + route.endpoint_name + " is used by the event route " + er.id +
                                               ": delete the route first");
        r.saved().remove_endpoint(route.endpoint_name);
        return no_content();
    }

    Response upsert_event_route(const Request& request, const Route& route) {
        require_json_content(request, {"application/json"});
        const json body = parse_body(request, "an event route {\"endpointName\", \"filter\"}");
        if (!body.is_object()) fail(400, "InvalidArgument", "the body must be an event route {\"endpointName\", \"filter\"}");
        const auto endpoint = body.find("endpointName");
        const auto filter = body.find("filter");
        if (endpoint == body.end() || !endpoint->is_string() || endpoint->get<std::string>().empty())
            fail(400, "EventRouteEndpointInvalid", "the event route needs \"endpointName\": the name of an endpoint");
        if (filter == body.end() || !filter->is_string())
            fail(400, "EventRouteFilterInvalid", "the event route needs \"filter\": a filter text such as \"true\"");
        try {
            live::StoreEvents& r = routes();
            std::lock_guard lock(saved_routes_mutex);
            r.saved().upsert_route(live::EventRoute{route.event_route_id, endpoint->get<std::string>(), filter->get<std::string>()});
        } catch (const live::RouteFilterError& e) {
            fail(400, "EventRouteFilterInvalid", e.what());
        }
        return no_content();
    }

    /// 403 unless the caller may do the route's operation (and, for a twin,
    /// on that twin: its model is the stored twin's, or for a create the
    /// body's $metadata.$model).
    void authorize(const Request& request, const Route& route, const Caller& caller) {
        const char* action = action_of(route.operation);
        if (action == nullptr) return;
        const std::string who = caller.subject.empty() ? std::string("the caller") : "the caller " + caller.subject;
        if (!caller.may(action))
            fail(403, "Forbidden", who + " has no role that grants " + action + " (needed by " + to_string(route.operation) + ")");
        if (!route.results_file.empty() || route.operation == Operation::list_results) {
            // A results file holds runs of the whole graph: no twin scope narrows it.
            if (!caller.may_everywhere(action))
                fail(403, "Forbidden", who + " has " + action + " only within a scope; results files cover every twin and need it "
                                             "without a scope (needed by " + to_string(route.operation) + ")");
            return;
        }
        if (route.twin_id.empty() || caller.may_everywhere(action)) return;
        const graph::Snapshot snapshot = graph().snapshot();
        std::string model;
        if (snapshot.contains(route.twin_id)) {
            model = snapshot.get_twin(route.twin_id).at("$metadata").value("$model", std::string());
        } else if (route.operation == Operation::upsert_twin) {
            const json body = json::parse(request.body, nullptr, false);
            if (body.is_object() && body.contains("$metadata") && body.at("$metadata").is_object())
                model = body.at("$metadata").value("$model", std::string());
        }
        const auto models = snapshot.models();
        if (!caller.may_on_twin(action, route.twin_id, model,
                                [&](std::string_view m, std::string_view base) { return models->is_a(m, base); }))
            fail(403, "Forbidden", who + " may not " + action + " on twin " + route.twin_id +
                                       ": it is outside the scope of the caller's roles");
    }

    Response dispatch(const Request& request, const Route& route, const Params& params, const Caller* caller) {
        switch (route.operation) {
            case Operation::health: {
                const live::StoreStats stats = store.stats();
                const graph::Snapshot snapshot = graph().snapshot();
                return json_response(200, json{{"status", "healthy"},
                                               {"twins", snapshot.twin_count()},
                                               {"relationships", snapshot.relationship_count()},
                                               {"durableBatch", stats.durable_batch}});
            }
            case Operation::add_models: return add_models(request);
            case Operation::list_models: return list_models(request, params);
            case Operation::get_model:
                return json_response(200, graph::adt::model_data(graph().snapshot().get_model(route.model_id),
                                                                 flag(params, "includeModelDefinition")));
            case Operation::update_model:
                graph::adt::update_model(graph(), route.model_id, patch_body(request));
                return no_content();
            case Operation::delete_model: graph().delete_model(route.model_id); return no_content();
            case Operation::query: return query(request, params, caller);
            case Operation::get_twin: {
                const json twin = graph().snapshot().get_twin(route.twin_id);
                return with_etag(json_response(200, twin), twin);
            }
            case Operation::upsert_twin: return upsert_twin(request, route);
            case Operation::update_twin: return update_twin(request, route);
            case Operation::delete_twin: graph().delete_twin(route.twin_id, if_match(request)); return no_content();
            case Operation::get_component: {
                const graph::Snapshot snapshot = graph().snapshot();
                Response r = json_response(200, graph::adt::get_component(snapshot, route.twin_id, route.component));
                r.headers.emplace_back("ETag", snapshot.twin_etag(route.twin_id));
                return r;
            }
            case Operation::update_component: return update_component(request, route);
            case Operation::get_relationship: {
                const json rel = graph().snapshot().get_relationship(route.twin_id, route.relationship_id);
                return with_etag(json_response(200, rel), rel);
            }
            case Operation::upsert_relationship: return upsert_relationship(request, route);
            case Operation::update_relationship: return update_relationship(request, route);
            case Operation::delete_relationship:
                graph().delete_relationship(route.twin_id, route.relationship_id, if_match(request));
                return no_content();
            case Operation::list_relationships: {
                const auto name = param(params, "relationshipName");
                const graph::Snapshot snapshot = graph().snapshot();
                (void)snapshot.get_twin(route.twin_id);  // DigitalTwinNotFound
                return page(request, params, "/digitaltwins/" + percent_encode(route.twin_id) + "/relationships",
                            snapshot.list_relationships(route.twin_id, name.value_or(std::string_view{})));
            }
            case Operation::list_incoming_relationships: {
                const graph::Snapshot snapshot = graph().snapshot();
                (void)snapshot.get_twin(route.twin_id);
                return page(request, params, "/digitaltwins/" + percent_encode(route.twin_id) + "/incomingrelationships",
                            snapshot.list_incoming_relationships(route.twin_id));
            }
            case Operation::publish_telemetry:
            case Operation::publish_component_telemetry: return telemetry(request, route);
            case Operation::list_event_routes: {
                std::vector<json> items;
                for (const live::EventRoute& r : routes().router().routes())
                    if (r.id != stream_name) items.push_back(route_json(r));
                return page(request, params, "/eventroutes", std::move(items));
            }
            case Operation::get_event_route:
                return json_response(200, route_json(routes().router().get_route(route.event_route_id)));
            case Operation::upsert_event_route: return upsert_event_route(request, route);
            case Operation::delete_event_route: {
                live::StoreEvents& r = routes();
                std::lock_guard lock(saved_routes_mutex);
                r.saved().delete_route(route.event_route_id);
                return no_content();
            }
            case Operation::list_endpoints: return page(request, params, "/endpoints", list_endpoints());
            case Operation::get_endpoint: return json_response(200, get_endpoint(route.endpoint_name));
            case Operation::upsert_endpoint: return upsert_endpoint(request, route);
            case Operation::delete_endpoint: return delete_endpoint(route);
            case Operation::event_stream: return event_stream(caller);
            case Operation::list_import_jobs: return page(request, params, "/jobs/imports", all_jobs(import_jobs));
            case Operation::get_import_job: return json_response(200, job_of(import_jobs, route.job_id, "ImportJobNotFound"));
            case Operation::add_import_job: return add_import_job(request, route);
            case Operation::delete_import_job: return delete_import_job(route.job_id);
            case Operation::cancel_import_job: return cancel_import_job(route.job_id);
            case Operation::list_delete_jobs: return page(request, params, "/jobs/deletions", all_jobs(delete_jobs));
            case Operation::get_delete_job: return json_response(200, job_of(delete_jobs, route.job_id, "DeleteJobNotFound"));
            case Operation::add_delete_job: return add_delete_job(request);
            case Operation::list_results:
            case Operation::get_results:
            case Operation::compare_results:
            case Operation::results_sparkline: return results(route, params);
        }
        fail(500, "InternalServerError", "unhandled operation");
    }

    Response run(const Request& request) {
        ApiError error;
        const auto route = parse_route(request.method, request.target, error);
        if (!route) return error_response(error);
        const std::size_t q = request.target.find('?');
        const auto params = parse_params(q == std::string::npos ? std::string_view{} : std::string_view(request.target).substr(q + 1));
        if (!params) return error_response({400, "InvalidArgument", "malformed percent-escape in the query string"});
        if (route->operation != Operation::health) {
            const auto version = param(*params, "api-version");
            if (!version)
                return error_response({400, "MissingApiVersionParameter",
                                       "the api-version query parameter is required (2023-10-31 or 2022-05-31)"});
            if (std::find(std::begin(api_versions), std::end(api_versions), *version) == std::end(api_versions))
                return error_response({400, "UnsupportedApiVersion", "api-version " + std::string(*version) +
                                                                         " is not supported: use 2023-10-31 or 2022-05-31"});
        }
        if (request.body.size() > limits.max_body_bytes)
            return error_response({413, "PayloadTooLarge", "the body is " + std::to_string(request.body.size()) +
                                                               " bytes; the limit is " + std::to_string(limits.max_body_bytes)});
        try {
            std::optional<Caller> caller;
            if (access != nullptr && route->operation != Operation::health) {
                try {
                    caller = access->authenticate(request.header("Authorization"));
                } catch (const TokenError& e) {
                    Response r = error_response({401, "Unauthorized", std::string("authentication failed: ") + e.what()});
                    r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
                    return r;
                }
                authorize(request, *route, *caller);
            }
            return dispatch(request, *route, *params, caller ? &*caller : nullptr);
        } catch (const Failure& f) {
            return error_response(f.error);
        } catch (const graph::NotFoundError& e) {
            const auto [status, code] = status_of(e.code(), 404);
            return error_response({status, code, e.what()});
        } catch (const graph::GraphError& e) {
            const auto [status, code] = status_of(e.code(), 400);
            return error_response({status, code, e.what()});
        } catch (const dtdl::ModelError& e) {
            return error_response({400, "DTDLParserError", e.what()});
        } catch (const query::QueryError& e) {
            return error_response({400, "SqlQueryError", e.what()});
        } catch (const live::TelemetryError& e) {
            return error_response({400, "ValidationFailed", e.what()});
        } catch (const live::RouteFilterError& e) {
            return error_response({400, "EventRouteFilterInvalid", e.what()});
        } catch (const live::StoreWriteError& e) {
            return error_response({503, "ServiceUnavailable", std::string("the store refused the write: ") + e.what()});
        } catch (const twinsim::Error& e) {
            return error_response({400, "BadRequest", e.what()});
        } catch (const std::bad_alloc&) {
            return error_response({503, "ServiceUnavailable", "out of memory"});
        } catch (const std::exception& e) {
            return error_response({500, "InternalServerError", e.what()});
        }
    }
};

RestApi::RestApi(live::Store& store, live::StoreEvents* events, RequestLimits limits, const AccessPolicy* access)
    : impl_(std::make_unique<Impl>(store, events, limits, access)) {}
RestApi::~RestApi() = default;

const RequestLimits& RestApi::limits() const noexcept { return impl_->limits; }

void RestApi::stop_jobs() noexcept { impl_->stop_jobs(); }

Response RestApi::handle(const Request& request) {
    Response response;
    try {
        response = impl_->run(request);
    } catch (const std::exception& e) {
        response = error_response({500, "InternalServerError", e.what()});
    }
    impl_->detach_idle_hub();
    for (const char* name : {"traceparent", "tracestate"})
        if (const auto value = request.header(name)) response.headers.emplace_back(name, std::string(*value));
    return response;
}

}  // namespace twinsim::service
