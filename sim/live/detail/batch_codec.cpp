#include "twinsim/live/detail/batch_codec.hpp"

#include <stdexcept>

namespace twinsim::live::detail {

using nlohmann::json;

namespace {

constexpr int payload_version = 1;

json event_json(const graph::ChangeEvent& e) {
    json j = json::object();
    j["t"] = static_cast<int>(e.type);
    j["s"] = e.twin_id;
    if (!e.relationship_id.empty()) j["r"] = e.relationship_id;
    j["ts"] = e.time.ns;
    j["q"] = e.sequence;
    j["d"] = e.data;
    if (!e.cause.empty()) j["c"] = e.cause;
    return j;
}

const json& member(const json& j, const char* key, const char* what) {
    const auto it = j.find(key);
    if (it == j.end()) throw std::runtime_error(std::string(what) + " has no member \"" + key + "\"");
    return *it;
}

}  // namespace

std::string encode_batch(const graph::CommitBatch& batch, const graph::BatchOutcome& outcome) {
    json j = json::object();
    j["v"] = payload_version;
    json events = json::array();
    for (const graph::ChangeEvent& e : batch.events) events.push_back(event_json(e));
    j["e"] = std::move(events);
    json models = json::array();
    for (const graph::ModelChange& m : batch.models) {
        json mj = json::object();
        mj["k"] = static_cast<int>(m.kind);
        mj["ids"] = m.model_ids;
        json docs = json::array();
        for (const dtdl::Document& d : m.documents) docs.push_back(json::array({d.source, d.text}));
        mj["docs"] = std::move(docs);
        mj["up"] = m.upload_time.ns;
        mj["eb"] = m.events_before;
        models.push_back(std::move(mj));
    }
    j["m"] = std::move(models);
    json twins = json::array();
    for (const graph::BatchOutcome::Twin& t : outcome.twins) twins.push_back(json::array({t.id, t.document}));
    j["tw"] = std::move(twins);
    json rels = json::array();
    for (const graph::BatchOutcome::Relationship& r : outcome.relationships)
        rels.push_back(json::array({r.source_id, r.relationship_id, r.document, r.last_update.ns}));
    j["rl"] = std::move(rels);
    j["ec"] = outcome.etag_counter;
    const std::vector<std::uint8_t> cbor = json::to_cbor(j);
    return std::string(cbor.begin(), cbor.end());
}

DecodedBatch decode_batch(std::string_view bytes) {
    json j;
    try {
        j = json::from_cbor(bytes.begin(), bytes.end());
    } catch (const json::exception&) {
        throw std::runtime_error("its payload is not valid CBOR");
    }
    try {
        if (!j.is_object()) throw std::runtime_error("its payload is not an object");
        const json& v = member(j, "v", "the payload");
        if (!v.is_number_integer() || v.get<int>() != payload_version)
            throw std::runtime_error("its payload has format version " + v.dump() + ", this build reads " +
                                     std::to_string(payload_version));
        DecodedBatch out;
        for (const json& e : member(j, "e", "the payload")) {
            graph::ChangeEvent ev;
            const int type = member(e, "t", "a change").get<int>();
            if (type < 0 || type > static_cast<int>(graph::ChangeType::relationship_delete))
                throw std::runtime_error("a change has the unknown type " + std::to_string(type));
            ev.type = static_cast<graph::ChangeType>(type);
            ev.twin_id = member(e, "s", "a change").get<std::string>();
            ev.subject = ev.twin_id;
            if (const auto r = e.find("r"); r != e.end()) {
                ev.relationship_id = r->get<std::string>();
                ev.subject += "/relationships/";
                ev.subject += ev.relationship_id;
            }
            ev.time = Timestamp{member(e, "ts", "a change").get<std::int64_t>()};
            ev.sequence = member(e, "q", "a change").get<std::uint64_t>();
            ev.data = member(e, "d", "a change");
            if (const auto c = e.find("c"); c != e.end()) ev.cause = c->get<std::string>();
            out.events.push_back(std::move(ev));
        }
        for (const json& m : member(j, "m", "the payload")) {
            graph::ModelChange mc;
            const int kind = member(m, "k", "a model change").get<int>();
            if (kind < 0 || kind > static_cast<int>(graph::ModelChange::Kind::remove))
                throw std::runtime_error("a model change has the unknown kind " + std::to_string(kind));
            mc.kind = static_cast<graph::ModelChange::Kind>(kind);
            mc.model_ids = member(m, "ids", "a model change").get<std::vector<std::string>>();
            for (const json& d : member(m, "docs", "a model change"))
                mc.documents.push_back(dtdl::Document{d.at(0).get<std::string>(), d.at(1).get<std::string>()});
            mc.upload_time = Timestamp{member(m, "up", "a model change").get<std::int64_t>()};
            mc.events_before = member(m, "eb", "a model change").get<std::size_t>();
            out.models.push_back(std::move(mc));
        }
        for (const json& t : member(j, "tw", "the payload"))
            out.outcome.twins.push_back({t.at(0).get<std::string>(), t.at(1)});
        for (const json& r : member(j, "rl", "the payload"))
            out.outcome.relationships.push_back(
                {r.at(0).get<std::string>(), r.at(1).get<std::string>(), r.at(2), Timestamp{r.at(3).get<std::int64_t>()}});
        out.outcome.etag_counter = member(j, "ec", "the payload").get<std::uint64_t>();
        return out;
    } catch (const json::exception&) {
        throw std::runtime_error("its payload has a member of the wrong type or shape");
    }
}

}  // namespace twinsim::live::detail
