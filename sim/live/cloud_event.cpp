#include "twinsim/live/cloud_event.hpp"

#include <array>
#include <cstdio>
#include <mutex>
#include <random>

namespace twinsim::live {

using nlohmann::json;

std::string sequence_text(std::uint64_t sequence) {
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%020llu", static_cast<unsigned long long>(sequence));
    return buf.data();
}

std::string random_uuid() {
    static std::mutex mutex;
    static std::mt19937_64 engine{std::random_device{}()};
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    {
        std::lock_guard lock(mutex);
        hi = engine();
        lo = engine();
    }
    hi = (hi & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;  // version 4
    lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant 10
    std::array<char, 40> buf{};
    std::snprintf(buf.data(), buf.size(), "%08llx-%04llx-%04llx-%04llx-%012llx",
                  static_cast<unsigned long long>(hi >> 32), static_cast<unsigned long long>((hi >> 16) & 0xFFFF),
                  static_cast<unsigned long long>(hi & 0xFFFF), static_cast<unsigned long long>(lo >> 48),
                  static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
    return buf.data();
}

namespace {

json base_event(std::string_view type, const std::string& source, const std::string& subject, const EventHeader& h,
                std::string id) {
    json e = json::object();
    e["specversion"] = "1.0";
    e["id"] = std::move(id);
    e["type"] = type;
    e["source"] = source;
    if (!subject.empty()) e["subject"] = subject;
    e["time"] = format_timestamp(h.time);
    e["datacontenttype"] = "application/json";
    e["sequence"] = sequence_text(h.sequence);
    return e;
}

}  // namespace

Notification change_notification(const graph::ChangeEvent& change, const EventHeader& header) {
    Notification n;
    n.sequence = header.sequence;
    n.partition = change.twin_id;
    n.event = base_event(graph::event_type(change.type), header.host, change.subject, header, random_uuid());
    if (!change.cause.empty()) n.event["twinsimcause"] = change.cause;
    n.event["data"] = change.data;
    return n;
}

std::vector<Notification> model_notifications(const graph::ModelChange& change, const EventHeader& header) {
    std::vector<Notification> out;
    std::uint64_t seq = header.sequence;
    for (const std::string& id : change.model_ids) {
        EventHeader h = header;
        h.sequence = seq++;
        Notification n;
        n.sequence = h.sequence;
        n.partition = id;
        std::string_view type = model_create_event_type;
        json data = {{"id", id}};
        switch (change.kind) {
        case graph::ModelChange::Kind::add: data["uploadTime"] = format_timestamp(change.upload_time); break;
        case graph::ModelChange::Kind::decommission: type = model_decommission_event_type; break;
        case graph::ModelChange::Kind::remove: type = model_delete_event_type; break;
        }
        n.event = base_event(type, header.host, id, h, random_uuid());
        n.event["data"] = std::move(data);
        out.push_back(std::move(n));
    }
    return out;
}

Notification telemetry_notification(const TelemetryMessage& message, const EventHeader& header) {
    Notification n;
    n.sequence = header.sequence;
    n.partition = message.twin_id;
    std::string source = header.host;
    source += "/digitaltwins/";
    source += message.twin_id;
    n.event = base_event(telemetry_event_type, source, message.component, header,
                         message.message_id.empty() ? random_uuid() : message.message_id);
    n.event["dataschema"] = message.model_id;
    if (message.source_time) n.event["telemetrysourcetime"] = format_timestamp(*message.source_time);
    n.event["data"] = message.payload;
    return n;
}

}  // namespace twinsim::live
