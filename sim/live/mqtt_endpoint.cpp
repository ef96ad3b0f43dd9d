// The MQTT route endpoint through libmosquitto.

#include "twinsim/live/mqtt_endpoint.hpp"

#include <mosquitto.h>

#include <condition_variable>
#include <mutex>
#include <set>

#include "twinsim/live/saved_routes.hpp"

namespace twinsim::live {
namespace {

const std::set<std::string> placeholders = {"type", "subject", "twin", "source"};

std::string topic_safe(std::string value) {
    for (char& c : value)
        if (c == '+' || c == '#' || c == '\0') c = '_';
    return value;
}

std::string member(const nlohmann::json& event, const char* name) {
    const auto it = event.find(name);
    return it != event.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// What the network thread's callbacks share with deliver().
struct EndpointState {
    std::mutex mutex;
    std::condition_variable changed;
    bool connected = false;
    std::set<int> acked;
};

extern "C" void endpoint_on_connect(mosquitto*, void* user, int rc) {
    auto& state = *static_cast<EndpointState*>(user);
    const std::lock_guard lock(state.mutex);
    state.connected = rc == 0;
    state.changed.notify_all();
}
extern "C" void endpoint_on_disconnect(mosquitto*, void* user, int) {
    auto& state = *static_cast<EndpointState*>(user);
    const std::lock_guard lock(state.mutex);
    state.connected = false;
    state.changed.notify_all();
}
extern "C" void endpoint_on_publish(mosquitto*, void* user, int mid) {
    auto& state = *static_cast<EndpointState*>(user);
    const std::lock_guard lock(state.mutex);
    state.acked.insert(mid);
    state.changed.notify_all();
}

}  // namespace

void check_mqtt_topic_template(const std::string& topic) {
    auto fail = [&](const std::string& why) { throw LiveError("MQTT topic template \"" + topic + "\": " + why); };
    if (topic.empty()) fail("empty");
    if (topic.size() > 65535) fail("longer than 65,535 bytes");
    std::size_t i = 0;
    while (i < topic.size()) {
        const char c = topic[i];
        if (c == '+' || c == '#') fail("'+' and '#' are subscription wildcards, not allowed in a published topic");
        if (c == '\0') fail("a NUL character");
        if (c == '}') fail("'}' without '{'");
        if (c == '{') {
            const auto close = topic.find('}', i);
            if (close == std::string::npos) fail("'{' without '}'");
            const std::string name = topic.substr(i + 1, close - i - 1);
            if (placeholders.count(name) == 0) fail("unknown placeholder {" + name + "} (known: {type}, {subject}, {twin}, {source})");
            i = close + 1;
            continue;
        }
        ++i;
    }
}

std::string mqtt_event_topic(const std::string& topic_template, const nlohmann::json& event) {
    std::string out;
    std::size_t i = 0;
    while (i < topic_template.size()) {
        const auto open = topic_template.find('{', i);
        if (open == std::string::npos) {
            out += topic_template.substr(i);
            break;
        }
        out += topic_template.substr(i, open - i);
        const auto close = topic_template.find('}', open);
        const std::string name = topic_template.substr(open + 1, close - open - 1);
        std::string value;
        if (name == "type") value = member(event, "type");
        else if (name == "subject") value = member(event, "subject");
        else if (name == "source") value = member(event, "source");
        else if (name == "twin") {
            value = member(event, "subject");
            value = value.substr(0, value.find('/'));
        }
        out += topic_safe(value.empty() ? "_" : value);
        i = close + 1;
    }
    return out;
}

struct MqttEndpoint::Impl : EndpointState {
    MqttEndpointOptions options;
    std::string where;
    mosquitto* mosq = nullptr;
    bool looping = false;
};

MqttEndpoint::MqttEndpoint(MqttEndpointOptions options) : impl_(std::make_unique<Impl>()) {
    check_mqtt_topic_template(options.topic);
    impl_->options = std::move(options);
    impl_->where = impl_->options.broker.to_string();
    mosquitto_lib_init();  // reference counted since 1.6: safe to call again
    const bool random_id = impl_->options.client_id.empty();
    impl_->mosq = mosquitto_new(random_id ? nullptr : impl_->options.client_id.c_str(), true,
                                 static_cast<EndpointState*>(impl_.get()));
    if (impl_->mosq == nullptr) throw ingest::MqttError(impl_->where + ": cannot create the MQTT client");
    mosquitto_int_option(impl_->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(impl_->mosq, endpoint_on_connect);
    mosquitto_disconnect_callback_set(impl_->mosq, endpoint_on_disconnect);
    mosquitto_publish_callback_set(impl_->mosq, endpoint_on_publish);
    mosquitto_reconnect_delay_set(impl_->mosq, 1, 30, true);
    (void)mosquitto_connect_async(impl_->mosq, impl_->options.broker.host.c_str(), impl_->options.broker.port, 30);
    if (const int rc = mosquitto_loop_start(impl_->mosq); rc != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(impl_->mosq);
        throw ingest::MqttError(impl_->where + ": cannot start the MQTT network thread: " + mosquitto_strerror(rc));
    }
    impl_->looping = true;
}

MqttEndpoint::~MqttEndpoint() {
    close();
    if (impl_->mosq != nullptr) mosquitto_destroy(impl_->mosq);
}

void MqttEndpoint::close() {
    if (!impl_->looping) return;
    impl_->looping = false;
    mosquitto_disconnect(impl_->mosq);
    mosquitto_loop_stop(impl_->mosq, false);
}

void MqttEndpoint::deliver(const Notification& notification) {
    const std::string topic = mqtt_event_topic(impl_->options.topic, notification.event);
    const std::string payload = notification.event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const auto deadline = std::chrono::steady_clock::now() + impl_->options.ack_timeout;
    std::unique_lock lock(impl_->mutex);
    if (!impl_->changed.wait_until(lock, deadline, [&] { return impl_->connected; }))
        throw LiveError(impl_->where + ": not connected to the broker");
    lock.unlock();
    int mid = 0;
    const int rc = mosquitto_publish(impl_->mosq, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false);
    if (rc != MOSQ_ERR_SUCCESS)
        throw LiveError(impl_->where + ": cannot publish to \"" + topic + "\": " + mosquitto_strerror(rc));
    lock.lock();
    if (!impl_->changed.wait_until(lock, deadline, [&] { return impl_->acked.erase(mid) != 0; }))
        throw LiveError(impl_->where + ": the broker did not acknowledge the event on \"" + topic + "\" within " +
                        std::to_string(impl_->options.ack_timeout.count()) + " ms");
}

void register_mqtt_endpoint_kind() {
    register_saved_endpoint_kind("mqtt", [](const SavedFileEndpoint& saved) -> std::shared_ptr<Endpoint> {
        MqttEndpointOptions options;
        options.broker = ingest::parse_mqtt_url(saved.url);
        options.topic = saved.topic;
        return std::make_shared<MqttEndpoint>(options);
    });
}

}  // namespace twinsim::live
