// Journal payload format version 3: a batch of numeric property writes
// (graph::NumericBatch, what write_properties journals) as columns
// (docs/store.md, "Payload format version 3").
//
//   payload  := 0x03 'T' 'J' base:svarint first_sequence:varint etag_before:varint
//               names twins calls twin-column property-column flag-column value-column source-column
//   names    := count:varint (len:varint bytes)*            model ids, property names, causes
//   twins    := count:varint (len:varint bytes model:varint)*
//   calls    := count:varint (time:svarint(ns - base) writes:varint cause:varint(0 none, else name + 1))*
//   columns  := one entry per write, in order (n = the calls' writes summed):
//               twin:varint*n  property:varint*n  flags:u8*n
//               values: float64 8 bytes LE | int64 svarint | boolean none (flag bit 4)
//               source times: svarint(ns - the call's time), only for writes with flag bit 3
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "twinsim/live/detail/batch_codec.hpp"
#include "twinsim/live/detail/payload_bytes.hpp"

namespace twinsim::live::detail {

namespace {

constexpr char magic3[3] = {'\x03', 'T', 'J'};

enum Flag : std::uint8_t {
    kind_mask = 0x03,
    flag_replaced = 0x04,
    flag_source_time = 0x08,
    flag_true = 0x10,
    flags_known = 0x1F,
};

std::int64_t minus(std::int64_t a, std::int64_t b) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}
std::int64_t plus(std::int64_t a, std::int64_t b) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

void varint(std::string& out, std::uint64_t v) { put_varint(out, v); }
void svarint(std::string& out, std::int64_t v) { put_varint(out, zigzag(v)); }
void text(std::string& out, std::string_view s) {
    put_varint(out, s.size());
    out.append(s);
}

using Reader = PayloadReader<3>;

}  // namespace

bool is_numeric_payload(std::string_view bytes) noexcept {
    return bytes.size() >= sizeof magic3 && std::memcmp(bytes.data(), magic3, sizeof magic3) == 0;
}

std::string encode_numeric_batch(const graph::NumericBatch& batch) {
    std::string out(magic3, sizeof magic3);
    out.reserve(64 + batch.twins.size() * 12 + batch.writes.size() * 12);
    const std::int64_t base = batch.calls.empty() ? 0 : batch.calls.front().time.ns;
    svarint(out, base);
    varint(out, batch.first_sequence);
    varint(out, batch.etag_before);
    // Causes join the names (a batch has one or a few); a decoded batch
    // already holds them there, so it encodes to the same bytes again.
    std::vector<std::string_view> causes;
    std::unordered_map<std::string_view, std::size_t> cause_index;
    for (const graph::NumericBatch::Call& c : batch.calls) {
        if (c.cause.empty() || cause_index.count(c.cause) != 0) continue;
        const auto known = std::find(batch.names.begin(), batch.names.end(), c.cause);
        if (known != batch.names.end()) {
            cause_index.emplace(c.cause, static_cast<std::size_t>(known - batch.names.begin()));
        } else {
            cause_index.emplace(c.cause, batch.names.size() + causes.size());
            causes.push_back(c.cause);
        }
    }
    varint(out, batch.names.size() + causes.size());
    for (const std::string& n : batch.names) text(out, n);
    for (const std::string_view c : causes) text(out, c);
    varint(out, batch.twins.size());
    for (const graph::NumericBatch::Twin& t : batch.twins) {
        text(out, t.id);
        varint(out, t.model);
    }
    varint(out, batch.calls.size());
    for (const graph::NumericBatch::Call& c : batch.calls) {
        svarint(out, minus(c.time.ns, base));
        varint(out, c.writes);
        varint(out, c.cause.empty() ? 0 : cause_index.at(c.cause) + 1);
    }
    for (const graph::NumericBatch::Write& w : batch.writes) varint(out, w.twin);
    for (const graph::NumericBatch::Write& w : batch.writes) varint(out, w.property);
    for (const graph::NumericBatch::Write& w : batch.writes) {
        std::uint8_t f = static_cast<std::uint8_t>(w.kind);
        if (w.replaced) f |= flag_replaced;
        if (w.has_source_time) f |= flag_source_time;
        if (w.kind == graph::NumericBatch::Kind::boolean && w.value != 0.0) f |= flag_true;
        out.push_back(static_cast<char>(f));
    }
    for (const graph::NumericBatch::Write& w : batch.writes) {
        switch (w.kind) {
        case graph::NumericBatch::Kind::float64: {
            char raw[8];
            std::memcpy(raw, &w.value, 8);
            out.append(raw, 8);  // little-endian machines only (docs/store.md)
            break;
        }
        case graph::NumericBatch::Kind::int64: svarint(out, static_cast<std::int64_t>(w.value)); break;
        case graph::NumericBatch::Kind::boolean: break;
        }
    }
    std::size_t w = 0;
    for (const graph::NumericBatch::Call& c : batch.calls)
        for (std::uint32_t k = 0; k < c.writes && w < batch.writes.size(); ++k, ++w)
            if (batch.writes[w].has_source_time) svarint(out, minus(batch.writes[w].source_time, c.time.ns));
    return out;
}

graph::NumericBatch decode_numeric_batch(std::string_view bytes) {
    if (!is_numeric_payload(bytes)) Reader::bad("does not start with the version 3 mark");
    Reader r(bytes.substr(sizeof magic3));
    graph::NumericBatch b;
    const std::int64_t base = r.svarint();
    b.first_sequence = r.varint();
    b.etag_before = r.varint();
    const std::uint64_t names = r.count(1);
    b.names.reserve(names);
    for (std::uint64_t k = 0; k < names; ++k) b.names.push_back(r.text());
    const std::uint64_t twins = r.count(2);
    b.twins.reserve(twins);
    for (std::uint64_t k = 0; k < twins; ++k) {
        graph::NumericBatch::Twin t;
        t.id = r.text();
        const std::uint64_t model = r.varint();
        if (model >= names) Reader::bad("gives a twin the model string " + std::to_string(model) + " of " + std::to_string(names));
        t.model = static_cast<std::uint32_t>(model);
        b.twins.push_back(std::move(t));
    }
    const std::uint64_t calls = r.count(3);
    b.calls.reserve(calls);
    std::uint64_t writes = 0;
    for (std::uint64_t k = 0; k < calls; ++k) {
        graph::NumericBatch::Call c;
        c.time = Timestamp{plus(base, r.svarint())};
        const std::uint64_t n = r.varint();
        // Each write takes at least 3 bytes (twin, property, flags).
        if (n > r.left() / 3 || writes + n > r.left() / 3) Reader::bad("has a count larger than its size");
        c.writes = static_cast<std::uint32_t>(n);
        writes += n;
        const std::uint64_t cause = r.varint();
        if (cause > names) Reader::bad("gives a call the cause string " + std::to_string(cause - 1) + " of " + std::to_string(names));
        if (cause > 0) c.cause = b.names[cause - 1];
        b.calls.push_back(std::move(c));
    }
    b.writes.resize(writes);
    for (graph::NumericBatch::Write& w : b.writes) {
        const std::uint64_t t = r.varint();
        if (t >= twins) Reader::bad("has a write to twin " + std::to_string(t) + " of " + std::to_string(twins));
        w.twin = static_cast<std::uint32_t>(t);
    }
    for (graph::NumericBatch::Write& w : b.writes) {
        const std::uint64_t p = r.varint();
        if (p >= names) Reader::bad("has a write to the property string " + std::to_string(p) + " of " + std::to_string(names));
        w.property = static_cast<std::uint32_t>(p);
    }
    for (graph::NumericBatch::Write& w : b.writes) {
        const std::uint8_t f = r.u8();
        if ((f & ~flags_known) != 0 || (f & kind_mask) > 2) Reader::bad("has a write with the unknown flags " + std::to_string(f));
        w.kind = static_cast<graph::NumericBatch::Kind>(f & kind_mask);
        w.replaced = (f & flag_replaced) != 0;
        w.has_source_time = (f & flag_source_time) != 0;
        if ((f & flag_true) != 0 && w.kind != graph::NumericBatch::Kind::boolean)
            Reader::bad("has a write with the unknown flags " + std::to_string(f));
        if (w.kind == graph::NumericBatch::Kind::boolean) w.value = (f & flag_true) != 0 ? 1.0 : 0.0;
    }
    for (graph::NumericBatch::Write& w : b.writes) {
        if (w.kind == graph::NumericBatch::Kind::float64) w.value = r.float64();
        else if (w.kind == graph::NumericBatch::Kind::int64) w.value = static_cast<double>(r.svarint());
    }
    std::size_t w = 0;
    for (const graph::NumericBatch::Call& c : b.calls)
        for (std::uint32_t k = 0; k < c.writes; ++k, ++w)
            if (b.writes[w].has_source_time) b.writes[w].source_time = plus(c.time.ns, r.svarint());
    if (r.left() != 0) Reader::bad("has bytes after its last record");
    return b;
}

}  // namespace twinsim::live::detail
