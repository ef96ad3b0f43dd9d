#pragma once
// `twinsim-bench mqtt` (mqtt_benchmark.cpp): MQTT messages per second from a
// broker to committed twin updates. The bench starts a real mosquitto on a
// free loopback port, publishes N device messages (QoS 1) at full speed with
// libmosquitto, and times the MQTT ingestion `twinsim serve --mqtt` and
// `twinsim ingest --mqtt` run (live::ingest::run_mqtt_ingest into a durable
// store with group commit, message ids remembered) until every message is a
// committed update; beside it, in the same rounds, the peer: a bare
// libmosquitto subscriber that parses each payload and inserts (twin, value,
// id) rows into an SQLite table in WAL mode with synchronous=FULL, one
// transaction per batch (what a hand-written bridge would do).

#include <CLI/CLI.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace twinsim::bench {

struct MqttBenchOptions {
    std::size_t messages = 100'000;  ///< messages per round and side
    std::size_t twins = 1000;        ///< sensor twins the messages spread over
    int rounds = 3;                  ///< interleaved rounds (twinsim, then the peer); medians reported
    std::size_t window = 100;        ///< the publisher's unacknowledged messages at most
    std::string broker = "/usr/sbin/mosquitto";  ///< the broker program
    std::string directory;           ///< scratch (a temporary folder when empty; removed)
};

/// Prints one JSON object. Exit 0; 1 when a message was lost or a round
/// failed; 4 (skipped) when the broker program is not installed.
[[nodiscard]] int run_mqtt(const MqttBenchOptions& options);

class MqttBenchCommand {
public:
    explicit MqttBenchCommand(CLI::App& app);
    [[nodiscard]] std::optional<int> run();

private:
    MqttBenchOptions options_;
    bool smoke_ = false;
    CLI::App* command_ = nullptr;
};

}  // namespace twinsim::bench
