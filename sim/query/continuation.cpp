// Continuation tokens and the cursors they name (query.hpp: continue_query,
// CursorLimits). A token is base64url text of a small binary record:
//
//   "TQC1" | cursor id (8 bytes) | next offset (8) | graph version (8) |
//   query text length (4) | query text | FNV-1a 64 of everything before (8)
//
// (integers little-endian). The cursor id is drawn at random per cursor, so a
// token cannot name another query's cursor by accident; the checksum turns a
// garbled or truncated token into "invalid continuation token"; the query text
// and version are checked against the cursor named, and let a token whose
// cursor was dropped run the query again on a snapshot of the same version.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <iterator>
#include <string>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>

#include "twinsim/common/hash.hpp"
#include "twinsim/query/cursor.hpp"
#include "twinsim/query/detail/executor.hpp"
#include "twinsim/query/parser.hpp"
#include "twinsim/query/query.hpp"

namespace twinsim::query {
namespace {

constexpr char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view magic = "TQC1";
/// The longest token accepted: the header and checksum plus a query of up to 1 MiB.
constexpr std::size_t max_query_bytes = std::size_t{1} << 20;

std::string base64url(std::string_view in) {
    std::string out;
    out.reserve((in.size() * 4 + 2) / 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char ch : in) {
        acc = (acc << 8) | static_cast<unsigned char>(ch);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += b64[(acc >> bits) & 63U];
        }
    }
    if (bits > 0) out += b64[(acc << (6 - bits)) & 63U];
    return out;
}

std::optional<std::string> unbase64url(std::string_view in) {
    std::string out;
    out.reserve(in.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const char* p = std::find(b64, b64 + 64, c);
        if (p == b64 + 64) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFFU);
        }
    }
    // Canonical only: a last character that completes no byte, or padding bits not zero, is not ours.
    if (bits >= 6 || (acc & ((1U << bits) - 1U)) != 0) return std::nullopt;
    return out;
}

void put(std::string& out, std::uint64_t v, int bytes) {
    for (int k = 0; k < bytes; ++k) out += static_cast<char>((v >> (8 * k)) & 0xFFU);
}

std::uint64_t get(std::string_view in, std::size_t at, int bytes) {
    std::uint64_t v = 0;
    for (int k = 0; k < bytes; ++k) v |= std::uint64_t{static_cast<unsigned char>(in[at + static_cast<std::size_t>(k)])} << (8 * k);
    return v;
}

struct Token {
    std::uint64_t cursor = 0;
    std::uint64_t offset = 0;
    std::uint64_t version = 0;
    std::string text;
};

std::string encode(const Token& t) {
    std::string raw(magic);
    put(raw, t.cursor, 8);
    put(raw, t.offset, 8);
    put(raw, t.version, 8);
    put(raw, t.text.size(), 4);
    raw += t.text;
    put(raw, fnv1a64(raw), 8);
    return base64url(raw);
}

std::optional<Token> decode(std::string_view token) {
    constexpr std::size_t header = 4 + 8 + 8 + 8 + 4;
    if (token.size() > (header + max_query_bytes + 8) * 4 / 3 + 4) return std::nullopt;
    const auto raw = unbase64url(token);
    if (!raw || raw->size() < header + 8 || std::string_view(*raw).substr(0, 4) != magic) return std::nullopt;
    const std::size_t length = get(*raw, 28, 4);
    if (length > max_query_bytes || raw->size() != header + length + 8) return std::nullopt;
    if (get(*raw, header + length, 8) != fnv1a64(std::string_view(*raw).substr(0, header + length))) return std::nullopt;
    Token t;
    t.cursor = get(*raw, 4, 8);
    t.offset = get(*raw, 12, 8);
    t.version = get(*raw, 20, 8);
    t.text = raw->substr(header, length);
    return t;
}

/// The cursors tokens name (CursorLimits), least recently used first.
class Registry {
public:
    std::uint64_t add(std::shared_ptr<const Cursor> cursor) {
        const std::lock_guard lock(mutex_);
        std::uint64_t id = 0;
        do id = random_();
        while (id == 0 || index_.count(id) != 0);
        held_rows_ += cursor->size();
        lru_.push_back({id, std::move(cursor), std::chrono::steady_clock::now()});
        index_[id] = std::prev(lru_.end());
        trim();
        return id;
    }
    /// The cursor `id` (touched), or null when dropped.
    std::shared_ptr<const Cursor> find(std::uint64_t id) {
        const std::lock_guard lock(mutex_);
        trim();
        const auto it = index_.find(id);
        if (it == index_.end()) return nullptr;
        it->second->used = std::chrono::steady_clock::now();
        lru_.splice(lru_.end(), lru_, it->second);
        return it->second->cursor;
    }
    void drop(std::uint64_t id) {
        const std::lock_guard lock(mutex_);
        if (const auto it = index_.find(id); it != index_.end()) erase(it->second);
    }
    /// The id under which `cursor` is held, registering it if it is not.
    std::uint64_t id_of(std::shared_ptr<const Cursor> cursor) {
        {
            const std::lock_guard lock(mutex_);
            for (Entry& e : lru_)
                if (e.cursor == cursor) {
                    e.used = std::chrono::steady_clock::now();
                    return e.id;
                }
        }
        return add(std::move(cursor));
    }
    CursorLimits limits() {
        const std::lock_guard lock(mutex_);
        return limits_;
    }
    void set_limits(const CursorLimits& limits) {
        const std::lock_guard lock(mutex_);
        limits_ = limits;
        trim();
    }
    std::size_t size() {
        const std::lock_guard lock(mutex_);
        trim();
        return lru_.size();
    }

private:
    struct Entry {
        std::uint64_t id;
        std::shared_ptr<const Cursor> cursor;
        std::chrono::steady_clock::time_point used;
    };
    void erase(std::list<Entry>::iterator it) {
        held_rows_ -= it->cursor->size();
        index_.erase(it->id);
        lru_.erase(it);
    }
    void trim() {
        const auto now = std::chrono::steady_clock::now();
        while (!lru_.empty() && (lru_.size() > limits_.max_cursors || held_rows_ > limits_.max_held_rows ||
                                 now - lru_.front().used > limits_.idle_lifetime))
            erase(lru_.begin());
    }

    std::mutex mutex_;
    CursorLimits limits_;
    std::list<Entry> lru_;
    std::unordered_map<std::uint64_t, std::list<Entry>::iterator> index_;
    std::size_t held_rows_ = 0;
    std::mt19937_64 random_{std::random_device{}()};
};

Registry& registry() {
    static Registry r;
    return r;
}

QueryError invalid_token() {
    return QueryError("invalid continuation token (garbled, truncated or not made by twinsim); run the query again");
}

}  // namespace

CursorLimits cursor_limits() { return registry().limits(); }
void set_cursor_limits(const CursorLimits& limits) { registry().set_limits(limits); }
std::size_t held_cursors() { return registry().size(); }

std::string Cursor::page_token(std::size_t offset) const {
    Token t;
    t.cursor = registry().id_of(shared_from_this());  // (open() makes every Cursor into a shared_ptr)
    t.offset = offset;
    t.version = snapshot().version();
    t.text = text();
    return encode(t);
}

QueryResult continue_query(const graph::Snapshot& snapshot, std::string_view continuation_token, const QueryOptions& options) {
    const std::optional<Token> t = decode(continuation_token);
    if (!t) throw invalid_token();
    std::shared_ptr<const Cursor> cursor = registry().find(t->cursor);
    if (cursor && (cursor->text() != t->text || cursor->snapshot().version() != t->version)) throw invalid_token();
    std::uint64_t id = t->cursor;
    std::size_t examined = 0;
    if (!cursor) {
        if (t->version != snapshot.version())
            throw QueryError("the continuation token expired (its cursor was dropped: cursors are kept " +
                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(cursor_limits().idle_lifetime).count()) +
                             " s unused, " + std::to_string(cursor_limits().max_cursors) +
                             " at most) and the graph has changed since its first page (version " +
                             std::to_string(t->version) + ", this snapshot is version " +
                             std::to_string(snapshot.version()) + "): run the query again");
        cursor = Cursor::open(snapshot, PreparedQuery(t->text), options);
        examined = cursor->rows_examined();
        id = registry().add(cursor);
    }
    const std::size_t offset = static_cast<std::size_t>(std::min<std::uint64_t>(t->offset, cursor->size()));
    QueryResult out = cursor->page(offset, options.page_size);
    out.stats.rows_examined = examined;
    const std::size_t next = offset + out.rows.size();
    if (next < cursor->size()) {
        Token n = *t;
        n.cursor = id;
        n.offset = next;
        out.continuation_token = encode(n);
    } else {
        registry().drop(id);
    }
    return out;
}

}  // namespace twinsim::query
