// `twinsim-bench serve`: `twinsim serve`'s REST API (RestApi + HttpServer, as
// the CLI runs them) on a durable store with group commit, on loopback, under
// N keep-alive clients. Each client alternates a PATCH of one twin's number
// (a durable write: answered once its batch is synced) and a GET of another
// twin, and records every latency. The peer is the same work without HTTP:
// N threads calling TwinGraph::update_twin and Snapshot::get_twin on an
// identical store. Rounds interleave service and peer; medians of requests
// per second and of p50/p99 latency are printed with the load, the CPU model
// and the process CPU seconds (server, clients and peer share this process
// and the machine's cores, so the service's figures include its clients).
//
// The rounds also time the disk's sync (write 4 KiB + fdatasync on an
// appended file beside the stores, as the journal commits): each client waits
// for its PATCH to be durable, so clients / sync latency bounds the PATCH rate
// whatever the CPU, and the JSON shows that ceiling beside the measured rate.
//
// `--soak SECONDS` runs one long stretch instead of the rounds: the clients
// PATCH, GET and query, reconnecting after a failure, while the process's RSS
// is sampled; the verdict compares the last quarter's median RSS with the
// second quarter's (the first quarter is warm-up: caches and the WAL fill).
//
// The clients speak HTTP/1.1 over plain sockets (no TLS: the figure is the
// service's, not OpenSSL's), so nothing here includes httplib.h.

#include "serve_benchmark.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/service/http_server.hpp"
#include "twinsim/service/rest_api.hpp"

namespace twinsim::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr const char* model = R"([{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:bench:Room;1", "@type": "Interface",
  "contents": [{"@type": "Property", "name": "t", "schema": "double"}]}])";

std::string twin_id(std::size_t i) { return "room-" + std::to_string(i); }

/// One keep-alive HTTP/1.1 connection.
class Connection {
public:
    explicit Connection(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("connect failed");
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() { ::close(fd_); }

    /// Sends a request and returns the response's status (the body is read and dropped).
    int exchange(const std::string& request) {
        std::size_t sent = 0;
        while (sent < request.size()) {
            const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) throw std::runtime_error("send failed");
            sent += static_cast<std::size_t>(n);
        }
        buffer_.clear();
        for (;;) {
            const std::size_t end = buffer_.find("\r\n\r\n");
            if (end != std::string::npos) {
                std::size_t length = 0;
                const std::size_t at = find_header(buffer_, end, "content-length:");
                if (at != std::string::npos) length = std::stoul(buffer_.substr(at, buffer_.find("\r\n", at) - at));
                while (buffer_.size() < end + 4 + length) read_more();
                return std::stoi(buffer_.substr(9, 3));
            }
            read_more();
        }
    }

private:
    static std::size_t find_header(const std::string& head, std::size_t end, const char* name) {
        std::string lower = head.substr(0, end);
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        const std::size_t at = lower.find(name);
        return at == std::string::npos ? at : at + std::char_traits<char>::length(name);
    }
    void read_more() {
        char chunk[8192];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) throw std::runtime_error("the server closed the connection");
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    int fd_ = -1;
    std::string buffer_;
};

struct Side {
    std::vector<double> patch_ms, get_ms;
    double seconds = 0, cpu_seconds = 0;
    std::size_t errors = 0;
    std::uint64_t syncs = 0;  ///< the store's group-commit syncs during the round
};

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    return v[i];
}

double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

std::unique_ptr<live::Store> make_store(const std::filesystem::path& dir, std::size_t twins) {
    live::StoreOptions options;
    options.durability = live::Durability::group;
    auto store = live::open_store(dir, options);
    graph::TwinGraph& g = store->graph();
    (void)g.add_models(std::vector<dtdl::Document>{{"<bench>", model}});
    g.atomically([&](graph::TwinGraph& graph) {
        for (std::size_t i = 0; i < twins; ++i)
            (void)graph.upsert_twin(twin_id(i), json{{"$metadata", {{"$model", "dtmi:bench:Room;1"}}}, {"t", 0.0}});
    });
    return store;
}

/// `work(client, i)` for every client until the deadline; returns the side's times.
template <typename Work>
Side run_clients(unsigned clients, double seconds, Work&& work) {
    Side side;
    std::vector<Side> per(clients);
    const double cpu0 = process_cpu_used();
    const auto start = Clock::now();
    const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<std::thread> threads;
    for (unsigned c = 0; c < clients; ++c)
        threads.emplace_back([&, c] { work(c, per[c], deadline); });
    for (std::thread& t : threads) t.join();
    side.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    side.cpu_seconds = process_cpu_used() - cpu0;
    for (Side& s : per) {
        side.patch_ms.insert(side.patch_ms.end(), s.patch_ms.begin(), s.patch_ms.end());
        side.get_ms.insert(side.get_ms.end(), s.get_ms.begin(), s.get_ms.end());
        side.errors += s.errors;
    }
    return side;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

Side service_round(int port, const ServeBenchOptions& o) {
    return run_clients(o.clients, o.seconds, [&](unsigned c, Side& out, Clock::time_point deadline) {
        Connection connection(port);
        std::mt19937_64 rng(c + 1);
        std::uniform_int_distribution<std::size_t> pick(0, o.twins - 1);
        double value = 0;
        while (Clock::now() < deadline) {
            const std::string body = R"([{"op":"replace","path":"/t","value":)" + std::to_string(value += 1) + "}]";
            const std::string patch = "PATCH /digitaltwins/" + twin_id(pick(rng)) +
                                      "?api-version=2023-10-31 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                      "Content-Type: application/json-patch+json\r\nContent-Length: " +
                                      std::to_string(body.size()) + "\r\n\r\n" + body;
            auto t = Clock::now();
            if (connection.exchange(patch) != 204) ++out.errors;
            out.patch_ms.push_back(ms_since(t));
            const std::string get = "GET /digitaltwins/" + twin_id(pick(rng)) +
                                    "?api-version=2023-10-31 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
            t = Clock::now();
            if (connection.exchange(get) != 200) ++out.errors;
            out.get_ms.push_back(ms_since(t));
        }
    });
}

Side direct_round(graph::TwinGraph& graph, const ServeBenchOptions& o) {
    return run_clients(o.clients, o.seconds, [&](unsigned c, Side& out, Clock::time_point deadline) {
        std::mt19937_64 rng(c + 1);
        std::uniform_int_distribution<std::size_t> pick(0, o.twins - 1);
        double value = 0;
        while (Clock::now() < deadline) {
            auto t = Clock::now();
            // What the service does per request, without HTTP: parse the
            // patch, apply it durably, read the etag; parse nothing for GET.
            const json patch = json::parse(R"([{"op":"replace","path":"/t","value":)" + std::to_string(value += 1) + "}]");
            const std::string id = twin_id(pick(rng));
            graph.update_twin(id, patch);
            (void)graph.snapshot().twin_etag(id);
            out.patch_ms.push_back(ms_since(t));
            t = Clock::now();
            (void)graph.snapshot().get_twin(twin_id(pick(rng))).dump();
            out.get_ms.push_back(ms_since(t));
        }
    });
}

/// `n` times: append 4 KiB to a file in `dir` and fdatasync it; the latency of
/// each (write + sync) in ms. This is what one group commit waits for.
std::vector<double> probe_sync(const std::filesystem::path& dir, int n) {
    const std::filesystem::path file = dir / "sync-probe";
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot create " + file.string());
    const std::string page(4096, 'x');
    std::vector<double> ms;
    for (int i = 0; i < n; ++i) {
        const auto t = Clock::now();
        const bool ok = ::write(fd, page.data(), page.size()) == static_cast<ssize_t>(page.size()) && ::fdatasync(fd) == 0;
        if (!ok) {
            ::close(fd);
            throw std::runtime_error("writing or syncing " + file.string() + " failed");
        }
        ms.push_back(ms_since(t));
    }
    ::close(fd);
    std::filesystem::remove(file);
    return ms;
}

json summary(const std::vector<Side>& rounds) {
    std::vector<double> patch_rate, get_rate, p50p, p99p, p50g, p99g, cpu, per_sync;
    std::size_t errors = 0, patches = 0;
    for (const Side& s : rounds) {
        patch_rate.push_back(static_cast<double>(s.patch_ms.size()) / s.seconds);
        get_rate.push_back(static_cast<double>(s.get_ms.size()) / s.seconds);
        p50p.push_back(percentile(s.patch_ms, 0.5));
        p99p.push_back(percentile(s.patch_ms, 0.99));
        p50g.push_back(percentile(s.get_ms, 0.5));
        p99g.push_back(percentile(s.get_ms, 0.99));
        cpu.push_back(s.cpu_seconds / s.seconds);
        per_sync.push_back(static_cast<double>(s.patch_ms.size()) / static_cast<double>(std::max<std::uint64_t>(1, s.syncs)));
        errors += s.errors;
        patches += s.patch_ms.size();
    }
    return json{{"patch_per_s", median(patch_rate)}, {"get_per_s", median(get_rate)},
                {"requests_per_s", median(patch_rate) + median(get_rate)},
                {"patch_p50_ms", median(p50p)}, {"patch_p99_ms", median(p99p)},
                {"get_p50_ms", median(p50g)}, {"get_p99_ms", median(p99g)},
                {"cpu_seconds_per_s", median(cpu)}, {"patches_per_sync", median(per_sync)},
                {"patches_total", patches}, {"errors", errors}};
}

}  // namespace

int run_serve(const ServeBenchOptions& o) {
    const std::filesystem::path root =
        std::filesystem::temp_directory_path() / ("twinsim-bench-serve-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root);
    const MachineNote machine = machine_note();
    const std::string load_before = load_averages();
    json out;
    {
        auto served = make_store(root / "served", o.twins);
        auto direct = make_store(root / "direct", o.twins);
        service::RestApi api(*served, nullptr);
        service::ServerOptions server_options;
        server_options.host = "127.0.0.1";
        server_options.port = 0;
        server_options.threads = o.server_threads;
        service::HttpServer server(api, server_options);
        std::thread serving([&] { server.run(); });
        std::vector<Side> service_rounds, direct_rounds;
        std::vector<double> sync_ms;
        for (int r = 0; r < o.rounds; ++r) {
            std::uint64_t syncs = served->stats().syncs;
            service_rounds.push_back(service_round(server.port(), o));
            service_rounds.back().syncs = served->stats().syncs - syncs;
            syncs = direct->stats().syncs;
            direct_rounds.push_back(direct_round(direct->graph(), o));
            direct_rounds.back().syncs = direct->stats().syncs - syncs;
            const std::vector<double> probed = probe_sync(root, o.fsync_probes);
            sync_ms.insert(sync_ms.end(), probed.begin(), probed.end());
        }
        server.stop();
        serving.join();
        const json service = summary(service_rounds);
        const json library = summary(direct_rounds);
        const double sync_p50 = percentile(sync_ms, 0.5);
        const double ceiling = o.clients / std::max(1e-9, sync_p50 / 1000.0);
        const json disk_sync{
            {"probe", "write 4 KiB + fdatasync, appended file beside the stores, after each round"},
            {"probes", sync_ms.size()},
            {"p50_ms", sync_p50},
            {"p99_ms", percentile(sync_ms, 0.99)},
            {"patch_ceiling_per_s", ceiling},
            {"ceiling_rule", "clients / p50 sync latency: each client waits for its PATCH's commit"},
            {"service_patch_over_ceiling", service["patch_per_s"].get<double>() / ceiling}};
        out = json{{"benchmark", "serve"},
                   {"clients", o.clients},
                   {"twins", o.twins},
                   {"seconds_per_round", o.seconds},
                   {"rounds", o.rounds},
                   {"server_threads", o.server_threads},
                   {"durability", "group"},
                   {"transport", "HTTP/1.1 keep-alive on loopback, no TLS"},
                   {"service", service},
                   {"direct_library", library},
                   {"disk_sync", disk_sync},
                   {"service_over_direct_patch_rate", service["patch_per_s"].get<double>() /
                                                          std::max(1e-9, library["patch_per_s"].get<double>())},
                   {"target", "patch_per_s >= 20000 and patch_p99_ms < 20 on two cores"},
                   {"cpu", machine.cpu},
                   {"cores", machine.cores},
                   {"load_before", load_before},
                   {"load_after", load_averages()},
                   {"note", "server, clients and the direct peer share this process; cpu_seconds_per_s counts them all"}};
        served->close();
        direct->close();
    }
    std::filesystem::remove_all(root);
    std::cout << out.dump() << std::endl;
    return out["service"]["errors"].get<std::size_t>() == 0 ? 0 : 1;
}

namespace {

struct SoakCounters {
    std::atomic<std::uint64_t> patches{0}, gets{0}, queries{0}, errors{0};
    std::mutex mutex;
    std::string first_error;  ///< guarded by mutex

    void fail(const std::string& what) {
        ++errors;
        const std::lock_guard lock(mutex);
        if (first_error.empty()) first_error = what;
    }
};

std::string http_request(const char* method, const std::string& target, const char* type, const std::string& body) {
    std::string r = std::string(method) + " " + target + "?api-version=2023-10-31 HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (type != nullptr)
        r += std::string("Content-Type: ") + type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    return r + "\r\n" + body;
}

/// One soak client until the deadline: PATCH, GET, and every 8th time a query;
/// a failed exchange counts as an error and the client reconnects.
void soak_client(int port, unsigned c, const ServeBenchOptions& o, Clock::time_point deadline, SoakCounters& counts) {
    std::mt19937_64 rng(c + 1);
    std::uniform_int_distribution<std::size_t> pick(0, o.twins - 1);
    double value = 0;
    std::uint64_t i = 0;
    const auto check = [&](int status, int expected, const char* what) {
        if (status != expected) counts.fail(std::string(what) + " answered " + std::to_string(status));
    };
    while (Clock::now() < deadline) {
        try {
            Connection connection(port);
            while (Clock::now() < deadline) {
                const std::string body = R"([{"op":"replace","path":"/t","value":)" + std::to_string(value += 1) + "}]";
                check(connection.exchange(http_request("PATCH", "/digitaltwins/" + twin_id(pick(rng)), "application/json-patch+json", body)),
                      204, "PATCH");
                ++counts.patches;
                check(connection.exchange(http_request("GET", "/digitaltwins/" + twin_id(pick(rng)), nullptr, "")), 200, "GET");
                ++counts.gets;
                if (++i % 8 == 0) {
                    const std::string query = R"({"query": "SELECT T.$dtId, T.t FROM DIGITALTWINS T WHERE T.$dtId = ')" +
                                              twin_id(pick(rng)) + "'\"}";
                    check(connection.exchange(http_request("POST", "/query", "application/json", query)), 200, "query");
                    ++counts.queries;
                }
            }
        } catch (const std::exception& e) {
            counts.fail(e.what());
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
}

}  // namespace

int run_serve_soak(const ServeBenchOptions& o) {
    const std::filesystem::path root =
        std::filesystem::temp_directory_path() / ("twinsim-bench-serve-soak-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root);
    const MachineNote machine = machine_note();
    const std::string load_before = load_averages();
    constexpr double mib = 1024.0 * 1024.0;
    json out;
    {
        auto store = make_store(root / "served", o.twins);
        service::RestApi api(*store, nullptr);
        service::ServerOptions server_options;
        server_options.host = "127.0.0.1";
        server_options.port = 0;
        server_options.threads = o.server_threads;
        service::HttpServer server(api, server_options);
        std::thread serving([&] { server.run(); });

        SoakCounters counts;
        const double cpu0 = process_cpu_used();
        const auto start = Clock::now();
        const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.soak));
        std::vector<std::thread> clients;
        for (unsigned c = 0; c < o.clients; ++c)
            clients.emplace_back([&, c] { soak_client(server.port(), c, o, deadline, counts); });

        json samples = json::array();
        std::vector<double> rss;
        const auto sample = [&] {
            const double mb = static_cast<double>(proc_status_bytes("VmRSS")) / mib;
            rss.push_back(mb);
            samples.push_back({{"t_s", std::chrono::duration<double>(Clock::now() - start).count()},
                               {"rss_mib", mb},
                               {"requests", counts.patches + counts.gets + counts.queries},
                               {"errors", counts.errors.load()}});
        };
        sample();
        const auto every = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.sample_seconds));
        for (auto next = start + every; next < deadline; next += every) {
            std::this_thread::sleep_until(next);
            sample();
        }
        for (std::thread& t : clients) t.join();
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        const double cpu = process_cpu_used() - cpu0;
        sample();
        server.stop();
        serving.join();

        // Flatness: the last quarter's median RSS against the second quarter's
        // (the first quarter is warm-up), within 10 % + 4 MiB.
        json verdict;
        const std::size_t n = rss.size(), q = n / 4;
        if (n < 8) {
            verdict = json{{"flat", nullptr}, {"why", "fewer than 8 samples: too short to judge"}};
        } else {
            const auto at = [&](std::size_t k) { return rss.begin() + static_cast<std::ptrdiff_t>(k); };
            const double second = median(std::vector<double>(at(q), at(2 * q)));
            const double last = median(std::vector<double>(at(n - q), rss.end()));
            const double bound = second * 1.10 + 4.0;
            verdict = json{{"flat", last <= bound},
                           {"second_quarter_median_rss_mib", second},
                           {"last_quarter_median_rss_mib", last},
                           {"bound_mib", bound},
                           {"rule", "last quarter's median RSS <= 1.10 x second quarter's + 4 MiB"}};
        }
        const std::uint64_t requests = counts.patches + counts.gets + counts.queries;
        out = json{{"benchmark", "serve-soak"},
                   {"clients", o.clients},
                   {"twins", o.twins},
                   {"seconds", seconds},
                   {"server_threads", o.server_threads},
                   {"durability", "group"},
                   {"transport", "HTTP/1.1 keep-alive on loopback, no TLS"},
                   {"mix", "per client: PATCH (durable), GET, and a query after every 8th GET"},
                   {"requests", requests},
                   {"patches", counts.patches.load()},
                   {"gets", counts.gets.load()},
                   {"queries", counts.queries.load()},
                   {"errors", counts.errors.load()},
                   {"first_error", counts.first_error},
                   {"requests_per_s", static_cast<double>(requests) / seconds},
                   {"patch_per_s", static_cast<double>(counts.patches) / seconds},
                   {"cpu_seconds_per_s", cpu / seconds},
                   {"rss_peak_mib", static_cast<double>(proc_status_bytes("VmHWM")) / mib},
                   {"memory", verdict},
                   {"sample_seconds", o.sample_seconds},
                   {"samples", samples},
                   {"cpu", machine.cpu},
                   {"cores", machine.cores},
                   {"load_before", load_before},
                   {"load_after", load_averages()}};
        store->close();
    }
    std::filesystem::remove_all(root);
    std::cout << out.dump() << std::endl;
    // A soak under a minute is mostly warm-up: its verdict is printed, only errors fail it.
    const bool flat = o.soak < 60 || !out["memory"]["flat"].is_boolean() || out["memory"]["flat"].get<bool>();
    return out["errors"].get<std::uint64_t>() == 0 && flat ? 0 : 1;
}

ServeBenchCommand::ServeBenchCommand(CLI::App& app) {
    command_ = app.add_subcommand(
        "serve", "The REST service on loopback: N keep-alive clients alternating twin PATCH (durable, group commit) "
                 "and GET; requests/s and p50/p99 latency beside the same work on the library directly from N "
                 "threads; interleaved rounds (target 20,000 PATCH/s, p99 < 20 ms on two cores)");
    command_->add_option("--clients", options_.clients, "Keep-alive clients")->capture_default_str()->check(CLI::Range(1U, 1024U));
    command_->add_option("--twins", options_.twins, "Twins")->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{10000000}));
    command_->add_option("--seconds", options_.seconds, "Seconds per round and side")->capture_default_str()->check(CLI::Range(0.1, 3600.0));
    command_->add_option("--rounds", options_.rounds, "Interleaved rounds (medians reported)")->capture_default_str()->check(CLI::Range(1, 1000));
    command_->add_option("--server-threads", options_.server_threads, "Server worker threads")->capture_default_str()->check(CLI::Range(1U, 1024U));
    command_->add_option("--fsync-probes", options_.fsync_probes, "Disk sync probes (4 KiB write + fdatasync) after each round")
        ->capture_default_str()->check(CLI::Range(1, 100000));
    command_->add_option("--soak", options_.soak, "Soak instead of rounds: PATCH/GET/query for this many seconds, sampling the RSS")
        ->check(CLI::Range(0.5, 86400.0));
    command_->add_option("--sample-seconds", options_.sample_seconds, "Soak: seconds between RSS samples")
        ->capture_default_str()->check(CLI::Range(0.05, 3600.0));
    command_->add_flag("--smoke", smoke_, "2 clients, 100 twins, 0.3 s, one round, 20 sync probes (for CI); "
                                          "with --soak: 2 clients, 100 twins, an RSS sample every 0.25 s");
}

std::optional<int> ServeBenchCommand::run() {
    if (!command_->parsed()) return std::nullopt;
    if (smoke_) {
        options_.clients = 2;
        options_.twins = 100;
        options_.seconds = 0.3;
        options_.rounds = 1;
        options_.fsync_probes = 20;
        options_.sample_seconds = 0.25;
    }
    return options_.soak > 0 ? run_serve_soak(options_) : run_serve(options_);
}

}  // namespace twinsim::bench
