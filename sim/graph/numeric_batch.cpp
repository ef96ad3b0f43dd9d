// NumericBatch (journal.hpp): the change events a batch of numeric property
// writes stands for, built only when someone reads them.
#include "twinsim/graph/detail/twin_documents.hpp"
#include "twinsim/graph/detail/twin_json.hpp"
#include "twinsim/graph/journal.hpp"

namespace twinsim::graph {

using nlohmann::json;

json NumericBatch::value_json(const Write& w) {
    switch (w.kind) {
    case Kind::int64: return static_cast<std::int64_t>(w.value);
    case Kind::boolean: return w.value != 0.0;
    case Kind::float64: break;
    }
    return w.value;
}

std::size_t NumericBatch::event_count() const {
    // A twin's slot holds the number of the last call that wrote it (+1).
    std::vector<std::uint32_t> last_call(twins.size(), 0);
    std::size_t events = 0;
    std::size_t w = 0;
    for (std::uint32_t c = 0; c < calls.size(); ++c) {
        for (std::uint32_t k = 0; k < calls[c].writes && w < writes.size(); ++k, ++w) {
            const std::uint32_t t = writes[w].twin;
            if (t < last_call.size() && last_call[t] != c + 1) {
                last_call[t] = c + 1;
                ++events;
            }
        }
    }
    return events;
}

std::vector<ChangeEvent> NumericBatch::events() const {
    static const std::string none;
    std::vector<ChangeEvent> out;
    std::vector<std::uint32_t> last_call(twins.size(), 0);
    std::vector<std::size_t> event_of(twins.size(), 0);
    std::uint64_t next = first_sequence;
    std::size_t w = 0;
    for (std::uint32_t c = 0; c < calls.size(); ++c) {
        const Call& call = calls[c];
        for (std::uint32_t k = 0; k < call.writes && w < writes.size(); ++k, ++w) {
            const Write& wr = writes[w];
            if (wr.twin >= twins.size()) continue;
            if (last_call[wr.twin] != c + 1) {
                last_call[wr.twin] = c + 1;
                event_of[wr.twin] = out.size();
                ChangeEvent e;
                e.type = ChangeType::twin_update;
                e.twin_id = twins[wr.twin].id;
                e.subject = e.twin_id;
                e.time = call.time;
                e.sequence = next++;
                e.cause = call.cause;
                const std::uint32_t model = twins[wr.twin].model;
                e.data = json{{"modelId", model < names.size() ? names[model] : std::string()}, {"patch", json::array()}};
                out.push_back(std::move(e));
            }
            const std::string& name = wr.property < names.size() ? names[wr.property] : none;
            json& patch = out[event_of[wr.twin]].data["patch"];
            patch.push_back({{"op", wr.replaced ? "replace" : "add"}, {"path", detail::member_path("", name)},
                             {"value", value_json(wr)}});
            if (wr.has_source_time)
                patch.push_back({{"op", "add"},
                                 {"path", detail::member_path(detail::member_path("/$metadata", name), "sourceTime")},
                                 {"value", detail::format_source_time(wr.source_time)}});
        }
    }
    return out;
}

}  // namespace twinsim::graph
