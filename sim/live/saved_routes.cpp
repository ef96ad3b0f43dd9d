#include "twinsim/live/saved_routes.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <mutex>
#include <sstream>

#include "twinsim/common/error.hpp"
#include "twinsim/common/excerpt.hpp"
#include "twinsim/common/json_depth.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/live/route_filter.hpp"

namespace twinsim::live {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int format_version = 1;

// "line L, column C" of byte `at` of `text`.
std::string line_column(std::string_view text, std::size_t at) {
    at = std::min(at, text.size());
    std::size_t line = 1;
    std::size_t column = 1;
    for (std::size_t i = 0; i < at; ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

class Reader {
public:
    explicit Reader(std::string origin) : origin_(std::move(origin)) {}

    [[noreturn]] void fail(const std::string& where, const std::string& why) const {
        throw SavedRoutesError("routes file " + origin_ + (where.empty() ? "" : ", " + where) + ": " + why);
    }

    const json& member(const json& object, const std::string& pointer, const char* name) const {
        const auto it = object.find(name);
        if (it == object.end()) fail(pointer, "the member \"" + std::string(name) + "\" is missing");
        return *it;
    }

    std::string text(const json& object, const std::string& pointer, const char* name) const {
        const json& v = member(object, pointer, name);
        if (!v.is_string()) fail(pointer + "/" + name, "must be a string, not " + std::string(v.type_name()));
        const auto& s = v.get_ref<const std::string&>();
        if (s.empty()) fail(pointer + "/" + name, "must not be empty");
        if (const auto bad = invalid_utf8_at(s); bad != std::string_view::npos)
            fail(pointer + "/" + name, "is not valid UTF-8 text (" + excerpt(s, bad) + ")");
        for (const char c : s) {
            if (static_cast<unsigned char>(c) < 0x20) fail(pointer + "/" + name, "contains a control character");
        }
        return s;
    }

    std::uint64_t count(const json& object, const std::string& pointer, const char* name, std::uint64_t fallback,
                        std::uint64_t least, std::uint64_t most) const {
        const auto it = object.find(name);
        if (it == object.end()) return fallback;
        if (!it->is_number_unsigned())
            fail(pointer + "/" + name, "must be a whole number from " + std::to_string(least) + " to " + std::to_string(most));
        const auto v = it->get<std::uint64_t>();
        if (v < least || v > most)
            fail(pointer + "/" + name, "is " + std::to_string(v) + ", must be from " + std::to_string(least) + " to " +
                                           std::to_string(most));
        return v;
    }

    void only(const json& object, const std::string& pointer, std::initializer_list<const char*> names) const {
        for (auto it = object.begin(); it != object.end(); ++it) {
            const std::string& key = it.key();  // not a structured binding: clang 14 cannot capture those
            if (std::none_of(names.begin(), names.end(), [&key](const char* n) { return key == n; }))
                fail(pointer, "unknown member \"" + excerpt(key) + "\"");
        }
    }

    const json& array(const json& root, const char* name) const {
        const auto it = root.find(name);
        static const json empty = json::array();
        if (it == root.end()) return empty;
        if (!it->is_array()) fail(std::string("/") + name, "must be an array, not " + std::string(it->type_name()));
        if (it->size() > max_saved_routes)
            fail(std::string("/") + name, "has " + std::to_string(it->size()) + " entries, more than the limit of " +
                                              std::to_string(max_saved_routes));
        return *it;
    }

private:
    std::string origin_;
};

SavedRouteSet sorted(SavedRouteSet set) {
    std::sort(set.endpoints.begin(), set.endpoints.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    std::sort(set.routes.begin(), set.routes.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return set;
}

std::string os_error(int err) { return std::strerror(err); }

}  // namespace

fs::path saved_routes_file(const fs::path& store_directory) { return store_directory / "routes.json"; }

SavedRouteSet parse_saved_routes(std::string_view text, const std::string& origin) {
    const Reader r(origin);
    if (text.size() > max_saved_routes_bytes)
        r.fail("", "it holds " + std::to_string(text.size()) + " bytes, more than the limit of " +
                       std::to_string(max_saved_routes_bytes));
    if (const auto deep = find_json_depth_excess(text)) r.fail(line_column(text, *deep), json_depth_reason());
    json root;
    try {
        root = json::parse(text);
    } catch (const json::parse_error& e) {
        const std::size_t at = e.byte > 0 ? e.byte - 1 : 0;
        r.fail(line_column(text, at), "it is not valid JSON near " + excerpt(text, at));
    }
    if (!root.is_object()) r.fail("", "must be a JSON object {\"version\", \"endpoints\", \"routes\"}");
    r.only(root, "", {"version", "endpoints", "routes"});
    const auto version = r.count(root, "", "version", format_version, 1, std::numeric_limits<std::uint32_t>::max());
    if (version != format_version)
        r.fail("/version", "is " + std::to_string(version) + "; this build reads version " + std::to_string(format_version));

    SavedRouteSet set;
    std::set<std::string> names;
    const json& endpoints = r.array(root, "endpoints");
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
        const std::string at = "/endpoints/" + std::to_string(i);
        const json& e = endpoints[i];
        if (!e.is_object()) r.fail(at, "must be an object {\"name\", \"kind\", \"path\"}");
        SavedFileEndpoint endpoint;
        const std::string kind = r.text(e, at, "kind");
        if (kind == "mqtt") {
            r.only(e, at, {"name", "kind", "url", "topic"});
            endpoint.kind = kind;
            endpoint.name = r.text(e, at, "name");
            endpoint.url = r.text(e, at, "url");
            if (endpoint.url.rfind("mqtt://", 0) != 0) r.fail(at + "/url", "must be mqtt://HOST[:PORT]");
            endpoint.topic = r.text(e, at, "topic");
            if (endpoint.topic.empty()) r.fail(at + "/topic", "must not be empty");
            if (!names.insert(endpoint.name).second) r.fail(at + "/name", "the endpoint \"" + excerpt(endpoint.name) + "\" is named twice");
            set.endpoints.push_back(std::move(endpoint));
            continue;
        }
        if (kind == "webhook") {
            r.only(e, at, {"name", "kind", "url", "caFile"});
            endpoint.kind = kind;
            endpoint.name = r.text(e, at, "name");
            endpoint.url = r.text(e, at, "url");
            if (endpoint.url.rfind("http://", 0) != 0 && endpoint.url.rfind("https://", 0) != 0)
                r.fail(at + "/url", "must be an http:// or https:// URL");
            if (e.contains("caFile")) {
                endpoint.path = r.text(e, at, "caFile");
                if (!endpoint.path.is_absolute()) r.fail(at + "/caFile", "must be an absolute path");
            }
            if (!names.insert(endpoint.name).second) r.fail(at + "/name", "the endpoint \"" + excerpt(endpoint.name) + "\" is named twice");
            set.endpoints.push_back(std::move(endpoint));
            continue;
        }
        r.only(e, at, {"name", "kind", "path", "maxBytes", "keep"});
        endpoint.name = r.text(e, at, "name");
        if (kind != "ndjson")
            r.fail(at + "/kind", "\"" + excerpt(kind) + "\" is not a saved endpoint kind (known: ndjson, mqtt, webhook)");
        endpoint.path = r.text(e, at, "path");
        if (!endpoint.path.is_absolute()) r.fail(at + "/path", "must be an absolute path");
        endpoint.options.max_bytes = r.count(e, at, "maxBytes", endpoint.options.max_bytes, 1,
                                             std::numeric_limits<std::int64_t>::max());
        endpoint.options.keep = static_cast<std::uint32_t>(r.count(e, at, "keep", endpoint.options.keep, 0, 1000));
        if (!names.insert(endpoint.name).second) r.fail(at + "/name", "the endpoint \"" + excerpt(endpoint.name) + "\" is named twice");
        set.endpoints.push_back(std::move(endpoint));
    }
    std::set<std::string> ids;
    const json& routes = r.array(root, "routes");
    for (std::size_t i = 0; i < routes.size(); ++i) {
        const std::string at = "/routes/" + std::to_string(i);
        const json& e = routes[i];
        if (!e.is_object()) r.fail(at, "must be an object {\"id\", \"endpointName\", \"filter\"}");
        r.only(e, at, {"id", "endpointName", "filter"});
        EventRoute route{r.text(e, at, "id"), r.text(e, at, "endpointName"), "true"};
        if (e.contains("filter")) route.filter = r.text(e, at, "filter");
        if (names.count(route.endpoint_name) == 0)
            r.fail(at + "/endpointName", "the endpoint \"" + excerpt(route.endpoint_name) + "\" is not in the file");
        try {
            (void)RouteFilter::parse(route.filter);
        } catch (const RouteFilterError& f) {
            r.fail(at + "/filter", f.what());
        }
        if (!ids.insert(route.id).second) r.fail(at + "/id", "the route \"" + excerpt(route.id) + "\" is there twice");
        set.routes.push_back(std::move(route));
    }
    return sorted(std::move(set));
}

SavedRouteSet read_saved_routes(const fs::path& file) {
    std::error_code ec;
    if (!fs::exists(file, ec)) {
        if (ec) throw IoError("routes file " + file.string() + " cannot be read: " + ec.message());
        return {};
    }
    const auto size = fs::file_size(file, ec);
    if (ec) throw IoError("routes file " + file.string() + " cannot be read: " + ec.message());
    if (size > max_saved_routes_bytes)
        throw SavedRoutesError("routes file " + file.string() + ": it holds " + std::to_string(size) +
                               " bytes, more than the limit of " + std::to_string(max_saved_routes_bytes));
    std::ifstream in(file, std::ios::binary);
    if (!in) throw IoError("routes file " + file.string() + " cannot be opened: " + os_error(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw IoError("routes file " + file.string() + " cannot be read");
    return parse_saved_routes(text.str(), file.string());
}

std::string saved_routes_text(const SavedRouteSet& set) {
    const SavedRouteSet s = sorted(set);
    nlohmann::ordered_json root;
    root["version"] = format_version;
    root["endpoints"] = nlohmann::ordered_json::array();
    for (const auto& e : s.endpoints) {
        if (e.kind == "mqtt") {
            root["endpoints"].push_back({{"name", e.name}, {"kind", "mqtt"}, {"url", e.url}, {"topic", e.topic}});
            continue;
        }
        if (e.kind == "webhook") {
            nlohmann::ordered_json hook{{"name", e.name}, {"kind", "webhook"}, {"url", e.url}};
            if (!e.path.empty()) hook["caFile"] = e.path.string();
            root["endpoints"].push_back(std::move(hook));
            continue;
        }
        root["endpoints"].push_back({{"name", e.name},
                                     {"kind", "ndjson"},
                                     {"path", e.path.string()},
                                     {"maxBytes", e.options.max_bytes},
                                     {"keep", e.options.keep}});
    }
    root["routes"] = nlohmann::ordered_json::array();
    for (const auto& r : s.routes) root["routes"].push_back({{"id", r.id}, {"endpointName", r.endpoint_name}, {"filter", r.filter}});
    return root.dump(2) + "\n";
}

void write_saved_routes(const fs::path& file, const SavedRouteSet& set) {
    const std::string text = saved_routes_text(set);
    fs::path temp = file;
    temp += ".part";
    auto failed = [&](const std::string& doing, int err) {
        ::unlink(temp.c_str());
        return IoError("routes file " + file.string() + ": " + doing + " " + temp.string() + " failed: " +
                       (err == ENOSPC ? "the disk is full" : "the operating system refused") + " (" + os_error(err) + ")");
    };
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw failed("creating", errno);
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            throw failed("writing", err);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        throw failed("syncing", err);
    }
    if (::close(fd) != 0) throw failed("closing", errno);
    if (::rename(temp.c_str(), file.c_str()) != 0) throw failed("renaming", errno);
    const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
    const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0) {
        ::fsync(d);
        ::close(d);
    }
}

// --- endpoint kinds ------------------------------------------------------------------------

namespace {
std::mutex factories_mutex;
std::map<std::string, SavedEndpointFactory>& factories() {
    static std::map<std::string, SavedEndpointFactory> all;
    return all;
}
}  // namespace

void register_saved_endpoint_kind(const std::string& kind, SavedEndpointFactory factory) {
    const std::lock_guard lock(factories_mutex);
    factories()[kind] = factory;
}

std::shared_ptr<Endpoint> make_saved_endpoint(const SavedFileEndpoint& endpoint) {
    if (endpoint.kind == "ndjson") return std::make_shared<NdjsonFileEndpoint>(endpoint.path, endpoint.options);
    SavedEndpointFactory factory = nullptr;
    {
        const std::lock_guard lock(factories_mutex);
        if (const auto it = factories().find(endpoint.kind); it != factories().end()) factory = it->second;
    }
    if (factory == nullptr)
        throw SavedRoutesError("the saved endpoint \"" + endpoint.name + "\" is of kind " + endpoint.kind +
                               ", which this program cannot deliver to (the twinsim command can)");
    return factory(endpoint);
}

// --- SavedRoutes ---------------------------------------------------------------------------

SavedRoutes::SavedRoutes(fs::path file, EventRouter& router)
    : file_(std::move(file)), router_(&router), set_(read_saved_routes(file_)) {
    for (const auto& e : set_.endpoints) router_->add_endpoint(e.name, make_saved_endpoint(e));
    for (const auto& r : set_.routes) router_->upsert_route(r);
}

void SavedRoutes::save(const SavedRouteSet& next) {
    write_saved_routes(file_, next);
    set_ = sorted(next);
}

void SavedRoutes::add_file_endpoint(SavedFileEndpoint endpoint) {
    if (set_.endpoints.size() >= max_saved_routes)
        throw SavedRoutesError("routes file " + file_.string() + ": it already has the limit of " +
                               std::to_string(max_saved_routes) + " endpoints");
    std::error_code ec;
    if ((endpoint.kind == "ndjson" || endpoint.kind == "webhook") && !endpoint.path.empty() && !endpoint.path.is_absolute())
        endpoint.path = fs::absolute(endpoint.path, ec);
    router_->add_endpoint(endpoint.name, make_saved_endpoint(endpoint));
    SavedRouteSet next = set_;
    next.endpoints.push_back(endpoint);
    try {
        save(next);
    } catch (...) {
        router_->remove_endpoint(endpoint.name);
        throw;
    }
}

void SavedRoutes::remove_endpoint(const std::string& name) {
    router_->remove_endpoint(name);
    SavedRouteSet next = set_;
    const auto before = next.endpoints.size();
    std::erase_if(next.endpoints, [&](const SavedFileEndpoint& e) { return e.name == name; });
    if (next.endpoints.size() == before) return;
    try {
        save(next);
    } catch (...) {
        const auto it = std::find_if(set_.endpoints.begin(), set_.endpoints.end(), [&](const auto& e) { return e.name == name; });
        router_->add_endpoint(name, make_saved_endpoint(*it));
        throw;
    }
}

bool SavedRoutes::is_saved_route(const std::string& id) const {
    return std::any_of(set_.routes.begin(), set_.routes.end(), [&](const EventRoute& r) { return r.id == id; });
}

void SavedRoutes::upsert_route(const EventRoute& route) {
    std::optional<EventRoute> previous;
    try {
        previous = router_->get_route(route.id);
    } catch (const graph::NotFoundError&) {
    }
    router_->upsert_route(route);
    const bool saved_endpoint = std::any_of(set_.endpoints.begin(), set_.endpoints.end(),
                                            [&](const SavedFileEndpoint& e) { return e.name == route.endpoint_name; });
    SavedRouteSet next = set_;
    std::erase_if(next.routes, [&](const EventRoute& r) { return r.id == route.id; });
    if (saved_endpoint) {
        if (next.routes.size() >= max_saved_routes) {
            if (previous) router_->upsert_route(*previous); else router_->delete_route(route.id);
            throw SavedRoutesError("routes file " + file_.string() + ": it already has the limit of " +
                                   std::to_string(max_saved_routes) + " routes");
        }
        next.routes.push_back(route);
    }
    if (!saved_endpoint && !is_saved_route(route.id)) return;
    try {
        save(next);
    } catch (...) {
        if (previous) router_->upsert_route(*previous); else router_->delete_route(route.id);
        throw;
    }
}

void SavedRoutes::delete_route(const std::string& id) {
    const EventRoute previous = router_->get_route(id);  // NotFoundError when absent
    router_->delete_route(id);
    if (!is_saved_route(id)) return;
    SavedRouteSet next = set_;
    std::erase_if(next.routes, [&](const EventRoute& r) { return r.id == id; });
    try {
        save(next);
    } catch (...) {
        router_->upsert_route(previous);
        throw;
    }
}

}  // namespace twinsim::live

// --- StoreEvents -----------------------------------------------------------------------------

namespace twinsim::live {

namespace {

struct SavedSequence {
    std::uint64_t notification = 0;  // the router's last number
    std::uint64_t graph = 0;         // the graph's change-event sequence then
};

// "<last notification> <graph sequence>\n"; a missing file is {0, 0}.
SavedSequence read_sequence(const fs::path& file) {
    std::ifstream in(file);
    if (!in) return {};
    std::string text(65, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > 64) throw SavedRoutesError("event sequence file " + file.string() + ": longer than 64 bytes; delete it to start numbering anew");
    SavedSequence s;
    char extra = 0;
    if (std::sscanf(text.c_str(), "%20lu %20lu %c", &s.notification, &s.graph, &extra) != 2)
        throw SavedRoutesError("event sequence file " + file.string() + ": it must hold two whole numbers (\"" +
                               excerpt(text) + "\"); delete it to start numbering anew");
    return s;
}

void write_sequence(const fs::path& file, const SavedSequence& s) {
    fs::path temp = file;
    temp += ".part";
    {
        std::ofstream out(temp, std::ios::trunc);
        out << s.notification << ' ' << s.graph << '\n';
        out.flush();
        if (!out) return;
    }
    std::error_code ec;
    fs::rename(temp, file, ec);
}

}  // namespace

struct StoreEvents::Tracker {
    std::atomic<std::uint64_t> last_change{0};
    std::atomic<bool> graph_alive{true};
};

StoreEvents::StoreEvents(graph::TwinGraph& graph, const fs::path& store_directory, RouterOptions options)
    : sequence_file_(store_directory / "events-sequence"), graph_(&graph), tracker_(std::make_shared<Tracker>()) {
    if (options.dead_letter.empty()) options.dead_letter = store_directory / "dead-letter-events.ndjson";
    const SavedSequence saved = read_sequence(sequence_file_);
    const std::uint64_t now = graph.stats().events_emitted;
    tracker_->last_change = now;
    // The listener's token dies with the graph: then close() must not touch it.
    struct Detach {
        std::shared_ptr<Tracker> tracker;
        ~Detach() { tracker->graph_alive = false; }
    };
    auto token = std::make_shared<Detach>(Detach{tracker_});
    listener_ = graph.subscribe([token](const graph::ChangeEvent& e) { token->tracker->last_change = e.sequence; });
    options.first_sequence = saved.notification + (now > saved.graph ? now - saved.graph : 0) + 1;
    router_ = std::make_shared<EventRouter>(graph, std::move(options));
    try {
        saved_ = std::make_unique<SavedRoutes>(saved_routes_file(store_directory), *router_);
    } catch (...) {
        router_->close();
        graph.unsubscribe(listener_);
        throw;
    }
}

StoreEvents::~StoreEvents() { close(); }

void StoreEvents::close() noexcept {
    if (closed_) return;
    closed_ = true;
    try {
        router_->close();
        if (tracker_->graph_alive) graph_->unsubscribe(listener_);
        const RouterStats stats = router_->stats();
        if (stats.last_sequence > 0) write_sequence(sequence_file_, {stats.last_sequence, tracker_->last_change});
    } catch (...) {
    }
}

}  // namespace twinsim::live
