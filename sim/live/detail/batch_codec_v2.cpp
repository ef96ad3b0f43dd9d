// Journal payload format version 2: a compact binary record of one batch
// (docs/store.md, "Payload format version 2").
//
//   payload  := 0x02 'T' 'J' body            (0x02 never starts a CBOR map: version 1 is told apart)
//   body     := base_time:svarint strings events models outcome
//   strings  := count:varint (len:varint bytes)*      every string below is an index into it
//   events   := count:varint event*
//   event    := type:u8 twin:str rel:str time:svarint(delta to base) seq:varint(first) | delta:varint
//               cause:str data:value
//   models   := count:varint (kind:u8 ids:(count str*) docs:(count (str str)*) upload:svarint before:varint)*
//   outcome  := etag_counter:varint twins:(count (id:str doc:value)*)
//               rels:(count (source:str rel:str doc:value last_update:svarint(delta to base))*)
//   value    := tag:u8 payload, tags below; objects and arrays nest.
//
// Two tags carry what replay would otherwise have to store as text: an etag
// W/"<16 hex>" is its counter (a varint), and an instant in ADT's text form
// ("2026-07-14T14:00:00.1234567Z") is its distance in ns from the batch's
// first event time (mostly 0: one byte). Both are used only when writing the
// value back gives the very same text, so decoding is exact.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "twinsim/live/detail/batch_codec.hpp"
#include "twinsim/live/detail/payload_bytes.hpp"

namespace twinsim::live::detail {

using nlohmann::json;

namespace {

constexpr char magic[3] = {'\x02', 'T', 'J'};

enum Tag : std::uint8_t {
    tag_null = 0,
    tag_false = 1,
    tag_true = 2,
    tag_int = 3,        // svarint
    tag_uint = 4,       // varint
    tag_double = 5,     // 8 bytes, little-endian IEEE 754
    tag_string = 6,     // str
    tag_array = 7,      // count values
    tag_object = 8,     // count (key:str value)
    tag_etag = 9,       // varint: W/"%016x"
    tag_instant = 10,   // svarint: ns after the base time, ADT text form
    tag_binary = 11,    // len bytes (nlohmann binary; subtype not kept)
};

class Writer {
public:
    explicit Writer(std::int64_t base) : base_(base) {
        strings_.reserve(16);
        body_.reserve(256);
    }

    void u8(std::uint8_t v) { body_.push_back(static_cast<char>(v)); }
    void varint(std::uint64_t v, std::string& out) { put_varint(out, v); }
    void varint(std::uint64_t v) { varint(v, body_); }
    void svarint(std::int64_t v) { varint(zigzag(v)); }
    void time(std::int64_t ns) { svarint(static_cast<std::int64_t>(static_cast<std::uint64_t>(ns) - static_cast<std::uint64_t>(base_))); }
    // `s` must outlive the Writer (it points into the batch being encoded).
    // A batch of one or a few changes names a dozen strings: those are found
    // by a scan (no hash table to build per batch); a hash index is built
    // once the dictionary grows past linear_strings.
    void str(std::string_view s) {
        if (index_.empty()) {
            for (std::size_t k = 0; k < strings_.size(); ++k)
                if (strings_[k] == s) {
                    varint(k);
                    return;
                }
            if (strings_.size() < linear_strings) {
                varint(strings_.size());
                strings_.push_back(s);
                return;
            }
            index_.reserve(4 * linear_strings);
            for (std::size_t k = 0; k < strings_.size(); ++k) index_.emplace(strings_[k], static_cast<std::uint32_t>(k));
        }
        auto [it, added] = index_.try_emplace(s, static_cast<std::uint32_t>(strings_.size()));
        if (added) strings_.push_back(s);
        varint(it->second);
    }
    void value(const json& v) {
        switch (v.type()) {
        case json::value_t::null:
        case json::value_t::discarded: u8(tag_null); return;
        case json::value_t::boolean: u8(v.get<bool>() ? tag_true : tag_false); return;
        case json::value_t::number_integer: u8(tag_int); svarint(v.get<std::int64_t>()); return;
        case json::value_t::number_unsigned: u8(tag_uint); varint(v.get<std::uint64_t>()); return;
        case json::value_t::number_float: {
            u8(tag_double);
            const double d = v.get<double>();
            char raw[8];
            std::memcpy(raw, &d, 8);
            body_.append(raw, 8);  // the build targets little-endian machines (docs/store.md)
            return;
        }
        case json::value_t::string: string_value(v.get_ref<const std::string&>()); return;
        case json::value_t::array:
            u8(tag_array);
            varint(v.size());
            for (const json& item : v) value(item);
            return;
        case json::value_t::object:
            u8(tag_object);
            varint(v.size());
            for (auto it = v.begin(); it != v.end(); ++it) {
                str(it.key());  // the object's own key: lives as long as the batch
                value(*it);
            }
            return;
        case json::value_t::binary: {
            u8(tag_binary);
            const auto& b = v.get_binary();
            varint(b.size());
            body_.append(reinterpret_cast<const char*>(b.data()), b.size());
            return;
        }
        }
    }
    [[nodiscard]] std::string finish() {
        std::size_t size = sizeof magic + 10 + 10 + body_.size();
        for (const std::string_view s : strings_) size += 10 + s.size();
        std::string out;
        out.reserve(size);
        out.append(magic, sizeof magic);
        varint(zigzag(base_), out);
        varint(strings_.size(), out);
        for (const std::string_view s : strings_) {
            varint(s.size(), out);
            out += s;
        }
        out += body_;
        return out;
    }

private:
    void string_value(const std::string& s) {
        // W/"<16 lowercase hex>" -> its counter
        if (s.size() == 20 && s.compare(0, 3, "W/\"") == 0 && s.back() == '"') {
            std::uint64_t n = 0;
            const auto [end, ec] = std::from_chars(s.data() + 3, s.data() + 19, n, 16);
            if (ec == std::errc() && end == s.data() + 19 && etag_text(n) == s) {
                u8(tag_etag);
                varint(n);
                return;
            }
        }
        // "YYYY-MM-DDTHH:MM:SS.fffffffZ" -> ns after the base
        if (s.size() == 28 && s[4] == '-' && s[10] == 'T' && s[19] == '.' && s[27] == 'Z') {
            if (s == last_instant_text_) {
                u8(tag_instant);
                time(last_instant_ns_);
                return;
            }
            if (const auto t = parse_timestamp(s); t && format_timestamp(*t) == s) {
                last_instant_text_ = s;
                last_instant_ns_ = t->ns;
                u8(tag_instant);
                time(t->ns);
                return;
            }
        }
        u8(tag_string);
        str(s);
    }

public:
    static std::string etag_text(std::uint64_t n) {
        char buf[21] = "W/\"0000000000000000\"";
        static constexpr char hex[] = "0123456789abcdef";
        for (int k = 18; k >= 3; --k) {
            buf[k] = hex[n & 0xFU];
            n >>= 4U;
        }
        return std::string(buf, 20);
    }

private:
    static constexpr std::size_t linear_strings = 32;
    std::int64_t base_;
    std::string body_;
    std::unordered_map<std::string_view, std::uint32_t> index_;
    std::vector<std::string_view> strings_;
    // The last instant text seen and its time: a batch's documents repeat the same few instants.
    std::string last_instant_text_;
    std::int64_t last_instant_ns_ = 0;
};

// The version 2 record: the shared reader plus the string dictionary and
// the base time that the rest of the record refers to.
class Reader : public PayloadReader<2> {
public:
    explicit Reader(std::string_view bytes) : PayloadReader<2>(bytes), bytes_(bytes) {}

    void skip_magic() {
        if (bytes_.size() < sizeof magic || std::memcmp(bytes_.data(), magic, sizeof magic) != 0)
            bad("does not start with the version 2 mark");
        (void)take(sizeof magic);
        base_ = unzigzag(varint());
        const std::uint64_t n = count(1);
        strings_.reserve(n);
        for (std::uint64_t k = 0; k < n; ++k) strings_.emplace_back(take(count(1)));
    }
    std::int64_t time() { return static_cast<std::int64_t>(static_cast<std::uint64_t>(base_) + static_cast<std::uint64_t>(svarint())); }
    const std::string& str() {
        const std::uint64_t k = varint();
        if (k >= strings_.size()) bad("names string " + std::to_string(k) + " of " + std::to_string(strings_.size()));
        return strings_[k];
    }
    json value(int depth = 0) {
        if (depth > 512) bad("nests deeper than 512 levels");
        const std::uint8_t tag = u8();
        switch (tag) {
        case tag_null: return nullptr;
        case tag_false: return false;
        case tag_true: return true;
        case tag_int: return svarint();
        case tag_uint: return varint();
        case tag_double: return float64();
        case tag_string: return str();
        case tag_array: {
            const std::uint64_t n = count(1);
            json a = json::array();
            a.get_ref<json::array_t&>().reserve(n);
            for (std::uint64_t k = 0; k < n; ++k) a.push_back(value(depth + 1));
            return a;
        }
        case tag_object: {
            const std::uint64_t n = count(2);
            json o = json::object();
            for (std::uint64_t k = 0; k < n; ++k) {
                const std::string& key = str();
                o[key] = value(depth + 1);
            }
            return o;
        }
        case tag_etag: return Writer::etag_text(varint());
        case tag_instant: return format_timestamp(Timestamp{time()});
        case tag_binary: {
            const std::string_view raw = take(count(1));
            return json::binary(std::vector<std::uint8_t>(raw.begin(), raw.end()));
        }
        default: bad("has a value of the unknown kind " + std::to_string(tag));
        }
    }
    /// Checks one value as value() would, without building it.
    void skip_value(int depth = 0) {
        if (depth > 512) bad("nests deeper than 512 levels");
        const std::uint8_t tag = u8();
        switch (tag) {
        case tag_null:
        case tag_false:
        case tag_true: return;
        case tag_int:
        case tag_uint:
        case tag_etag: (void)varint(); return;
        case tag_instant: (void)time(); return;
        case tag_double: (void)float64(); return;
        case tag_string: (void)str(); return;
        case tag_array: {
            const std::uint64_t n = count(1);
            for (std::uint64_t k = 0; k < n; ++k) skip_value(depth + 1);
            return;
        }
        case tag_object: {
            const std::uint64_t n = count(2);
            for (std::uint64_t k = 0; k < n; ++k) {
                (void)str();
                skip_value(depth + 1);
            }
            return;
        }
        case tag_binary: (void)take(count(1)); return;
        default: bad("has a value of the unknown kind " + std::to_string(tag));
        }
    }
    [[nodiscard]] std::int64_t base() const { return base_; }

private:
    std::string_view bytes_;
    std::int64_t base_ = 0;
    std::vector<std::string> strings_;
};

}  // namespace

int payload_format(std::string_view bytes) noexcept {
    if (is_numeric_payload(bytes)) return 3;
    return bytes.size() >= sizeof magic && std::memcmp(bytes.data(), magic, sizeof magic) == 0 ? 2 : 1;
}

std::string encode_batch(const graph::CommitBatch& batch, const graph::BatchOutcome& outcome) {
    const std::int64_t base = batch.events.empty() ? 0 : batch.events.front().time.ns;
    Writer w(base);
    w.varint(batch.events.size());
    std::uint64_t previous = 0;
    for (std::size_t k = 0; k < batch.events.size(); ++k) {
        const graph::ChangeEvent& e = batch.events[k];
        w.u8(static_cast<std::uint8_t>(e.type));
        w.str(e.twin_id);
        w.str(e.relationship_id);
        w.time(e.time.ns);
        w.varint(k == 0 ? e.sequence : e.sequence - previous);
        previous = e.sequence;
        w.str(e.cause);
        w.value(e.data);
    }
    w.varint(batch.models.size());
    for (const graph::ModelChange& m : batch.models) {
        w.u8(static_cast<std::uint8_t>(m.kind));
        w.varint(m.model_ids.size());
        for (const std::string& id : m.model_ids) w.str(id);
        w.varint(m.documents.size());
        for (const dtdl::Document& d : m.documents) {
            w.str(d.source);
            w.str(d.text);
        }
        w.svarint(m.upload_time.ns);
        w.varint(m.events_before);
    }
    w.varint(outcome.etag_counter);
    w.varint(outcome.twins.size());
    for (const graph::BatchOutcome::Twin& t : outcome.twins) {
        w.str(t.id);
        w.value(t.document);
    }
    w.varint(outcome.relationships.size());
    for (const graph::BatchOutcome::Relationship& r : outcome.relationships) {
        w.str(r.source_id);
        w.str(r.relationship_id);
        w.value(r.document);
        w.time(r.last_update.ns);
    }
    return w.finish();
}

namespace {

// Any version; `with_outcome` false: a version 2 outcome is checked, not built.
DecodedBatch decode_v2(std::string_view bytes, bool with_outcome) {
    const int format = payload_format(bytes);
    if (format == 1) return decode_batch_v1(bytes);
    if (format == 3) {
        DecodedBatch out;
        out.numeric = decode_numeric_batch(bytes);
        return out;
    }
    Reader r(bytes);
    r.skip_magic();
    DecodedBatch out;
    const std::uint64_t events = r.count(6);
    out.events.reserve(events);
    std::uint64_t previous = 0;
    for (std::uint64_t k = 0; k < events; ++k) {
        graph::ChangeEvent e;
        const std::uint8_t type = r.u8();
        if (type > static_cast<std::uint8_t>(graph::ChangeType::relationship_delete))
            Reader::bad("has a change of the unknown type " + std::to_string(type));
        e.type = static_cast<graph::ChangeType>(type);
        e.twin_id = r.str();
        e.relationship_id = r.str();
        e.subject = e.twin_id;
        if (!e.relationship_id.empty()) {
            e.subject += "/relationships/";
            e.subject += e.relationship_id;
        }
        e.time = Timestamp{r.time()};
        e.sequence = k == 0 ? r.varint() : previous + r.varint();
        previous = e.sequence;
        e.cause = r.str();
        e.data = r.value();
        out.events.push_back(std::move(e));
    }
    const std::uint64_t models = r.count(5);
    for (std::uint64_t k = 0; k < models; ++k) {
        graph::ModelChange m;
        const std::uint8_t kind = r.u8();
        if (kind > static_cast<std::uint8_t>(graph::ModelChange::Kind::remove))
            Reader::bad("has a model change of the unknown kind " + std::to_string(kind));
        m.kind = static_cast<graph::ModelChange::Kind>(kind);
        const std::uint64_t ids = r.count(1);
        for (std::uint64_t i = 0; i < ids; ++i) m.model_ids.push_back(r.str());
        const std::uint64_t docs = r.count(2);
        for (std::uint64_t i = 0; i < docs; ++i) {
            std::string source = r.str();
            std::string text = r.str();
            m.documents.push_back(dtdl::Document{std::move(source), std::move(text)});
        }
        m.upload_time = Timestamp{r.svarint()};
        m.events_before = r.varint();
        out.models.push_back(std::move(m));
    }
    if (!with_outcome) {
        (void)r.varint();
        const std::uint64_t twins = r.count(2);
        for (std::uint64_t k = 0; k < twins; ++k) {
            (void)r.str();
            r.skip_value();
        }
        const std::uint64_t rels = r.count(4);
        for (std::uint64_t k = 0; k < rels; ++k) {
            (void)r.str();
            (void)r.str();
            r.skip_value();
            (void)r.time();
        }
        if (!r.at_end()) Reader::bad("has bytes after its last record");
        return out;
    }
    out.outcome.etag_counter = r.varint();
    const std::uint64_t twins = r.count(2);
    out.outcome.twins.reserve(twins);
    for (std::uint64_t k = 0; k < twins; ++k) {
        std::string id = r.str();
        out.outcome.twins.push_back({std::move(id), r.value()});
    }
    const std::uint64_t rels = r.count(4);
    for (std::uint64_t k = 0; k < rels; ++k) {
        graph::BatchOutcome::Relationship rel;
        rel.source_id = r.str();
        rel.relationship_id = r.str();
        rel.document = r.value();
        rel.last_update = Timestamp{r.time()};
        out.outcome.relationships.push_back(std::move(rel));
    }
    if (!r.at_end()) Reader::bad("has bytes after its last record");
    return out;
}

}  // namespace

DecodedBatch decode_batch(std::string_view bytes) { return decode_v2(bytes, true); }

DecodedBatch decode_batch_events(std::string_view bytes) { return decode_v2(bytes, false); }

}  // namespace twinsim::live::detail
