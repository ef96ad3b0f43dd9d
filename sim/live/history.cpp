// The store's history: the rows of a change event in ADT's data-history
// shape, and the background indexer that writes them from the journal.
#include "twinsim/live/history.hpp"

#include <chrono>
#include <map>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "twinsim/live/detail/batch_codec.hpp"
#include "twinsim/live/detail/history_db.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/io/history_file.hpp"

namespace twinsim::live::detail {

namespace {

using nlohmann::json;

std::string text_of(const json& j, const char* member) {
    if (!j.is_object()) return {};
    const auto it = j.find(member);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string model_of(const json& twin) {
    const auto meta = twin.find("$metadata");
    return meta != twin.end() ? text_of(*meta, "$model") : std::string();
}

std::optional<Timestamp> source_time_of(const json& metadata, const std::string& property) {
    if (!metadata.is_object()) return std::nullopt;
    const auto p = metadata.find(property);
    if (p == metadata.end() || !p->is_object()) return std::nullopt;
    const auto st = p->find("sourceTime");
    if (st == p->end() || !st->is_string()) return std::nullopt;
    return parse_timestamp(st->get<std::string>());
}

// JSON Pointer tokens, unescaped.
std::vector<std::string> tokens_of(const std::string& pointer) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < pointer.size() && pointer[i] == '/') {
        const std::size_t next = pointer.find('/', i + 1);
        std::string t = pointer.substr(i + 1, next == std::string::npos ? std::string::npos : next - i - 1);
        std::string u;
        for (std::size_t k = 0; k < t.size(); ++k) {
            if (t[k] == '~' && k + 1 < t.size() && (t[k + 1] == '0' || t[k + 1] == '1')) {
                u += t[k + 1] == '0' ? '~' : '/';
                ++k;
            } else {
                u += t[k];
            }
        }
        out.push_back(std::move(u));
        if (next == std::string::npos) break;
        i = next;
    }
    return out;
}

std::string joined(const std::vector<std::string>& tokens, std::size_t from, std::size_t to) {
    std::string key;
    for (std::size_t k = from; k < to; ++k) {
        if (!key.empty()) key += '.';
        key += tokens[k];
    }
    return key;
}

// A twin's (or a component's) properties: every member not starting with '$'.
void record_properties(const json& object, const std::string& prefix, const graph::ChangeEvent& e,
                       const std::string& model, const std::string& relationship, const std::string& target,
                       HistoryWriter& w, bool components) {
    if (!object.is_object()) return;
    const json empty;
    const auto meta_it = object.find("$metadata");
    const json& meta = meta_it != object.end() ? *meta_it : empty;
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (!it.key().empty() && it.key()[0] == '$') continue;
        const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
        if (components && it->is_object() && it->contains("$metadata")) {
            record_properties(*it, key, e, model, relationship, target, w, false);
            continue;
        }
        w.property(e.twin_id, key, e.time, e.sequence, source_time_of(meta, it.key()), model, &*it, relationship, target);
    }
}

// The value rows of a JSON Patch: sourceTimes first, then each add/replace/remove.
void record_patch(const json& patch, const graph::ChangeEvent& e, const std::string& model,
                  const std::string& relationship, const std::string& target, HistoryWriter& w) {
    if (!patch.is_array()) return;
    std::vector<std::pair<std::string, Timestamp>> source_times;
    for (const json& op : patch) {
        const std::string path = text_of(op, "path");
        const std::vector<std::string> t = tokens_of(path);
        // [.../]$metadata/<property>/sourceTime
        if (t.size() >= 3 && t.back() == "sourceTime" && t[t.size() - 3] == "$metadata") {
            const auto v = op.find("value");
            if (v != op.end() && v->is_string()) {
                if (auto ts = parse_timestamp(v->get<std::string>())) {
                    std::vector<std::string> key_tokens(t.begin(), t.end() - 3);
                    key_tokens.push_back(t[t.size() - 2]);
                    source_times.emplace_back(joined(key_tokens, 0, key_tokens.size()), *ts);
                }
            }
        }
    }
    for (const json& op : patch) {
        const std::string kind = text_of(op, "op");
        if (kind != "add" && kind != "replace" && kind != "remove") continue;
        const std::vector<std::string> t = tokens_of(text_of(op, "path"));
        if (t.empty()) continue;
        bool meta = false;
        for (const std::string& token : t) meta = meta || (!token.empty() && token[0] == '$');
        if (meta) continue;
        const std::string key = joined(t, 0, t.size());
        std::optional<Timestamp> source;
        for (const auto& [k, ts] : source_times)
            if (k == key) source = ts;
        const auto v = op.find("value");
        const json* value = kind == "remove" || v == op.end() ? nullptr : &*v;
        w.property(e.twin_id, key, e.time, e.sequence, source, model, value, relationship, target);
    }
}

void record_event(const graph::ChangeEvent& e, HistoryWriter& w) {
    using graph::ChangeType;
    const json& d = e.data;
    if (!e.cause.empty()) w.cause(e.sequence, e.cause);
    switch (e.type) {
    case ChangeType::twin_create: {
        const std::string model = model_of(d);
        w.twin(e.twin_id, e.time, e.sequence, true, model);
        record_properties(d, "", e, model, "", "", w, true);
        break;
    }
    case ChangeType::twin_update: {
        std::string model = text_of(d, "modelId");
        if (model.empty()) model = w.twin_model(e.twin_id);
        const json& patch = d.is_object() && d.contains("patch") ? d["patch"] : json();
        if (patch.is_array())
            for (const json& op : patch)
                if (text_of(op, "path") == "/$metadata/$model" && !model.empty()) w.set_twin_model(e.twin_id, model);
        record_patch(patch, e, model, "", "", w);
        break;
    }
    case ChangeType::twin_delete: w.twin(e.twin_id, e.time, e.sequence, false, model_of(d)); break;
    case ChangeType::relationship_create: {
        const std::string target = text_of(d, "$targetId");
        w.relationship(e.twin_id, e.relationship_id, e.time, e.sequence, true, text_of(d, "$relationshipName"), target);
        record_properties(d, "", e, w.twin_model(e.twin_id), e.relationship_id, target, w, false);
        break;
    }
    case ChangeType::relationship_update: {
        std::string model = text_of(d, "modelId");
        if (model.empty()) model = w.twin_model(e.twin_id);
        record_patch(d.is_object() && d.contains("patch") ? d["patch"] : json(), e, model, e.relationship_id,
                     w.relationship_target(e.twin_id, e.relationship_id), w);
        break;
    }
    case ChangeType::relationship_delete:
        w.relationship(e.twin_id, e.relationship_id, e.time, e.sequence, false, text_of(d, "$relationshipName"),
                       text_of(d, "$targetId"));
        break;
    }
}

// The rows of a batch of numeric writes, straight from its columns: one
// property update per write, numbered with its twin's event in its call.
// As for an event's patch (record_patch), a row's SourceTimeStamp is the
// last sourceTime the call set for that property of that twin, if any.
void record_numeric(const graph::NumericBatch& b, HistoryWriter& w) {
    std::vector<std::uint32_t> last_call(b.twins.size(), 0);
    std::vector<std::uint64_t> sequence_of(b.twins.size(), 0);
    std::unordered_map<std::uint64_t, std::int64_t> source_times;  // (twin, property) -> the call's last sourceTime
    std::uint64_t next = b.first_sequence;
    std::size_t k = 0;
    for (std::uint32_t c = 0; c < b.calls.size(); ++c) {
        const graph::NumericBatch::Call& call = b.calls[c];
        source_times.clear();
        for (std::size_t s = k; s < k + call.writes && s < b.writes.size(); ++s)
            if (b.writes[s].has_source_time)
                source_times[(std::uint64_t{b.writes[s].twin} << 32U) | b.writes[s].property] = b.writes[s].source_time;
        for (std::uint32_t n = 0; n < call.writes && k < b.writes.size(); ++n, ++k) {
            const graph::NumericBatch::Write& wr = b.writes[k];
            if (last_call[wr.twin] != c + 1) {
                last_call[wr.twin] = c + 1;
                sequence_of[wr.twin] = next++;
            }
            const json value = graph::NumericBatch::value_json(wr);
            std::optional<Timestamp> source;
            if (!source_times.empty())
                if (const auto it = source_times.find((std::uint64_t{wr.twin} << 32U) | wr.property); it != source_times.end())
                    source = Timestamp{it->second};
            w.property(b.twins[wr.twin].id, b.names[wr.property], call.time, sequence_of[wr.twin], source,
                       b.names[b.twins[wr.twin].model], &value, "", "");
        }
    }
}

}  // namespace

void record_batch(std::uint64_t batch, std::string_view payload, HistoryWriter& writer) {
    DecodedBatch decoded;
    try {
        decoded = decode_batch_events(payload);  // the rows come from the events; the outcome is only checked
    } catch (const std::exception& e) {
        throw HistoryError("history: batch " + std::to_string(batch) + " of the journal cannot be read: " + e.what());
    }
    if (decoded.numeric) {
        record_numeric(*decoded.numeric, writer);
        return;
    }
    for (const graph::ChangeEvent& e : decoded.events) record_event(e, writer);
}

// --- the background indexer ----------------------------------------------------------

namespace {
constexpr std::uint64_t batches_per_transaction = 1000;
constexpr auto retry_after = std::chrono::milliseconds(500);
// Woken by a commit while no reader waits, the indexer lets batches gather
// for this long (or until a reader comes, or a transaction's worth is due)
// before indexing them in one transaction: under a stream of small group
// commits that is one history transaction per period instead of one per
// sync. A reader never waits for the period: it wakes the indexer at once.
constexpr auto gather_period = std::chrono::milliseconds(10);
}  // namespace

struct HistoryRecorder::Impl {
    HistoryOptions options;
    std::unique_ptr<HistoryDb> db;
    std::mutex mutex;
    std::condition_variable work;     // the indexer waits for batches
    std::condition_variable progress; // readers wait for the indexer
    std::uint64_t target = 0;         // last batch known committed
    std::uint64_t indexed = 0;
    std::size_t readers = 0;          // readers waiting in wait_for
    std::uint64_t since_retention = 0;
    std::string failure;              // the indexer's last error, empty when it works
    bool stopping = false;
    std::thread thread;

    void loop() {
        std::unique_lock lock(mutex);
        for (;;) {
            work.wait(lock, [&] { return stopping || target > indexed; });
            if (stopping) return;
            if (readers == 0)
                work.wait_for(lock, gather_period, [&] {
                    return stopping || readers > 0 || target - indexed >= batches_per_transaction;
                });
            if (stopping) return;
            lock.unlock();
            std::string error;
            std::uint64_t now_indexed = 0;
            try {
                now_indexed = db->index_next(batches_per_transaction, [](std::uint64_t b, std::string_view p, HistoryWriter& w) {
                    record_batch(b, p, w);
                });
            } catch (const std::exception& e) {
                error = e.what();
            }
            bool thin = false;
            lock.lock();
            if (error.empty()) {
                since_retention += now_indexed - indexed;
                indexed = now_indexed;
                failure.clear();
                thin = options.retention.older_than_ns > 0 && options.retention_every > 0 &&
                       since_retention >= options.retention_every;
                if (thin) since_retention = 0;
            } else {
                failure = error;
            }
            progress.notify_all();
            if (thin) {
                lock.unlock();
                try {
                    (void)db->thin(options.retention, std::nullopt);
                } catch (const std::exception&) {
                    // Retried at the next period; the history stays complete meanwhile.
                }
                lock.lock();
            }
            if (!error.empty()) work.wait_for(lock, retry_after, [&] { return stopping; });
        }
    }

    void wait_for(std::uint64_t upto) {
        std::unique_lock lock(mutex);
        if (upto > target) target = upto;
        ++readers;
        work.notify_one();
        progress.wait(lock, [&] { return indexed >= upto || !failure.empty() || stopping; });
        --readers;
        if (indexed >= upto) return;
        if (stopping) throw HistoryError("history: the store is closed");
        throw HistoryError(failure + " (the history is complete up to batch " + std::to_string(indexed) + ")");
    }
};

HistoryRecorder::HistoryRecorder(const std::filesystem::path& file, const std::filesystem::path& journal,
                                 HistoryOptions options, std::uint64_t last_batch)
    : impl_(std::make_unique<Impl>()) {
    impl_->options = options;
    impl_->db = std::make_unique<HistoryDb>(file, journal);
    impl_->indexed = impl_->db->indexed();
    impl_->target = std::max(last_batch, impl_->indexed);
    impl_->thread = std::thread([this] { impl_->loop(); });
}

HistoryRecorder::~HistoryRecorder() { stop(); }

void HistoryRecorder::committed(std::uint64_t batch) noexcept {
    std::lock_guard lock(impl_->mutex);
    if (batch > impl_->target) {
        impl_->target = batch;
        impl_->work.notify_one();
    }
}

HistoryResult HistoryRecorder::read(const HistoryQuery& query, std::uint64_t upto) {
    if (query.start && query.end && query.end->ns < query.start->ns)
        throw HistoryError("history: the query's end (" + format_timestamp(*query.end) + ") is before its start (" +
                           format_timestamp(*query.start) + ")");
    impl_->wait_for(upto);
    return impl_->db->query(query);
}

HistorySeries HistoryRecorder::read_series(std::string_view twin, std::string_view key, std::optional<Timestamp> start,
                                           std::optional<Timestamp> end, std::uint64_t upto) {
    if (start && end && end->ns < start->ns)
        throw HistoryError("history: the series' end (" + format_timestamp(*end) + ") is before its start (" +
                           format_timestamp(*start) + ")");
    impl_->wait_for(upto);
    return impl_->db->series(twin, key, start, end);
}

std::uint64_t HistoryRecorder::thin(const RetentionPolicy& policy, std::optional<Timestamp> now, std::uint64_t upto) {
    if (policy.older_than_ns < 0 || policy.interval_ns < 0)
        throw HistoryError("history: a retention policy's age and interval cannot be negative");
    impl_->wait_for(upto);
    return impl_->db->thin(policy, now);
}

void HistoryRecorder::telemetry(std::string_view twin, std::string_view component, std::string_view model,
                                const nlohmann::json& payload, Timestamp time, std::optional<Timestamp> source_time) {
    if (!payload.is_object()) throw HistoryError("history: a telemetry payload must be a JSON object");
    impl_->db->telemetry(twin, component, model, payload, time, source_time);
}

HistoryDb::Counts HistoryRecorder::counts(std::uint64_t upto) {
    impl_->wait_for(upto);
    return impl_->db->counts();
}

const HistoryOptions& HistoryRecorder::options() const noexcept { return impl_->options; }

void HistoryRecorder::stop() noexcept {
    if (!impl_) return;
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->work.notify_all();
    impl_->progress.notify_all();
    if (impl_->thread.joinable()) impl_->thread.join();
    if (impl_->db) impl_->db->close();
}

}  // namespace twinsim::live::detail

namespace twinsim::live {

namespace {

// The DTDL unit of a key ("property" or "component.property") of a model; "" when none or unknown.
std::string unit_of(const graph::Snapshot& snapshot, const std::string& model_id, const std::string& key,
                    std::map<std::pair<std::string, std::string>, std::string>& cache) {
    const auto found = cache.find({model_id, key});
    if (found != cache.end()) return found->second;
    std::string unit;
    const auto& models = snapshot.models();
    if (models) {
        if (const auto index = models->find(model_id)) {
            const dtdl::CompiledInterface* iface = &models->at(*index);
            std::string_view rest = key;
            for (;;) {
                const std::size_t dot = rest.find('.');
                const dtdl::Content* content = iface->find(rest.substr(0, dot));
                if (content == nullptr) break;
                if (content->kind == dtdl::ContentKind::component && dot != std::string_view::npos) {
                    const auto component = models->find(content->component_interface);
                    if (!component) break;
                    iface = &models->at(*component);
                    rest = rest.substr(dot + 1);
                    continue;
                }
                if (dot == std::string_view::npos) unit = content->annotations.unit;
                break;
            }
        }
    }
    cache.emplace(std::make_pair(model_id, key), unit);
    return unit;
}

}  // namespace

io::HistoryTables history_tables(Store& store, const HistoryQuery& query) {
    HistoryQuery all = query;
    all.kinds = history_all_kinds;
    const HistoryResult h = store.history(all);
    const graph::Snapshot snapshot = store.graph().snapshot();
    std::map<std::pair<std::string, std::string>, std::string> units;
    io::HistoryTables t;
    t.source = store.directory().string();
    auto& p = t.property_updates;
    for (const PropertyUpdateRow& r : h.property_updates) {
        p.time_ns.push_back(r.time.ns);
        p.source_time_ns.push_back(r.source_time ? r.source_time->ns : io::no_time);
        p.id.push_back(r.id);
        p.model_id.push_back(r.model_id);
        p.key.push_back(r.key);
        p.value.push_back(r.action == "Delete" ? std::string() : r.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        p.unit.push_back(r.relationship_id.empty() ? unit_of(snapshot, r.model_id, r.key, units) : std::string());
        p.relationship_id.push_back(r.relationship_id);
        p.relationship_target.push_back(r.relationship_target);
        p.action.push_back(r.action);
        p.sequence.push_back(r.sequence);
    }
    auto& tl = t.twin_lifecycle;
    for (const TwinLifecycleRow& r : h.twin_lifecycle) {
        tl.time_ns.push_back(r.time.ns);
        tl.twin_id.push_back(r.twin_id);
        tl.action.push_back(r.action);
        tl.model_id.push_back(r.model_id);
        tl.sequence.push_back(r.sequence);
    }
    auto& rl = t.relationship_lifecycle;
    for (const RelationshipLifecycleRow& r : h.relationship_lifecycle) {
        rl.time_ns.push_back(r.time.ns);
        rl.relationship_id.push_back(r.relationship_id);
        rl.name.push_back(r.name);
        rl.action.push_back(r.action);
        rl.source.push_back(r.source);
        rl.target.push_back(r.target);
        rl.sequence.push_back(r.sequence);
    }
    auto& te = t.telemetry;
    for (const TelemetryRow& r : h.telemetry) {
        te.time_ns.push_back(r.time.ns);
        te.source_time_ns.push_back(r.source_time ? r.source_time->ns : io::no_time);
        te.id.push_back(r.id);
        te.model_id.push_back(r.model_id);
        te.key.push_back(r.key);
        te.value.push_back(r.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        // A component's telemetry: the key is "component.name" and the model the component's.
        const std::size_t dot = r.key.find('.');
        te.unit.push_back(unit_of(snapshot, r.model_id, dot == std::string::npos ? r.key : r.key.substr(dot + 1), units));
    }
    return t;
}

HistoryExportCounts export_history(Store& store, const std::filesystem::path& path, const HistoryQuery& query) {
    const io::HistoryFileCounts c = io::write_history_file(path, history_tables(store, query));
    return {c.property_updates, c.twin_lifecycle, c.relationship_lifecycle, c.telemetry};
}

void HistoryEndpoint::deliver(const Notification& notification) {
    const nlohmann::json& e = notification.event;
    if (!e.is_object() || e.value("type", std::string()) != "microsoft.iot.telemetry") return;
    const std::string source = e.value("source", std::string());
    const std::string marker = "/digitaltwins/";
    const std::size_t at = source.rfind(marker);
    if (at == std::string::npos)
        throw HistoryError("history: telemetry event " + e.value("id", std::string()) + " has no twin in its source \"" +
                           source + "\"");
    const std::string twin = source.substr(at + marker.size());
    const std::optional<Timestamp> time = parse_timestamp(e.value("time", std::string()));
    if (!time) throw HistoryError("history: telemetry event " + e.value("id", std::string()) + " has no valid time");
    std::optional<Timestamp> source_time;
    if (e.contains("telemetrysourcetime")) source_time = parse_timestamp(e.value("telemetrysourcetime", std::string()));
    const auto data = e.find("data");
    if (data == e.end() || !data->is_object())
        throw HistoryError("history: telemetry event " + e.value("id", std::string()) + " has no object payload");
    (void)store_.record_telemetry(twin, e.value("subject", std::string()), e.value("dataschema", std::string()), *data,
                                  *time, source_time);
}

}  // namespace twinsim::live
