#pragma once
// The MQTT route endpoint (docs/events.md "Endpoints"): publishes each routed
// notification, the CloudEvent as JSON, to a topic made from a template, with
// QoS 1, and returns once the broker acknowledged it (PUBACK). libmosquitto
// stays in mqtt_endpoint.cpp; linked through twinsim::mqtt (not twinsim::core).

#include <chrono>
#include <memory>
#include <string>

#include "twinsim/live/ingest/mqtt_source.hpp"
#include "twinsim/live/routes.hpp"

namespace twinsim::live {

struct MqttEndpointOptions {
    ingest::MqttUrl broker;
    /// The topic of each event: {type} (the CloudEvent type,
    /// Microsoft.DigitalTwins.Twin.Update...), {subject} (the twin id, or
    /// "<twin>/relationships/<id>"), {twin} (the subject up to its first '/')
    /// and {source} are replaced; '+', '#' and NUL in a value become '_'.
    std::string topic = "twinsim/{type}/{twin}";
    std::string client_id;  ///< "" = a random one (a clean session)
    /// How long one publish may wait for the broker's acknowledgement before
    /// it is refused (then retried by the router).
    std::chrono::milliseconds ack_timeout{10000};
};

/// Checks a topic template: not empty, every '{' closed by a known
/// placeholder, no '+' or '#' outside placeholders. Throws LiveError naming
/// the template and why.
void check_mqtt_topic_template(const std::string& topic);

/// The topic of `event` for `topic_template` (check_mqtt_topic_template first).
[[nodiscard]] std::string mqtt_event_topic(const std::string& topic_template, const nlohmann::json& event);

class MqttEndpoint final : public Endpoint {
public:
    /// Starts the connection (in the background: a broker that is down is
    /// retried with backoff). Throws LiveError for a bad topic template,
    /// ingest::MqttError when the client cannot be set up.
    explicit MqttEndpoint(MqttEndpointOptions options);
    ~MqttEndpoint() override;
    /// Publishes with QoS 1 and waits for the PUBACK. Throws LiveError (the
    /// router retries, then dead-letters) when not connected, refused, or not
    /// acknowledged within ack_timeout.
    void deliver(const Notification& notification) override;
    void close() override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Lets saved routes (saved_routes.hpp) rebuild endpoints of kind "mqtt": a
/// program that links twinsim::mqtt calls this once, before opening stores.
void register_mqtt_endpoint_kind();

}  // namespace twinsim::live
