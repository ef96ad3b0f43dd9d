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
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "twinsim/live/saved_routes.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/service/http_server.hpp"
#include "twinsim/service/rest_api.hpp"

namespace twinsim::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

/// One keep-alive HTTP/1.1 connection, as lean as a load generator's: the
/// request goes out in one send(), and of the response only the status and
/// Content-Length are parsed (the body is read into a reused buffer and
/// dropped). The server answers one request at a time on a connection, so
/// nothing is left over between exchanges.
class Connection {
public:
    explicit Connection(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            throw std::runtime_error("connect failed");
        }
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        buffer_.resize(16384);
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() { ::close(fd_); }

    /// Sends a request and returns the response's status (the body is read and dropped).
    int exchange(std::string_view request) {
        std::size_t sent = 0;
        while (sent < request.size()) {
            const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) throw std::runtime_error("send failed");
            sent += static_cast<std::size_t>(n);
        }
        std::size_t have = 0;
        for (;;) {
            read_more(have);
            const std::string_view head(buffer_.data(), have);
            const std::size_t end = head.find("\r\n\r\n");
            if (end == std::string_view::npos) continue;
            if (end < 12 || head.compare(0, 5, "HTTP/") != 0) throw std::runtime_error("not an HTTP response");
            const int status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
            const std::size_t total = end + 4 + content_length(head.substr(0, end));
            if (total > buffer_.size()) buffer_.resize(total);
            while (have < total) read_more(have);
            return status;
        }
    }

private:
    /// Content-Length's value in `head` (0 without one); the name in any case.
    static std::size_t content_length(std::string_view head) {
        static constexpr std::string_view name = "\r\ncontent-length:";
        for (std::size_t i = 0; i + name.size() <= head.size(); ++i) {
            std::size_t k = 0;
            while (k < name.size() && std::tolower(static_cast<unsigned char>(head[i + k])) == name[k]) ++k;
            if (k < name.size()) continue;
            std::size_t at = i + k, value = 0;
            while (at < head.size() && head[at] == ' ') ++at;
            while (at < head.size() && head[at] >= '0' && head[at] <= '9') value = value * 10 + static_cast<std::size_t>(head[at++] - '0');
            return value;
        }
        return 0;
    }
    void read_more(std::size_t& have) {
        if (have == buffer_.size()) buffer_.resize(buffer_.size() * 2);
        const ssize_t n = ::recv(fd_, buffer_.data() + have, buffer_.size() - have, 0);
        if (n <= 0) throw std::runtime_error("the server closed the connection");
        have += static_cast<std::size_t>(n);
    }
    int fd_ = -1;
    std::vector<char> buffer_;
};

/// The requests of the rounds, built once: per twin a PATCH whose value is a
/// fixed-width number the client overwrites in place, and a GET.
struct Requests {
    static constexpr std::size_t value_width = 9;  ///< "100000000".."999999999"
    std::vector<std::string> patch, get;
    std::vector<std::size_t> value_at;  ///< offset of the value's digits in patch[i]

    explicit Requests(std::size_t twins) {
        for (std::size_t i = 0; i < twins; ++i) {
            const std::string body = R"([{"op":"replace","path":"/t","value":)" + std::string(value_width, '1') + "}]";
            std::string r = "PATCH /digitaltwins/" + room_id(i) +
                            "?api-version=2023-10-31 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Type: application/json-patch+json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
            value_at.push_back(r.size() - 2 - value_width);
            patch.push_back(std::move(r));
            get.push_back("GET /digitaltwins/" + room_id(i) + "?api-version=2023-10-31 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        }
    }
};

/// Writes `value` (below 10^9) as Requests::value_width digits at `out`, the first one non-zero.
void write_value(char* out, std::uint64_t value) {
    value = 100000000 + value % 900000000;
    for (std::size_t i = Requests::value_width; i-- > 0; value /= 10) out[i] = static_cast<char>('0' + value % 10);
}

/// The kernel's part (system time) of the CPU used by the process
/// (RUSAGE_SELF) or the calling thread (RUSAGE_THREAD), in seconds.
double system_cpu_used(int who) {
    rusage u{};
    if (::getrusage(who, &u) != 0) return 0.0;
    return static_cast<double>(u.ru_stime.tv_sec) + static_cast<double>(u.ru_stime.tv_usec) * 1e-6;
}

/// One phase of a round on one side.
struct Phase {
    std::vector<double> ms;  ///< every request's latency
    double seconds = 0, cpu_seconds = 0;
    double client_cpu_seconds = 0;  ///< the client (or peer) threads' own CPU
    /// The kernel's share of cpu_seconds and of client_cpu_seconds (system time).
    double system_cpu_seconds = 0, client_system_cpu_seconds = 0;
    std::size_t errors = 0;
    std::uint64_t syncs = 0;  ///< the store's group-commit syncs during the phase
};

struct Side {
    Phase patch, get;
};

std::unique_ptr<live::Store> make_store(const std::filesystem::path& dir, std::size_t twins) {
    live::StoreOptions options;
    options.durability = live::Durability::group;
    auto store = live::open_store(dir, options);
    add_rooms(store->graph(), twins);
    return store;
}

/// `work(client, latencies, errors, deadline)` on every client thread until
/// the deadline; returns the phase's latencies, wall and CPU (the process's,
/// and the client threads' own, each measured on its thread).
template <typename Work>
Phase run_clients(unsigned clients, double seconds, Work&& work) {
    Phase phase;
    std::vector<std::vector<double>> ms(clients);
    std::vector<std::size_t> errors(clients, 0);
    std::vector<double> client_cpu(clients, 0), client_system(clients, 0);
    const double cpu0 = process_cpu_used();
    const double system0 = system_cpu_used(RUSAGE_SELF);
    const auto start = Clock::now();
    const Clock::time_point deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<std::thread> threads;
    for (unsigned c = 0; c < clients; ++c)
        threads.emplace_back([&, c] {
            const double t0 = thread_cpu_used();
            const double s0 = system_cpu_used(RUSAGE_THREAD);
            ms[c].reserve(1 << 16);
            work(c, ms[c], errors[c], deadline);
            client_cpu[c] = thread_cpu_used() - t0;
            client_system[c] = system_cpu_used(RUSAGE_THREAD) - s0;
        });
    for (std::thread& t : threads) t.join();
    phase.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    phase.cpu_seconds = process_cpu_used() - cpu0;
    phase.system_cpu_seconds = system_cpu_used(RUSAGE_SELF) - system0;
    for (unsigned c = 0; c < clients; ++c) {
        phase.ms.insert(phase.ms.end(), ms[c].begin(), ms[c].end());
        phase.errors += errors[c];
        phase.client_cpu_seconds += client_cpu[c];
        phase.client_system_cpu_seconds += client_system[c];
    }
    return phase;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

/// The service's round: every client PATCHes for `seconds`, then every
/// client GETs for `seconds`.
Side service_round(int port, const ServeBenchOptions& o, const Requests& requests, live::Store& store) {
    Side side;
    const std::uint64_t syncs = store.stats().syncs;
    side.patch = run_clients(o.clients, o.seconds, [&](unsigned c, std::vector<double>& ms, std::size_t& errors, Clock::time_point deadline) {
        Connection connection(port);
        std::mt19937_64 rng(c + 1);
        std::uniform_int_distribution<std::size_t> pick(0, o.twins - 1);
        std::string request;
        std::uint64_t value = static_cast<std::uint64_t>(c) << 24;
        for (auto t = Clock::now(); t < deadline;) {
            const std::size_t i = pick(rng);
            request.assign(requests.patch[i]);
            write_value(request.data() + requests.value_at[i], ++value);
            if (connection.exchange(request) != 204) ++errors;
            const auto done = Clock::now();
            ms.push_back(ms_between(t, done));
            t = done;
        }
    });
    side.patch.syncs = store.stats().syncs - syncs;
    side.get = run_clients(o.clients, o.seconds, [&](unsigned c, std::vector<double>& ms, std::size_t& errors, Clock::time_point deadline) {
        Connection connection(port);
        std::mt19937_64 rng(c + 1001);
        std::uniform_int_distribution<std::size_t> pick(0, o.twins - 1);
        for (auto t = Clock::now(); t < deadline;) {
            if (connection.exchange(requests.get[pick(rng)]) != 200) ++errors;
            const auto done = Clock::now();
            ms.push_back(ms_between(t, done));
            t = done;
        }
    });
    return side;
}

/// The peer's round: the same phases on the library from as many threads.
Side direct_round(live::Store& store, const ServeBenchOptions& o) {
    graph::TwinGraph& graph = store.graph();
    Side side;
    const std::uint64_t syncs = store.stats().syncs;
    side.patch = run_clients(o.clients, o.seconds, [&](unsigned c, std::vector<double>& ms, std::size_t&, Clock::time_point deadline) {
        RoomPatcher patcher(graph, o.twins, c);  // what the service does per PATCH, without HTTP
        for (auto t = Clock::now(); t < deadline;) {
            patcher.patch();
            const auto done = Clock::now();
            ms.push_back(ms_between(t, done));
            t = done;
        }
    });
    side.patch.syncs = store.stats().syncs - syncs;
    side.get = run_clients(o.clients, o.seconds, [&](unsigned c, std::vector<double>& ms, std::size_t&, Clock::time_point deadline) {
        std::mt19937_64 rng(c + 1001);
        std::uniform_int_distribution<std::size_t> pick(0, o.twins - 1);
        for (auto t = Clock::now(); t < deadline;) {
            // What the service does per GET: read the twin, render it.
            (void)graph.snapshot().get_twin(room_id(pick(rng))).dump();
            const auto done = Clock::now();
            ms.push_back(ms_between(t, done));
            t = done;
        }
    });
    return side;
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

/// Medians over the rounds of one phase: rate, p50/p99, CPU per second of
/// the process and of the clients apart, and (PATCH) PATCHes per sync.
json phase_summary(const std::vector<Phase>& rounds, bool patches) {
    std::vector<double> rate, p50, p99, cpu, client_cpu, per_sync, cpu_us, kernel_us, kernel_share, cycle_ms;
    std::size_t errors = 0, total = 0;
    for (const Phase& s : rounds) {
        const double n = static_cast<double>(s.ms.size());
        rate.push_back(n / s.seconds);
        p50.push_back(percentile(s.ms, 0.5));
        p99.push_back(percentile(s.ms, 0.99));
        cpu.push_back(s.cpu_seconds / s.seconds);
        client_cpu.push_back(s.client_cpu_seconds / s.seconds);
        // The server's part is the process's clock minus the client threads' own clocks,
        // two readings of different granularity: where the server does next to nothing
        // (the library peer's GETs run on the callers' threads) the difference can come
        // out slightly below zero, which is read as zero.
        const double server_cpu = std::max(0.0, s.cpu_seconds - s.client_cpu_seconds);
        const double server_kernel = std::clamp(s.system_cpu_seconds - s.client_system_cpu_seconds, 0.0, server_cpu);
        cpu_us.push_back(n > 0 ? server_cpu / n * 1e6 : 0);
        kernel_us.push_back(n > 0 ? server_kernel / n * 1e6 : 0);
        kernel_share.push_back(server_cpu > 0 ? server_kernel / server_cpu : 0);
        per_sync.push_back(n / static_cast<double>(std::max<std::uint64_t>(1, s.syncs)));
        cycle_ms.push_back(s.seconds * 1e3 / static_cast<double>(std::max<std::uint64_t>(1, s.syncs)));
        errors += s.errors;
        total += s.ms.size();
    }
    json out{{"per_s", median(rate)}, {"p50_ms", median(p50)}, {"p99_ms", median(p99)},
             {"cpu_seconds_per_s", median(cpu)},
             {"client_cpu_seconds_per_s", median(client_cpu)},
             {"server_cpu_seconds_per_s", std::max(0.0, median(cpu) - median(client_cpu))},
             {"server_cpu_us_per_request", median(cpu_us)},
             {"server_kernel_cpu_us_per_request", median(kernel_us)},
             {"server_kernel_share", median(kernel_share)},
             {"total", total}, {"errors", errors}};
    if (patches) {
        out["patches_per_sync"] = median(per_sync);
        // The store's own group-commit cycle (the phase's wall over its
        // syncs): a client waits at least one cycle per PATCH, so at most
        // `clients` PATCHes complete per cycle.
        out["ms_per_sync"] = median(cycle_ms);
    }
    return out;
}

json summary(const std::vector<Side>& rounds) {
    std::vector<Phase> patch, get;
    for (const Side& s : rounds) {
        patch.push_back(s.patch);
        get.push_back(s.get);
    }
    json p = phase_summary(patch, true), g = phase_summary(get, false);
    return json{{"patch_per_s", p["per_s"]}, {"get_per_s", g["per_s"]},
                {"patch_p50_ms", p["p50_ms"]}, {"patch_p99_ms", p["p99_ms"]},
                {"get_p50_ms", g["p50_ms"]}, {"get_p99_ms", g["p99_ms"]},
                {"patches_per_sync", p["patches_per_sync"]},
                {"errors", p["errors"].get<std::size_t>() + g["errors"].get<std::size_t>()},
                {"patch_phase", p}, {"get_phase", g}};
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
        // As `twinsim serve` runs it: the store's event routes (and the
        // API's own route to GET /events) see every change.
        live::StoreEvents events(served->graph(), root / "served");
        service::RestApi api(*served, &events);
        service::ServerOptions server_options;
        server_options.host = "127.0.0.1";
        server_options.port = 0;
        server_options.threads = o.server_threads;
        service::HttpServer server(api, server_options);
        std::thread serving([&] { server.run(); });
        const Requests requests(o.twins);
        std::vector<Side> service_rounds, direct_rounds;
        std::vector<double> sync_ms;
        for (int r = 0; r < o.rounds; ++r) {
            service_rounds.push_back(service_round(server.port(), o, requests, *served));
            direct_rounds.push_back(direct_round(*direct, o));
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
                   {"phases", "per round and side: every client PATCHes for seconds_per_round, then every client GETs for "
                              "seconds_per_round; service rounds and direct rounds interleave"},
                   {"note", "server and clients share this process and its cores: cpu_seconds_per_s counts both, "
                            "client_cpu_seconds_per_s the client threads' own CPU (thread clocks), server_cpu_seconds_per_s "
                            "the difference (the server's threads, the store's group commit, its history indexer and "
                            "checkpointer); the direct peer's 'client' threads are the library's callers; "
                            "server_kernel_cpu_us_per_request and server_kernel_share are the kernel's (system time) part "
                            "of the server's CPU: thread switches, loopback TCP, syncs"}};
        events.close();
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
                check(connection.exchange(http_request("PATCH", "/digitaltwins/" + room_id(pick(rng)), "application/json-patch+json", body)),
                      204, "PATCH");
                ++counts.patches;
                check(connection.exchange(http_request("GET", "/digitaltwins/" + room_id(pick(rng)), nullptr, "")), 200, "GET");
                ++counts.gets;
                if (++i % 8 == 0) {
                    const std::string query = R"({"query": "SELECT T.$dtId, T.t FROM DIGITALTWINS T WHERE T.$dtId = ')" +
                                              room_id(pick(rng)) + "'\"}";
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
