// MQTT ingestion through libmosquitto: its network thread (mosquitto_loop_start)
// receives, this thread applies in batches.

#include "twinsim/live/ingest/mqtt_source.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace twinsim::live::ingest {

std::string MqttUrl::to_string() const {
    const bool v6 = host.find(':') != std::string::npos;
    return "mqtt://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

MqttUrl parse_mqtt_url(std::string_view url) {
    auto fail = [&](const std::string& why) -> MqttUrl {
        throw MappingError("--mqtt", 0, "", "\"" + std::string(url.substr(0, 200)) + "\": " + why);
    };
    std::string_view rest;
    for (std::string_view scheme : {"mqtt://", "tcp://"}) {
        if (url.substr(0, scheme.size()) == scheme) rest = url.substr(scheme.size());
    }
    if (rest.empty() && url.find("://") != std::string_view::npos)
        return fail("expected mqtt://HOST[:PORT] (TLS, mqtts://, is not supported)");
    if (rest.empty()) return fail("expected mqtt://HOST[:PORT]");
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.find('/') != std::string_view::npos) return fail("a broker address has no path");
    MqttUrl out;
    std::string_view port;
    if (rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) return fail("'[' without ']' around an IPv6 host");
        out.host = std::string(rest.substr(1, close - 1));
        rest.remove_prefix(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return fail("expected ':PORT' after the IPv6 host");
            port = rest.substr(1);
        }
    } else {
        const auto colon = rest.find(':');
        out.host = std::string(rest.substr(0, colon));
        if (colon != std::string_view::npos) port = rest.substr(colon + 1);
    }
    if (out.host.empty()) return fail("no host");
    if (port.data() != nullptr) {
        int p = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || p < 1 || p > 65535)
            return fail("the port must be a number from 1 to 65535");
        out.port = p;
    }
    return out;
}

namespace {

std::once_flag library_once;

/// What the network thread shares with the applying thread.
struct Shared {
    std::mutex mutex;
    std::condition_variable arrived;  ///< a batch is full (applying thread waits)
    std::condition_variable drained;  ///< room again below max_pending (network thread waits)
    std::vector<TopicMessage> pending;
    std::chrono::steady_clock::time_point first_at;  ///< when pending's first message came
    std::chrono::steady_clock::time_point last_at;   ///< when the last message came
    std::uint64_t received = 0;
    std::uint64_t connects = 0;
    std::uint64_t disconnects = 0;
    std::string last_error;  ///< of a refused connection or subscription
    bool closing = false;
    const MqttSourceOptions* options = nullptr;
};

extern "C" void on_connect(mosquitto* mosq, void* user, int rc) {
    auto& shared = *static_cast<Shared*>(user);
    if (rc != 0) {
        const std::lock_guard lock(shared.mutex);
        shared.last_error = std::string("connection refused: ") + mosquitto_connack_string(rc);
        return;
    }
    std::vector<char*> topics;
    for (const std::string& t : shared.options->topics) topics.push_back(const_cast<char*>(t.c_str()));
    const int sub = mosquitto_subscribe_multiple(mosq, nullptr, static_cast<int>(topics.size()), topics.data(), 1, 0,
                                                 nullptr);
    const std::lock_guard lock(shared.mutex);
    ++shared.connects;
    if (sub != MOSQ_ERR_SUCCESS) shared.last_error = std::string("cannot subscribe: ") + mosquitto_strerror(sub);
}

extern "C" void on_disconnect(mosquitto*, void* user, int rc) {
    auto& shared = *static_cast<Shared*>(user);
    if (rc == 0) return;  // our own mosquitto_disconnect
    const std::lock_guard lock(shared.mutex);
    ++shared.disconnects;
}

extern "C" void on_message(mosquitto*, void* user, const mosquitto_message* message) {
    auto& shared = *static_cast<Shared*>(user);
    // Copy the message before taking the lock: the applying thread's batch swap waits on it.
    TopicMessage copy{
        message->topic != nullptr ? std::string(message->topic) : std::string(),
        std::string(static_cast<const char*>(message->payload), static_cast<std::size_t>(std::max(message->payloadlen, 0)))};
    const auto now = std::chrono::steady_clock::now();
    std::unique_lock lock(shared.mutex);
    shared.drained.wait(lock, [&] { return shared.closing || shared.pending.size() < shared.options->max_pending; });
    if (shared.pending.empty()) shared.first_at = now;
    shared.last_at = now;
    shared.pending.push_back(std::move(copy));
    ++shared.received;
    if (shared.pending.size() >= shared.options->batch_messages) shared.arrived.notify_one();
}

void add_report(IngestReport& total, IngestReport&& batch) {
    total.rows += batch.rows;
    total.updates += batch.updates;
    total.twins += batch.twins;  // summed per batch: a twin updated in two batches counts twice
    total.duplicates += batch.duplicates;
    total.stale += batch.stale;
    total.applied = total.applied || batch.applied;
    for (BadRow& b : batch.bad_rows) total.bad_rows.push_back(std::move(b));
}

/// Owns the libmosquitto client.
struct Client {
    mosquitto* mosq = nullptr;
    Shared* shared = nullptr;
    bool looping = false;
    ~Client() {
        if (mosq == nullptr) return;
        if (looping) {  // left by an exception: release a waiting network thread first
            {
                const std::lock_guard lock(shared->mutex);
                shared->closing = true;
                shared->drained.notify_all();
            }
            mosquitto_disconnect(mosq);
            mosquitto_loop_stop(mosq, false);
        }
        mosquitto_destroy(mosq);
    }
};

}  // namespace

MqttSourceStats run_mqtt_ingest(Ingestor& ingestor, const MqttSourceOptions& options,
                                const std::function<void(const IngestReport&)>& on_batch) {
    std::call_once(library_once, [] { mosquitto_lib_init(); });
    const std::string where = options.broker.to_string();
    if (options.topics.empty()) throw MqttError(where + ": no topic to subscribe to");
    Shared shared;
    shared.options = &options;
    const auto start = std::chrono::steady_clock::now();
    shared.last_at = start;

    Client client;
    client.shared = &shared;
    client.mosq = mosquitto_new(options.client_id.c_str(), options.clean_session, &shared);
    if (client.mosq == nullptr)
        throw MqttError(where + ": cannot create the MQTT client '" + options.client_id + "' (" +
                        (errno == EINVAL ? "invalid client id" : "out of memory") + ")");
    mosquitto_int_option(client.mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(client.mosq, on_connect);
    mosquitto_disconnect_callback_set(client.mosq, on_disconnect);
    mosquitto_message_callback_set(client.mosq, on_message);
    mosquitto_reconnect_delay_set(client.mosq, static_cast<unsigned>(std::max<std::int64_t>(1, options.reconnect_min.count())),
                                  static_cast<unsigned>(std::max<std::int64_t>(1, options.reconnect_max.count())), true);
    // Unreachable now is not an error: the network thread keeps retrying.
    (void)mosquitto_connect_async(client.mosq, options.broker.host.c_str(), options.broker.port, options.keepalive_seconds);
    if (const int rc = mosquitto_loop_start(client.mosq); rc != MOSQ_ERR_SUCCESS)
        throw MqttError(where + ": cannot start the MQTT network thread: " + mosquitto_strerror(rc));
    client.looping = true;

    MqttSourceStats stats;
    std::size_t applied_messages = 0;
    auto apply = [&](std::vector<TopicMessage>& batch) {
        if (batch.empty()) return;
        IngestReport report = ingestor.ingest_messages(batch, applied_messages + 1);
        applied_messages += batch.size();
        ++stats.batches;
        if (on_batch) on_batch(report);
        add_report(stats.totals, std::move(report));
        batch.clear();
    };
    const auto tick = std::min(options.batch_wait, std::chrono::milliseconds(20));
    std::vector<TopicMessage> batch;
    while (true) {
        bool done = false;
        {
            std::unique_lock lock(shared.mutex);
            shared.arrived.wait_for(lock, tick, [&] { return shared.pending.size() >= options.batch_messages; });
            const auto now = std::chrono::steady_clock::now();
            if (!shared.pending.empty() &&
                (shared.pending.size() >= options.batch_messages || now - shared.first_at >= options.batch_wait)) {
                batch.swap(shared.pending);
                shared.drained.notify_all();
            }
            const std::uint64_t taken = shared.received;
            if (options.stop != nullptr && options.stop->load()) done = true;
            if (options.max_messages != 0 && taken >= options.max_messages) done = true;
            if (options.idle.count() > 0 && shared.pending.empty() && batch.empty() && now - shared.last_at >= options.idle)
                done = true;
        }
        apply(batch);
        if (done) break;
    }
    // Close, then apply what came before the close.
    {
        const std::lock_guard lock(shared.mutex);
        shared.closing = true;
        shared.drained.notify_all();
    }
    mosquitto_disconnect(client.mosq);
    mosquitto_loop_stop(client.mosq, false);
    client.looping = false;
    {
        const std::lock_guard lock(shared.mutex);
        batch.swap(shared.pending);
        stats.messages = shared.received;
        stats.connects = shared.connects;
        stats.disconnects = shared.disconnects;
        stats.last_error = shared.last_error;
    }
    apply(batch);
    return stats;
}

}  // namespace twinsim::live::ingest
