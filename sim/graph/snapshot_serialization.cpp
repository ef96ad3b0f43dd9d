#include "twinsim/graph/snapshot_serialization.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "twinsim/common/hash.hpp"
#include "twinsim/common/json_depth.hpp"
#include "twinsim/dtdl/diagnostic.hpp"
#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/graph/detail/graph_state.hpp"
#include "twinsim/graph/detail/graph_storage.hpp"
#include "twinsim/graph/detail/messages.hpp"
#include "twinsim/graph/detail/model_catalogue.hpp"
#include "twinsim/graph/detail/twin_documents.hpp"
#include "twinsim/graph/detail/twin_json.hpp"

namespace twinsim::graph {

using namespace detail;
using nlohmann::json;

namespace {

constexpr std::string_view magic{"TWINSNAP", 8};
constexpr std::size_t header_size = 8 + 4;  // magic, format version
constexpr std::size_t trailer_size = 8;     // checksum
/// Deeper JSON (components, relationship properties, definitions) is refused:
/// the limit every JSON reader shares (common/json_depth.hpp).
constexpr int max_depth = static_cast<int>(twinsim::max_json_depth);

/// FNV-1a, 64 bit: catches accidental corruption (not an authenticity check).
std::uint64_t checksum(std::string_view bytes) noexcept { return fnv1a64(bytes); }

// --- writing -------------------------------------------------------------------------

class Writer {
public:
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u32(std::uint32_t v) {
        for (unsigned i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
    }
    void u64(std::uint64_t v) {
        for (unsigned i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
    }
    void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
    void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
    void size(std::size_t n) {
        if (n > std::numeric_limits<std::uint32_t>::max())
            throw GraphError("InvalidSnapshot", "a snapshot cannot hold more than 2^32 - 1 items in one list");
        u32(static_cast<std::uint32_t>(n));
    }
    void str(std::string_view s) {
        size(s.size());
        out_.append(s);
    }
    void js(const json& j) { str(j.dump()); }
    void raw(std::string_view s) { out_.append(s); }
    [[nodiscard]] std::string& bytes() noexcept { return out_; }

private:
    std::string out_;
};

void write_cell(Writer& w, const Column& c, std::uint32_t row) {
    switch (c.type) {
        case dtdl::ColumnType::float64: w.f64(c.f64[row]); break;
        case dtdl::ColumnType::int64: w.i64(c.i64[row]); break;
        case dtdl::ColumnType::boolean: w.u8(c.b[row]); break;
        case dtdl::ColumnType::string: w.str(c.str[row]); break;
        case dtdl::ColumnType::json: w.js(column_value(c, row)); break;
    }
}

template <class List>
void write_indices(Writer& w, const List& list) {
    w.size(list.size());
    for (const std::uint32_t i : list) w.u32(i);
}

// --- reading -------------------------------------------------------------------------

/// What a read is for, named in its failure message: a string, or a callable
/// building one, which the hot loops pass so that no message is built unless
/// the read fails (a checkpoint of 100,000 twins makes millions of reads).
template <class What>
std::string describe(const What& what) {
    if constexpr (std::is_invocable_v<const What&>) {
        return what();
    } else {
        return std::string(what);
    }
}

class Reader {
public:
    Reader(std::string_view bytes, std::size_t pos) : bytes_(bytes), pos_(pos) {}

    [[noreturn]] void fail(const std::string& why) const {
        throw SnapshotFormatError("invalid snapshot bytes at offset " + std::to_string(pos_) + ": " + why);
    }
    [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
    template <class What>
    void need(std::size_t n, const What& what) const {
        if (remaining() < n)
            fail("truncated: " + describe(what) + " needs " + std::to_string(n) + " bytes, " +
                 std::to_string(remaining()) + " left");
    }
    template <class What>
    std::uint8_t u8(const What& what) {
        need(1, what);
        return static_cast<std::uint8_t>(bytes_[pos_++]);
    }
    template <class What>
    bool flag(const What& what) {
        const std::uint8_t v = u8(what);
        if (v > 1) fail(describe(what) + ": expected 0 or 1, found " + std::to_string(v));
        return v == 1;
    }
    template <class What>
    std::uint32_t u32(const What& what) {
        need(4, what);
        std::uint32_t v = 0;
        for (unsigned i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<unsigned char>(bytes_[pos_++])} << (8 * i);
        return v;
    }
    template <class What>
    std::uint64_t u64(const What& what) {
        need(8, what);
        std::uint64_t v = 0;
        for (unsigned i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(bytes_[pos_++])} << (8 * i);
        return v;
    }
    template <class What>
    std::int64_t i64(const What& what) { return static_cast<std::int64_t>(u64(what)); }
    template <class What>
    double f64(const What& what) { return std::bit_cast<double>(u64(what)); }
    /// A count of items that take at least `min_bytes` each (so a count the
    /// remaining bytes cannot hold fails before anything is allocated).
    template <class What>
    std::uint32_t count(const What& what, std::size_t min_bytes) {
        const std::uint32_t n = u32(what);
        if (n > remaining() / min_bytes)
            fail(describe(what) + " " + std::to_string(n) + " is more than the remaining " + std::to_string(remaining()) +
                 " bytes can hold");
        return n;
    }
    template <class What>
    std::string str(const What& what) {
        const std::uint32_t n = u32(what);
        need(n, what);
        std::string s(bytes_.substr(pos_, n));
        pos_ += n;
        return s;
    }
    template <class What>
    json js(const What& what) {
        const std::string text = str(what);
        bool too_deep = false;
        json j = json::parse(
            text,
            [&](int depth, json::parse_event_t, json&) {
                if (depth <= max_depth) return true;
                too_deep = true;
                return false;
            },
            false);
        if (too_deep) fail(describe(what) + ": JSON " + json_depth_reason());
        if (j.is_discarded()) fail(describe(what) + ": not valid JSON");
        return j;
    }
    /// An index < `bound` (else fails naming `what`).
    template <class What>
    std::uint32_t index(const What& what, std::size_t bound) {
        const std::uint32_t i = u32(what);
        if (i >= bound)
            fail(describe(what) + " " + std::to_string(i) + " is out of range (< " + std::to_string(bound) + ")");
        return i;
    }

private:
    std::string_view bytes_;
    std::size_t pos_;
};

/// Twin indices, relationship indices or rows: each < bound, none twice.
std::vector<std::uint32_t> read_unique_indices(Reader& r, const std::string& what, std::size_t bound) {
    const std::uint32_t n = r.count(what + " count", 4);
    std::vector<std::uint32_t> out(n);
    std::vector<bool> seen(bound, false);
    for (std::uint32_t& i : out) {
        i = r.index(what, bound);
        if (seen[i]) r.fail(what + " " + std::to_string(i) + " is listed twice");
        seen[i] = true;
    }
    return out;
}

void read_cell(Reader& r, Column& c, std::uint32_t row, CopyCounter& copies, const std::string& what) {
    switch (c.type) {
        case dtdl::ColumnType::float64: c.f64.set(row, r.f64(what), copies); break;
        case dtdl::ColumnType::int64: c.i64.set(row, r.i64(what), copies); break;
        case dtdl::ColumnType::boolean: c.b.set(row, r.flag(what) ? 1 : 0, copies); break;
        case dtdl::ColumnType::string: c.str.set(row, r.str(what), copies); break;
        case dtdl::ColumnType::json: c.js.set(row, std::make_shared<const json>(r.js(what)), copies); break;
    }
    c.present.mut(row >> 6, copies) |= std::uint64_t{1} << (row & 63);
}

}  // namespace

// ---------------------------------------------------------------------------------------

std::string serialize(const Snapshot& snapshot) {
    const GraphState& s = snapshot.state();
    Writer w;
    w.raw(magic);
    w.u32(snapshot_format_version);
    w.u64(s.etag_counter);
    w.u64(s.sequence);

    w.size(s.model_infos->size());
    for (const ModelInfo& m : *s.model_infos) {
        w.str(m.id);
        w.u8(m.decommissioned ? 1 : 0);
        w.i64(m.upload_time.ns);
        w.u8(m.definition.is_null() ? 0 : 1);
        if (!m.definition.is_null()) w.js(m.definition);
    }

    const auto& names = s.names.get();
    w.size(names.size());
    for (const std::string& n : names) w.str(n);

    w.size(s.tables.size());
    for (const PropertyTable& t : s.tables) {
        w.str(t.model_id);
        w.u32(t.rows);
        w.size(t.columns.size());
        for (const Column& c : t.columns) w.u8(static_cast<std::uint8_t>(c.type));
        write_indices(w, t.free_rows.get());
        for (std::uint32_t row = 0; row < t.rows; ++row) w.u32(t.row_twin[row]);
        for (const Column& c : t.columns) {
            for (std::uint32_t row = 0; row < t.rows; ++row) {
                const bool set = c.has(row);
                w.u8(set ? 1 : 0);
                if (!set) continue;
                write_cell(w, c, row);
                w.i64(c.last_update[row]);
                w.i64(c.source_time_at(row));
            }
        }
    }

    w.size(s.twin_meta.size());
    for (TwinIndex t = 0; t < s.twin_meta.size(); ++t) {
        const bool alive = s.alive(t);
        w.u8(alive ? 1 : 0);
        if (!alive) continue;
        const TwinMeta& m = s.twin_meta[t];
        w.str(s.twin_ids[t]);
        w.u32(m.table);
        w.u32(m.row);
        w.u64(m.etag);
        w.i64(m.last_update);
        const JsonPtr& comps = s.components[t];
        w.u8(comps ? 1 : 0);
        if (comps) w.js(*comps);
        write_indices(w, s.out[t]);
        write_indices(w, s.in[t]);
    }
    write_indices(w, s.free_twins.get());

    w.size(s.rels.size());
    for (RelationshipIndex r = 0; r < s.rels.size(); ++r) {
        const bool alive = s.rel_alive(r);
        w.u8(alive ? 1 : 0);
        if (!alive) continue;
        const RelRecord& rec = s.rels[r];
        w.u32(rec.source);
        w.u32(rec.target);
        w.u32(rec.name);
        w.u64(rec.etag);
        w.i64(rec.last_update);
        w.str(s.rel_ids[r]);
        const JsonPtr& props = s.rel_props[r];
        w.u8(props ? 1 : 0);
        if (props) w.js(*props);
    }
    write_indices(w, s.free_rels.get());

    w.u64(checksum(w.bytes()));
    return std::move(w.bytes());
}

Snapshot deserialize(std::string_view bytes) { return deserialize(bytes, nullptr); }

Snapshot deserialize(std::string_view bytes, std::shared_ptr<const dtdl::ModelSet> models) {
    // --- envelope: magic, version, checksum ---
    if (bytes.size() < header_size + trailer_size || bytes.substr(0, magic.size()) != magic)
        throw SnapshotFormatError("invalid snapshot bytes: not a twinsim snapshot (no \"TWINSNAP\" header)");
    Reader envelope(bytes, magic.size());
    const std::uint32_t version = envelope.u32("format version");
    if (version != snapshot_format_version)
        throw SnapshotFormatError("invalid snapshot bytes: format version " + std::to_string(version) +
                                  ", this build reads version " + std::to_string(snapshot_format_version));
    const std::string_view body = bytes.substr(0, bytes.size() - trailer_size);
    if (Reader(bytes, body.size()).u64("checksum") != checksum(body))
        throw SnapshotFormatError("invalid snapshot bytes: checksum mismatch (the bytes are corrupted or truncated)");
    Reader r(body, header_size);

    auto state = std::make_shared<GraphState>();
    GraphState& s = *state;
    CopyCounter copies;
    s.etag_counter = r.u64("etag counter");
    s.sequence = r.u64("event sequence");

    // --- models ---
    {
        const std::uint32_t n = r.count("model count", 4 + 1 + 8 + 1);
        std::vector<ModelInfo> infos(n);
        for (ModelInfo& m : infos) {
            m.id = r.str("model id");
            m.decommissioned = r.flag("model " + m.id + ": decommissioned");
            m.upload_time = Timestamp{r.i64("model " + m.id + ": upload time")};
            if (r.flag("model " + m.id + ": has a definition")) {
                m.definition = r.js("model " + m.id + ": definition");
                if (!m.definition.is_object()) r.fail("model " + m.id + ": the definition is not a JSON object");
            }
        }
        for (std::size_t i = 1; i < infos.size(); ++i)
            if (!(infos[i - 1].id < infos[i].id)) r.fail("models are not sorted by id, or listed twice: " + infos[i].id);
        s.model_infos = std::make_shared<const std::vector<ModelInfo>>(std::move(infos));
    }
    if (!models) {
        // Definitions were validated when uploaded; the graph's extension
        // option is not recorded, so undefined extensions are accepted here.
        dtdl::ParseOptions parse;
        parse.allow_undefined_extensions = true;
        try {
            models = dtdl::ModelSet::compile(stored_documents(s), parse);
        } catch (const Error& e) {
            throw SnapshotFormatError(std::string("invalid snapshot bytes: its models do not compile: ") + e.what());
        }
    }
    if (models->size() != s.model_infos->size())
        throw SnapshotFormatError("snapshot models: the model set holds " + std::to_string(models->size()) +
                                  " interfaces, the snapshot " + std::to_string(s.model_infos->size()));
    for (const ModelInfo& m : *s.model_infos)
        if (!models->find(m.id)) throw SnapshotFormatError("snapshot models: the model set has no " + m.id);
    s.models = models;

    // --- relationship names ---
    {
        const std::uint32_t n = r.count("relationship name count", 4);
        std::vector<std::string> names(n);
        auto index = std::make_shared<std::unordered_map<std::string, std::uint32_t>>();
        for (std::uint32_t i = 0; i < n; ++i) {
            names[i] = r.str("relationship name");
            if (!index->emplace(names[i], i).second) r.fail("relationship name " + in_quotes(names[i]) + " is listed twice");
        }
        s.names.mut(copies) = std::move(names);
        s.name_index = std::move(index);
    }

    // --- property tables ---
    const std::uint32_t table_count = r.count("table count", 4 + 4 + 4 + 4);
    s.tables.resize(table_count);
    std::vector<bool> table_has_components(table_count, false);
    for (std::uint32_t ti = 0; ti < table_count; ++ti) {
        PropertyTable& t = s.tables[ti];
        t.model_id = r.str("table model id");
        const std::string where = "table of " + t.model_id;
        const auto iface = models->find(t.model_id);
        t.interface = iface ? *iface : no_index;
        t.rows = r.u32(where + ": rows");
        const std::uint32_t columns = r.count(where + ": column count", 1);
        const dtdl::CompiledInterface* model = iface ? &models->at(*iface) : nullptr;
        if (model && columns != model->layout.slots.size())
            r.fail(where + ": " + std::to_string(columns) + " columns, but the model has " +
                   std::to_string(model->layout.slots.size()) + " properties");
        t.columns.resize(columns);
        for (std::uint32_t k = 0; k < columns; ++k) {
            const std::uint8_t type = r.u8(where + ": column type");
            if (type > static_cast<std::uint8_t>(dtdl::ColumnType::json))
                r.fail(where + ": unknown column type " + std::to_string(type));
            t.columns[k].type = static_cast<dtdl::ColumnType>(type);
            if (model && t.columns[k].type != model->layout.slots[k].type)
                r.fail(where + ": column " + in_quotes(model->layout.slots[k].name) + " has another type than the model's");
        }
        if (model)
            for (const dtdl::Content* c : model->contents)
                if (c->kind == dtdl::ContentKind::component) table_has_components[ti] = true;
        // Every row has an owner entry (4 bytes): refuse a row count the bytes cannot hold before allocating.
        r.need(std::size_t{t.rows} * 4 + 4, where + ": free rows and row owners");
        const std::vector<std::uint32_t> free_rows = read_unique_indices(r, where + ": free row", t.rows);
        r.need(std::size_t{t.rows} * 4, where + ": row owners");
        t.row_twin.resize(t.rows, copies);
        for (std::uint32_t row = 0; row < t.rows; ++row) t.row_twin.set(row, r.u32([&] { return where + ": row owner"; }), copies);
        for (const std::uint32_t row : free_rows)
            if (t.row_twin[row] != no_index) r.fail(where + ": free row " + std::to_string(row) + " has a twin");
        t.free_rows.mut(copies) = free_rows;
        for (std::uint32_t k = 0; k < columns; ++k) {
            Column& c = t.columns[k];
            const std::string col = model ? where + ", property " + in_quotes(model->layout.slots[k].name)
                                          : where + ", column " + std::to_string(k);
            resize_column(c, t.rows, copies);
            for (std::uint32_t row = 0; row < t.rows; ++row) {
                if (!r.flag([&] { return col + ": presence"; })) continue;
                if (t.row_twin[row] == no_index) r.fail(col + ": row " + std::to_string(row) + " holds a value but no twin");
                if (!model) r.fail(where + ": the model is not in the model set, yet the table holds values");
                read_cell(r, c, row, copies, col);
                c.last_update.set(row, r.i64([&] { return col + ": lastUpdateTime"; }), copies);
                c.set_source_time(row, r.i64([&] { return col + ": sourceTime"; }), copies);
                const auto errors = dtdl::validate_value(*model->layout.slots[k].property->schema, column_value(c, row));
                if (!errors.empty()) r.fail(col + ", row " + std::to_string(row) + ": " + errors.front().message);
            }
        }
    }

    // --- twins ---
    const std::uint32_t twin_capacity = r.count("twin capacity", 1);
    s.twin_ids.resize(twin_capacity, copies);
    s.twin_meta.resize(twin_capacity, copies);
    s.components.resize(twin_capacity, copies);
    s.out.resize(twin_capacity, copies);
    s.in.resize(twin_capacity, copies);
    std::vector<Adjacency> out_lists(twin_capacity);
    std::vector<Adjacency> in_lists(twin_capacity);
    for (TwinIndex t = 0; t < twin_capacity; ++t) {
        if (!r.flag([&] { return "twin " + std::to_string(t) + ": alive"; })) continue;
        const std::string id = r.str([&] { return "twin " + std::to_string(t) + ": id"; });
        const auto where = [&] { return "twin " + in_quotes(id); };
        if (id.empty()) r.fail("twin " + std::to_string(t) + " has an empty id");
        if (s.find_twin(id)) r.fail(where() + " is listed twice");
        TwinMeta m;
        m.table = r.index([&] { return where() + ": table"; }, s.tables.size());
        PropertyTable& table = s.tables[m.table];
        if (table.interface == no_index) r.fail(where() + ": its model " + table.model_id + " is not in the model set");
        m.row = r.index([&] { return where() + ": row"; }, table.rows);
        if (table.row_twin[m.row] != t) r.fail(where() + ": row " + std::to_string(m.row) + " belongs to another twin");
        m.etag = r.u64([&] { return where() + ": etag"; });
        if (m.etag > s.etag_counter) r.fail(where() + ": etag above the etag counter");
        m.last_update = r.i64([&] { return where() + ": $lastUpdateTime"; });
        s.twin_ids.set(t, id, copies);
        s.twin_meta.set(t, m, copies);
        s.twin_index.insert(GraphState::twin_hash(id), t, copies);
        ++s.twin_count;
        ++table.live;
        if (r.flag([&] { return where() + ": has components"; })) {
            json comps = r.js([&] { return where() + ": components"; });
            if (!comps.is_object()) r.fail(where() + ": components are not a JSON object");
            for (const auto& [name, value] : comps.items())
                if (!value.is_object()) r.fail(where() + ": component " + in_quotes(name) + " is not a JSON object");
            s.components.set(t, std::make_shared<const json>(std::move(comps)), copies);
        }
        for (Adjacency* list : {&out_lists[t], &in_lists[t]}) {
            const std::uint32_t n = r.count([&] { return where() + ": relationship count"; }, 4);
            list->resize(n);
            for (RelationshipIndex& rel : *list) rel = r.u32([&] { return where() + ": relationship index"; });
        }
    }
    for (std::uint32_t ti = 0; ti < table_count; ++ti) {
        const PropertyTable& t = s.tables[ti];
        for (std::uint32_t row = 0; row < t.rows; ++row) {
            const TwinIndex owner = t.row_twin[row];
            if (owner == no_index) continue;
            if (!s.alive(owner) || s.twin_meta[owner].table != ti || s.twin_meta[owner].row != row)
                r.fail("table of " + t.model_id + ": row " + std::to_string(row) + " names twin " +
                       std::to_string(owner) + ", which is not stored there");
        }
    }
    {
        const std::vector<TwinIndex> free_twins = read_unique_indices(r, "free twin", twin_capacity);
        for (const TwinIndex t : free_twins)
            if (s.alive(t)) r.fail("free twin " + std::to_string(t) + " is alive");
        s.free_twins.mut(copies) = free_twins;
    }

    // --- relationships ---
    const std::uint32_t rel_capacity = r.count("relationship capacity", 1);
    s.rels.resize(rel_capacity, copies);
    s.rel_ids.resize(rel_capacity, copies);
    s.rel_props.resize(rel_capacity, copies);
    for (RelationshipIndex rel = 0; rel < rel_capacity; ++rel) {
        const std::string at = "relationship " + std::to_string(rel);
        if (!r.flag(at + ": alive")) continue;
        RelRecord rec;
        rec.source = r.index(at + ": source", twin_capacity);
        rec.target = r.index(at + ": target", twin_capacity);
        if (!s.alive(rec.source) || !s.alive(rec.target)) r.fail(at + ": its source or target twin does not exist");
        rec.name = r.index(at + ": name", s.names->size());
        rec.etag = r.u64(at + ": etag");
        if (rec.etag > s.etag_counter) r.fail(at + ": etag above the etag counter");
        rec.last_update = r.i64(at + ": last update");
        const std::string id = r.str(at + ": id");
        const std::string where = rel_ctx(s.twin_ids[rec.source], id);
        if (id.empty()) r.fail(at + " has an empty id");
        if (s.find_rel(rec.source, id)) r.fail(where + " is listed twice");
        json props;
        if (r.flag(where + ": has properties")) {
            props = r.js(where + ": properties");
            if (!props.is_object()) r.fail(where + ": properties are not a JSON object");
        }
        // The graph's own check of a relationship document: name, target model, no self-loop, properties.
        json doc = props.is_object() ? props : json::object();
        doc["$targetId"] = s.twin_ids[rec.target];
        doc["$relationshipName"] = s.names.get()[rec.name];
        try {
            (void)parse_relationship(s, rec.source, s.twin_ids[rec.source], id, doc);
        } catch (const GraphError& e) {
            r.fail(e.what());
        }
        s.rels.set(rel, rec, copies);
        s.rel_ids.set(rel, id, copies);
        if (props.is_object()) s.rel_props.set(rel, std::make_shared<const json>(std::move(props)), copies);
        s.rel_index.insert(GraphState::rel_hash(rec.source, id), rel, copies);
        ++s.relationship_count;
    }
    {
        const std::vector<RelationshipIndex> free_rels = read_unique_indices(r, "free relationship", rel_capacity);
        for (const RelationshipIndex rel : free_rels)
            if (s.rel_alive(rel)) r.fail("free relationship " + std::to_string(rel) + " is alive");
        s.free_rels.mut(copies) = free_rels;
    }
    if (r.remaining() != 0) r.fail(std::to_string(r.remaining()) + " unexpected bytes after the relationships");

    // --- adjacency: every relationship once in its source's out list and its target's in list ---
    std::vector<bool> seen_out(rel_capacity, false);
    std::vector<bool> seen_in(rel_capacity, false);
    std::size_t outs = 0;
    std::size_t ins = 0;
    for (TwinIndex t = 0; t < twin_capacity; ++t) {
        const auto where = [&] { return "adjacency of twin " + std::to_string(t); };
        for (const RelationshipIndex rel : out_lists[t]) {
            if (rel >= rel_capacity || !s.rel_alive(rel) || s.rels[rel].source != t || seen_out[rel])
                throw SnapshotFormatError("invalid snapshot bytes: " + where() + ": outgoing relationship " +
                                          std::to_string(rel) + " does not belong there");
            seen_out[rel] = true;
            ++outs;
        }
        for (const RelationshipIndex rel : in_lists[t]) {
            if (rel >= rel_capacity || !s.rel_alive(rel) || s.rels[rel].target != t || seen_in[rel])
                throw SnapshotFormatError("invalid snapshot bytes: " + where() + ": incoming relationship " +
                                          std::to_string(rel) + " does not belong there");
            seen_in[rel] = true;
            ++ins;
        }
        if (!out_lists[t].empty()) s.out.set(t, std::move(out_lists[t]), copies);
        if (!in_lists[t].empty()) s.in.set(t, std::move(in_lists[t]), copies);
    }
    if (outs != s.relationship_count || ins != s.relationship_count)
        throw SnapshotFormatError("invalid snapshot bytes: a relationship is missing from its twins' adjacency lists");

    // --- twins with components: the graph's own check of the whole document ---
    for (TwinIndex t = 0; t < twin_capacity; ++t) {
        if (!s.alive(t)) continue;
        const bool needs = table_has_components[s.twin_meta[t].table];
        if (!needs && !s.components[t]) continue;
        try {
            (void)parse_twin(s, s.twin_ids[t], twin_json(s, t, TwinView::adt), /*restore=*/true);
        } catch (const GraphError& e) {
            throw SnapshotFormatError(std::string("invalid snapshot bytes: ") + e.what());
        }
    }
    return Snapshot(std::move(state));
}

}  // namespace twinsim::graph
