// `twinsim-bench mqtt`: broker -> committed twin updates per second, beside a
// bare subscriber writing the same messages to SQLite (mqtt_benchmark.hpp).
#include "mqtt_benchmark.hpp"

#include <mosquitto.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "twinsim/live/ingest/ingest.hpp"
#include "twinsim/live/ingest/mapping.hpp"
#include "twinsim/live/ingest/message_ids.hpp"
#include "twinsim/live/ingest/mqtt_source.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::bench {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

constexpr const char* topic_filter = "bench/+/value";

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        if (fd >= 0) ::close(fd);
        throw std::runtime_error("cannot find a free loopback port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

bool can_connect(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    if (fd >= 0) ::close(fd);
    return ok;
}

/// A mosquitto on 127.0.0.1:port, in memory (no persistence), with no cap on
/// queued or in-flight QoS 1 messages per client; stopped (SIGTERM) at the end.
class Broker {
public:
    Broker(const std::string& program, const fs::path& dir) : port_(free_port()) {
        const fs::path config = dir / "mosquitto.conf";
        std::ofstream out(config);
        out << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\npersistence false\n"
            << "max_queued_messages 0\nmax_inflight_messages 0\nset_tcp_nodelay true\nlog_dest none\n";
        if (const passwd* pw = ::getpwuid(::getuid())) out << "user " << pw->pw_name << '\n';
        out.close();
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("cannot start the broker: fork failed");
        if (pid_ == 0) {
            ::execl(program.c_str(), program.c_str(), "-c", config.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!can_connect(port_)) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("the broker " + program + " exited at start (status " + std::to_string(status) + ")");
            }
            if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the broker did not listen within 20 s");
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    ~Broker() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;
    [[nodiscard]] int port() const { return port_; }
    /// CPU seconds (user + system) the broker has used so far (/proc/PID/stat).
    [[nodiscard]] double cpu_seconds() const {
        std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
        std::string text;
        std::getline(in, text);  // one line
        const auto close = text.rfind(')');
        if (close == std::string::npos) return 0.0;
        std::vector<std::string> fields;
        std::size_t p = close + 2;
        while (p < text.size()) {
            const auto space = text.find(' ', p);
            fields.push_back(text.substr(p, space - p));
            if (space == std::string::npos) break;
            p = space + 1;
        }
        // Fields after the command: state is [0]; utime and stime are fields 14 and 15 of the file: [11], [12].
        if (fields.size() < 13) return 0.0;
        return (std::stod(fields[11]) + std::stod(fields[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }

private:
    int port_;
    pid_t pid_ = -1;
};

void check(int rc, const char* what) {
    if (rc != MOSQ_ERR_SUCCESS) throw std::runtime_error(std::string(what) + ": " + mosquitto_strerror(rc));
}

/// Makes the persistent session `client_id` with its QoS 1 subscription, so
/// that what is published from now on is kept for it until it connects.
void subscribe_session(int port, const std::string& client_id) {
    std::atomic<bool> subscribed{false};
    mosquitto* m = mosquitto_new(client_id.c_str(), false, &subscribed);
    if (m == nullptr) throw std::runtime_error("mosquitto_new failed");
    mosquitto_subscribe_callback_set(m, [](mosquitto*, void* user, int, int, const int*) {
        static_cast<std::atomic<bool>*>(user)->store(true);
    });
    check(mosquitto_connect(m, "127.0.0.1", port, 30), "connect");
    check(mosquitto_subscribe(m, nullptr, topic_filter, 1), "subscribe");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!subscribed && std::chrono::steady_clock::now() < deadline) mosquitto_loop(m, 50, 1);
    mosquitto_disconnect(m);
    mosquitto_loop(m, 50, 1);
    mosquitto_destroy(m);
    if (!subscribed) throw std::runtime_error("no SUBACK within 20 s");
}

struct Message {
    std::string topic, payload;
};

std::vector<Message> device_messages(std::size_t n, std::size_t twins, int round) {
    std::vector<Message> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t twin = (i * 7919) % twins;
        out.push_back({"bench/" + std::to_string(twin) + "/value",
                       "{\"id\":\"r" + std::to_string(round) + "-" + std::to_string(i) + "\",\"v\":" +
                           std::to_string(static_cast<double>(i % 1000) * 0.25) + "}"});
    }
    return out;
}

/// Publishes every message with QoS 1 as fast as the broker acknowledges
/// them, keeping at most `window` unacknowledged (what a gateway does; an
/// unbounded window makes libmosquitto search a list of every message on each
/// PUBACK); returns once the broker acknowledged all.
void publish_all(int port, const std::vector<Message>& messages, int round, std::size_t window) {
    struct Acks {
        std::mutex mutex;
        std::condition_variable more;
        std::size_t count = 0;
    } acks;
    const std::string id = "bench-publisher-" + std::to_string(round);
    mosquitto* m = mosquitto_new(id.c_str(), true, &acks);
    if (m == nullptr) throw std::runtime_error("mosquitto_new failed");
    mosquitto_max_inflight_messages_set(m, static_cast<unsigned>(window));
    mosquitto_publish_callback_set(m, [](mosquitto*, void* user, int) {
        auto& a = *static_cast<Acks*>(user);
        const std::lock_guard lock(a.mutex);
        ++a.count;
        a.more.notify_one();
    });
    check(mosquitto_connect(m, "127.0.0.1", port, 60), "publisher connect");
    check(mosquitto_loop_start(m), "publisher loop");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(600);
    bool late = false;
    for (std::size_t i = 0; i <= messages.size() && !late; ++i) {
        {
            std::unique_lock lock(acks.mutex);
            const std::size_t allowed = i == messages.size() ? 0 : window - 1;  // at the end: wait for every ack
            late = !acks.more.wait_until(lock, deadline, [&] { return i - acks.count <= allowed; });
        }
        if (i == messages.size() || late) break;
        const Message& msg = messages[i];
        check(mosquitto_publish(m, nullptr, msg.topic.c_str(), static_cast<int>(msg.payload.size()), msg.payload.data(), 1, false),
              "publish");
    }
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    if (late) throw std::runtime_error("the broker acknowledged only " + std::to_string(acks.count) + " messages in 600 s");
}

struct Side {
    double wall = 0, cpu = 0, broker_cpu = 0;
    double published = 0;  ///< seconds until the broker acknowledged every message
    std::size_t updates = 0, batches = 0;
};

/// The publisher of one side's round, on its own thread: side.published is set
/// when the broker has acknowledged every message; an exception lands in `failed`.
std::thread start_publisher(const Broker& broker, const std::vector<Message>& messages, int round, std::size_t window,
                            std::chrono::steady_clock::time_point start, Side& side, std::exception_ptr& failed) {
    return std::thread([&broker, &messages, round, window, start, &side, &failed] {
        try {
            publish_all(broker.port(), messages, round, window);
            side.published = seconds_since(start);
        } catch (...) {
            failed = std::current_exception();
        }
    });
}

constexpr const char* mapping_text = R"(mappings:
  - name: sensor
    topic: "bench/{sensor}/value"
    twin: {id: "s{sensor}"}
    model: "dtmi:bench:Sensor;1"
    set:
      v: value
)";

Side run_twinsim(const Broker& broker, const MqttBenchOptions& o, const fs::path& dir, int round) {
    fs::remove_all(dir);
    live::StoreOptions store_options;
    store_options.durability = live::Durability::group;
    auto store = live::open_store(dir, store_options);
    graph::TwinGraph& g = store->graph();
    g.add_models(std::vector<dtdl::Document>{{"sensor.json", sensor_model}});
    g.atomically([&](graph::TwinGraph& a) {
        for (std::size_t t = 0; t < o.twins; ++t)
            a.upsert_twin(numbered_id("s", t), {{"$metadata", {{"$model", "dtmi:bench:Sensor;1"}}}, {"value", 0.0}});
    });
    const live::ingest::Mapping mapping = live::ingest::Mapping::parse(mapping_text, "bench-mapping", *g.snapshot().models());
    live::ingest::MessageIds remembered(live::ingest::message_ids_file(dir));
    live::ingest::IngestOptions ingest;
    ingest.policy = live::ingest::BadRowPolicy::dead_letter;
    ingest.dead_letter = dir / "dead-letter.ndjson";
    ingest.remembered = &remembered;
    live::ingest::Ingestor ingestor(g, &mapping, ingest);
    live::ingest::MqttSourceOptions source;
    source.broker = {"127.0.0.1", broker.port()};
    source.topics = live::ingest::subscription_topics(mapping);
    source.client_id = "twinsim-bench-" + std::to_string(round);
    source.max_messages = o.messages;
    source.idle = std::chrono::milliseconds(120'000);
    subscribe_session(broker.port(), source.client_id);
    const std::vector<Message> messages = device_messages(o.messages, o.twins, round);

    const double cpu0 = process_cpu_used(), broker0 = broker.cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    std::exception_ptr failed;
    Side side;
    std::thread publisher = start_publisher(broker, messages, round, o.window, start, side, failed);
    const live::ingest::MqttSourceStats stats = live::ingest::run_mqtt_ingest(ingestor, source);
    side.wall = seconds_since(start);
    side.cpu = process_cpu_used() - cpu0;
    side.broker_cpu = broker.cpu_seconds() - broker0;
    publisher.join();
    if (failed) std::rethrow_exception(failed);
    side.updates = stats.totals.updates;
    side.batches = stats.batches;
    if (!stats.totals.bad_rows.empty())
        throw std::runtime_error("twinsim: bad message: " + stats.totals.bad_rows.front().to_string());
    store->close();
    fs::remove_all(dir);
    return side;
}

/// The peer: libmosquitto's network thread receives, this thread parses each
/// payload and inserts the rows of what arrived as one transaction.
Side run_peer(const Broker& broker, const MqttBenchOptions& o, const fs::path& dir, int round) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    sqlite3* db = nullptr;
    if (sqlite3_open((dir / "peer.db").c_str(), &db) != SQLITE_OK) throw std::runtime_error("cannot open the peer's SQLite file");
    const auto exec = [&](const char* sql) {
        if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
    };
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
         "CREATE TABLE readings(id TEXT PRIMARY KEY, twin TEXT NOT NULL, value REAL NOT NULL) WITHOUT ROWID;");
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO readings VALUES (?, ?, ?)", -1, &insert, nullptr);
    struct Shared {
        std::mutex mutex;
        std::condition_variable arrived;
        std::vector<Message> pending;
    } shared;
    const std::string id = "peer-bench-" + std::to_string(round);
    subscribe_session(broker.port(), id);
    const std::vector<Message> messages = device_messages(o.messages, o.twins, round);

    const double cpu0 = process_cpu_used(), broker0 = broker.cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    mosquitto* m = mosquitto_new(id.c_str(), false, &shared);
    mosquitto_message_callback_set(m, [](mosquitto*, void* user, const mosquitto_message* msg) {
        auto& s = *static_cast<Shared*>(user);
        const std::lock_guard lock(s.mutex);
        s.pending.push_back({msg->topic, std::string(static_cast<const char*>(msg->payload), static_cast<std::size_t>(msg->payloadlen))});
        if (s.pending.size() >= 20'000) s.arrived.notify_one();
    });
    check(mosquitto_connect(m, "127.0.0.1", broker.port(), 60), "peer connect");
    check(mosquitto_loop_start(m), "peer loop");
    std::exception_ptr failed;
    Side side;
    std::thread publisher = start_publisher(broker, messages, round, o.window, start, side, failed);
    std::vector<Message> batch;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(600);
    while (side.updates < o.messages && std::chrono::steady_clock::now() < deadline) {
        {
            std::unique_lock lock(shared.mutex);
            shared.arrived.wait_for(lock, std::chrono::milliseconds(20), [&] { return shared.pending.size() >= 20'000; });
            batch.swap(shared.pending);
        }
        if (batch.empty()) continue;
        exec("BEGIN");
        for (const Message& msg : batch) {
            const nlohmann::json payload = nlohmann::json::parse(msg.payload);
            const std::size_t a = msg.topic.find('/') + 1, b = msg.topic.find('/', a);
            const std::string twin = "s" + msg.topic.substr(a, b - a);
            const std::string& mid = payload.at("id").get_ref<const std::string&>();
            sqlite3_bind_text(insert, 1, mid.data(), static_cast<int>(mid.size()), SQLITE_TRANSIENT);
            sqlite3_bind_text(insert, 2, twin.data(), static_cast<int>(twin.size()), SQLITE_TRANSIENT);
            sqlite3_bind_double(insert, 3, payload.at("v").get<double>());
            if (sqlite3_step(insert) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
            sqlite3_reset(insert);
        }
        exec("COMMIT");
        side.updates += batch.size();
        ++side.batches;
        batch.clear();
    }
    side.wall = seconds_since(start);
    side.cpu = process_cpu_used() - cpu0;
    side.broker_cpu = broker.cpu_seconds() - broker0;
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    publisher.join();
    sqlite3_finalize(insert);
    sqlite3_close(db);
    fs::remove_all(dir);
    if (failed) std::rethrow_exception(failed);
    return side;
}

ojson side_json(const std::vector<Side>& rounds, std::size_t messages) {
    std::vector<double> wall, cpu, broker;
    ojson per = ojson::array();
    for (const Side& s : rounds) {
        wall.push_back(s.wall);
        cpu.push_back(s.cpu);
        broker.push_back(s.broker_cpu);
        per.push_back({{"wall_s", s.wall}, {"published_s", s.published}, {"cpu_s", s.cpu}, {"broker_cpu_s", s.broker_cpu},
                       {"updates", s.updates}, {"batches", s.batches}});
    }
    ojson out;
    out["median_wall_s"] = stats(wall).median;
    out["messages_per_s"] = static_cast<double>(messages) / stats(wall).median;
    out["median_cpu_s"] = stats(cpu).median;
    out["messages_per_cpu_s"] = static_cast<double>(messages) / stats(cpu).median;
    out["median_broker_cpu_s"] = stats(broker).median;
    out["rounds"] = per;
    return out;
}

}  // namespace

int run_mqtt(const MqttBenchOptions& o) {
    if (o.messages == 0 || o.twins == 0 || o.rounds <= 0) {
        std::cerr << "twinsim-bench mqtt: --messages, --twins and --rounds must be at least 1\n";
        return exit_usage;
    }
    if (::access(o.broker.c_str(), X_OK) != 0) {
        std::cout << "skipped: the MQTT broker " << o.broker << " is not installed (Debian package mosquitto)\n";
        return exit_skipped;
    }
    mosquitto_lib_init();
    const fs::path dir = o.directory.empty() ? fs::temp_directory_path() / ("twinsim-bench-mqtt-" + std::to_string(::getpid()))
                                             : fs::path(o.directory);
    fs::create_directories(dir);
    const std::string load_before = load_averages();
    std::vector<Side> ours, peer;
    try {
        const Broker broker(o.broker, dir);
        for (int round = 0; round < o.rounds; ++round) {
            ours.push_back(run_twinsim(broker, o, dir / "store", round));
            peer.push_back(run_peer(broker, o, dir / "peer", round));
        }
    } catch (const std::exception& e) {
        std::cerr << "twinsim-bench mqtt: " << e.what() << '\n';
        fs::remove_all(dir);
        return exit_failed;
    }
    fs::remove_all(dir);
    bool lost = false;
    for (const Side& s : ours) lost = lost || s.updates != o.messages;
    for (const Side& s : peer) lost = lost || s.updates != o.messages;

    ojson out = ojson::object();
    out["benchmark"] = "mqtt";
    out["messages"] = o.messages;
    out["twins"] = o.twins;
    out["rounds"] = o.rounds;
    out["publisher_window"] = o.window;
    out["path"] = "mosquitto on loopback (QoS 1, no persistence) -> live::ingest::run_mqtt_ingest (twinsim serve/ingest "
                  "--mqtt) -> Ingestor -> durable store, group commit, message ids remembered; wall from the first publish "
                  "to the last batch committed; CPU: this process (publisher thread included), the broker apart";
    out["twinsim"] = side_json(ours, o.messages);
    out["peer"] = "a bare libmosquitto subscriber: nlohmann::json parse of each payload, rows (id PRIMARY KEY, twin, "
                  "value) INSERT OR IGNORE into SQLite (WAL, synchronous=FULL), one transaction per batch (20 ms or "
                  "20,000 messages); no validation, twins, etags or history";
    out["peer_sqlite"] = side_json(peer, o.messages);
    out["target_messages_per_s"] = 50000;
    out["target_met"] = out["twinsim"]["messages_per_s"].get<double>() >= 50000;
    out["twinsim_vs_peer"] = out["twinsim"]["messages_per_s"].get<double>() / out["peer_sqlite"]["messages_per_s"].get<double>();
    out["all_messages_committed"] = !lost;
    out["hardware_threads"] = std::thread::hardware_concurrency();
    out["cpu"] = machine_note().cpu;
    out["loadavg_before"] = load_before;
    out["loadavg_after"] = load_averages();
    std::cout << out.dump(2) << '\n';
    return lost ? exit_failed : exit_ok;
}

MqttBenchCommand::MqttBenchCommand(CLI::App& app) {
    command_ = app.add_subcommand(
        "mqtt", "MQTT messages/s from a real mosquitto on loopback to committed twin updates (durable store, group "
                "commit), publisher at full speed, beside a bare subscriber writing the same messages to SQLite; "
                "interleaved rounds (target 50,000/s)");
    command_->add_option("--messages", options_.messages, "Messages per round and side")
        ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}));
    command_->add_option("--twins", options_.twins, "Sensor twins the messages spread over")
        ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
    command_->add_option("--rounds", options_.rounds, "Interleaved rounds (medians reported)")->capture_default_str()->check(CLI::Range(1, 1000));
    command_->add_option("--window", options_.window, "The publisher's unacknowledged QoS 1 messages at most")
        ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{65535}));
    command_->add_option("--broker", options_.broker, "The mosquitto program")->capture_default_str();
    command_->add_option("--dir", options_.directory, "Scratch directory (default: a temporary one; removed)");
    command_->add_flag("--smoke", smoke_, "10,000 messages over 100 twins, one round (for CI)");
}

std::optional<int> MqttBenchCommand::run() {
    if (!command_->parsed()) return std::nullopt;
    if (smoke_) {
        options_.messages = 10'000;
        options_.twins = 100;
        options_.rounds = 1;
    }
    return run_mqtt(options_);
}

}  // namespace twinsim::bench
