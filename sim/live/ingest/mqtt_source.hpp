#pragma once
// MQTT ingestion (docs/ingest.md "MQTT"): subscribe to the topics of an
// ingestion mapping on a broker and apply the messages received, in batches,
// through an Ingestor. libmosquitto stays in mqtt_source.cpp; this header
// pulls in nothing of it. Linked through twinsim::mqtt (not twinsim::core).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/live/errors.hpp"
#include "twinsim/live/ingest/ingest.hpp"

namespace twinsim::live::ingest {

/// A broker address: mqtt://HOST[:PORT] (port 1883 by default).
struct MqttUrl {
    std::string host;
    int port = 1883;
    [[nodiscard]] std::string to_string() const;  ///< "mqtt://HOST:PORT"
};

/// Parses "mqtt://HOST[:PORT]" (also "tcp://"; an IPv6 host in brackets).
/// Throws MappingError (source "--mqtt") naming what is wrong: another
/// scheme, no host, a port outside 1..65535, a path.
[[nodiscard]] MqttUrl parse_mqtt_url(std::string_view url);

/// The broker could not be used at all (bad client id, out of memory): the
/// message names the broker and libmosquitto's reason. An unreachable
/// broker is not an error: it is retried with backoff.
class MqttError : public LiveError {
public:
    using LiveError::LiveError;
};

struct MqttSourceOptions {
    MqttUrl broker;
    /// Subscription filters (topic_filter of the mapping's patterns, plus any
    /// given); each subscribed with QoS 1. Must not be empty.
    std::vector<std::string> topics;
    /// A fixed client id and a persistent session (clean_session false): the
    /// broker keeps the QoS 1 messages sent while this client is away.
    std::string client_id = "twinsim-ingest";
    bool clean_session = false;
    int keepalive_seconds = 30;
    /// Reconnect backoff: first wait, doubled after each failure up to the maximum.
    std::chrono::seconds reconnect_min{1};
    std::chrono::seconds reconnect_max{30};
    /// A batch is applied when it holds this many messages, or when its first
    /// message has waited `batch_wait`.
    std::size_t batch_messages = 20'000;
    std::chrono::milliseconds batch_wait{20};
    /// Received messages not yet applied: above this the network thread waits
    /// (TCP backpressure on the broker) instead of growing memory.
    std::size_t max_pending = 200'000;
    /// Stop once this many messages were taken (0: no limit). The messages of
    /// the last batch are all applied, so a few more may be.
    std::size_t max_messages = 0;
    /// Stop after this long without a message (0: no limit); counted from the
    /// start, so it also ends a run whose broker never answers.
    std::chrono::milliseconds idle{0};
    /// Set (from a signal handler, another thread) to stop cleanly: the
    /// connection is closed, then what was received is applied.
    const std::atomic<bool>* stop = nullptr;
};

struct MqttSourceStats {
    std::uint64_t messages = 0;    ///< messages received and handed to the ingestor
    std::uint64_t batches = 0;     ///< ingestor calls
    std::uint64_t connects = 0;    ///< successful connections (the first included)
    std::uint64_t disconnects = 0; ///< connections lost (not the final close)
    IngestReport totals;           ///< the batches' reports summed (bad_rows: all of them)
    std::string last_error;        ///< the last refused connection or subscription ("" when none)
};

/// Connects to the broker, subscribes (QoS 1), applies what arrives through
/// `ingestor` (one ingest_messages call per batch) until a limit of
/// `options` or `stop` ends it, then disconnects. `on_batch` (may be empty)
/// sees every batch's report after it is applied. Reconnects with backoff
/// when the connection is lost or cannot be made; the session is resumed,
/// so the broker redelivers what it accepted meanwhile. Throws MqttError
/// when the client cannot be set up, MappingError / IoError from the
/// ingestor (a dead-letter file that cannot be written).
/// Precondition: options.topics is not empty.
MqttSourceStats run_mqtt_ingest(Ingestor& ingestor, const MqttSourceOptions& options,
                                const std::function<void(const IngestReport&)>& on_batch = {});

}  // namespace twinsim::live::ingest
