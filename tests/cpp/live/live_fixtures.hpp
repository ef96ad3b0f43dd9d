#pragma once
// Models, a recording endpoint and helpers shared by the live-layer tests.

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "twinsim/graph/twin_graph.hpp"
#include "twinsim/live/routes.hpp"

namespace twinsim::test {

inline std::vector<dtdl::Document> live_models() {
    // DTDL v2: semantic types (Temperature + unit) need no extension there.
    const char* thermostat = R"({"@context":"dtmi:dtdl:context;2","@id":"dtmi:live:Thermostat;1","@type":"Interface",
      "contents":[{"@type":"Property","name":"setpoint","schema":"double","writable":true},
                  {"@type":["Telemetry","Temperature"],"name":"supply","schema":"double","unit":"degreeCelsius"}]})";
    const char* room = R"({"@context":"dtmi:dtdl:context;2","@id":"dtmi:live:Room;1","@type":"Interface",
      "contents":[
        {"@type":"Property","name":"temperature","schema":"double","writable":true},
        {"@type":["Telemetry","Temperature"],"name":"airTemperature","schema":"double","unit":"degreeCelsius"},
        {"@type":"Telemetry","name":"occupancy","schema":"integer"},
        {"@type":"Telemetry","name":"state","schema":{"@type":"Enum","valueSchema":"string",
           "enumValues":[{"name":"ok","enumValue":"ok"},{"name":"alarm","enumValue":"alarm"}]}},
        {"@type":"Telemetry","name":"reading","schema":{"@type":"Object","fields":[
           {"name":"value","schema":"double"},{"name":"quality","schema":"string"}]}},
        {"@type":"Relationship","name":"next"},
        {"@type":"Component","name":"thermostat","schema":"dtmi:live:Thermostat;1"}]})";
    return {{"thermostat.json", thermostat}, {"room.json", room}};
}

inline nlohmann::json live_room(double temperature) {
    return {{"$metadata", {{"$model", "dtmi:live:Room;1"}}},
            {"temperature", temperature},
            {"thermostat", {{"$metadata", nlohmann::json::object()}, {"setpoint", 21.0}}}};
}

/// Fast retries so tests do not wait.
inline live::RouterOptions fast_options() {
    live::RouterOptions o;
    o.initial_backoff = std::chrono::milliseconds(1);
    o.max_backoff = std::chrono::milliseconds(4);
    o.block_timeout = std::chrono::milliseconds(200);
    o.close_timeout = std::chrono::milliseconds(5000);
    return o;
}

/// Collects every notification it is given, with the delivering thread.
struct Recorder {
    std::mutex m;
    std::vector<nlohmann::json> events;
    std::vector<std::thread::id> threads;
    std::shared_ptr<live::Endpoint> endpoint() {
        return std::make_shared<live::CallbackEndpoint>([this](const live::Notification& n) {
            std::lock_guard lock(m);
            events.push_back(n.event);
            threads.push_back(std::this_thread::get_id());
        });
    }
    std::vector<nlohmann::json> snapshot() {
        std::lock_guard lock(m);
        return events;
    }
};

inline std::vector<nlohmann::json> read_ndjson(const std::filesystem::path& path) {
    std::vector<nlohmann::json> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
}

/// A fresh, empty directory under the system temp dir.
inline std::filesystem::path fresh_dir(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() /
               ("twinsim-live-" + name + "-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace twinsim::test
