#pragma once
// A copy-on-write hash index from a key (a twin's $dtId, or a source twin and
// a relationship id) to a dense uint32 index (internal).
//
// The keys themselves are not stored: they live in the graph's id columns, so
// a lookup passes an `equal(index)` predicate. The index is split by hash into
// a fixed number of shards, each a small open-addressing table (linear probing,
// backward-shift deletion) of 64-bit slots holding (32 hash bits, index + 1).
// The shard directory and each shard are shared copy-on-write (see
// cow_vector.hpp for the thread-safety argument): a snapshot copies one
// pointer, and an insert after a snapshot copies the directory and one shard.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "twinsim/graph/detail/cow_vector.hpp"

namespace twinsim::graph::detail {

/// A well-mixed 64-bit hash (splitmix64 finaliser).
[[nodiscard]] inline std::uint64_t mix_hash(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/// Asks for the cache line holding `p` (a hint: nothing is read, no fault).
/// Written as an instruction because GCC 12 at -O3 dropped __builtin_prefetch
/// of an address computed from loads (the slot of ShardedIndex::prefetch_slot).
inline void prefetch_line(const void* p) noexcept {
#if defined(__x86_64__) || defined(__i386__)
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
    __builtin_prefetch(p);
#endif
}

class ShardedIndex {
public:
    static constexpr unsigned shard_bits = 12;
    static constexpr std::size_t shard_count = std::size_t{1} << shard_bits;

    ShardedIndex() : dir_(std::make_shared<Directory>(shard_count)) {}

    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    /// The index whose key has `hash` and satisfies `equal(index)`, or nullopt.
    template <class Equal>
    [[nodiscard]] std::optional<std::uint32_t> find(std::uint64_t hash, Equal&& equal) const {
        return probe(hash, equal);
    }

    /// Cache hints for a lookup of `hash` coming soon (bulk import issues
    /// them for a group of lines before applying the group, so the misses
    /// overlap). They change nothing and may be stale by the time of the
    /// lookup: a hint, never a result.
    /// The shard's header (its slots' address and size).
    void prefetch_shard(std::uint64_t hash) const noexcept {
        if (const Shard* s = (*dir_)[shard_of(hash)].get()) prefetch_line(s);
    }
    /// The slot the probe for `hash` starts at (reads the shard's header:
    /// call prefetch_shard some time before).
    void prefetch_slot(std::uint64_t hash) const noexcept {
        const Shard* s = (*dir_)[shard_of(hash)].get();
        if (!s || s->slots.empty()) return;
        prefetch_line(s->slots.data() + (low(hash) & (s->slots.size() - 1)));
    }
    /// The index in the first slot of the probe for `hash` whose hash bits
    /// match (a candidate, not yet compared with the key), or nullopt: lets
    /// a caller prefetch the key it will compare. Reads the slot: call
    /// prefetch_slot some time before.
    [[nodiscard]] std::optional<std::uint32_t> candidate(std::uint64_t hash) const noexcept {
        return probe(hash, [](std::uint32_t) noexcept { return true; });
    }

    /// Adds (hash -> index). Precondition: no equal key is present.
    void insert(std::uint64_t hash, std::uint32_t index, CopyCounter& counter) {
        Shard& s = own_shard(hash, counter);
        if ((s.count + 1) * 2 > s.slots.size()) grow(s);
        place(s, (std::uint64_t{low(hash)} << 32) | (std::uint64_t{index} + 1));
        ++s.count;
        ++size_;
    }

    /// Removes (hash -> index). Precondition: it is present.
    void erase(std::uint64_t hash, std::uint32_t index, CopyCounter& counter) {
        Shard& s = own_shard(hash, counter);
        const std::uint64_t want = (std::uint64_t{low(hash)} << 32) | (std::uint64_t{index} + 1);
        const std::size_t m = s.slots.size() - 1;
        std::size_t p = low(hash) & m;
        while (s.slots[p] != want) p = (p + 1) & m;
        // Backward-shift deletion: pull later entries of the probe run into the hole.
        std::size_t hole = p;
        for (std::size_t q = (hole + 1) & m;; q = (q + 1) & m) {
            const std::uint64_t slot = s.slots[q];
            if (slot == 0) break;
            const std::size_t home = static_cast<std::size_t>(slot >> 32) & m;
            // Move when `home` is not cyclically within (hole, q].
            const bool stays = hole <= q ? (home > hole && home <= q) : (home > hole || home <= q);
            if (!stays) {
                s.slots[hole] = slot;
                hole = q;
            }
        }
        s.slots[hole] = 0;
        --s.count;
        --size_;
    }

private:
    /// Walks the probe run of `hash` in its shard: the first index whose
    /// stored hash bits match and for which `accept(index)` holds, or nullopt
    /// at the run's end. find() and candidate() differ only in `accept`.
    template <class Accept>
    [[nodiscard]] std::optional<std::uint32_t> probe(std::uint64_t hash, Accept&& accept) const {
        const Shard* s = (*dir_)[shard_of(hash)].get();
        if (!s || s->slots.empty()) return std::nullopt;
        const std::uint64_t tag = std::uint64_t{low(hash)} << 32;
        const std::size_t m = s->slots.size() - 1;
        for (std::size_t p = low(hash) & m;; p = (p + 1) & m) {
            const std::uint64_t slot = s->slots[p];
            if (slot == 0) return std::nullopt;
            if ((slot & 0xFFFFFFFF00000000ULL) == tag) {
                const auto index = static_cast<std::uint32_t>((slot & 0xFFFFFFFFULL) - 1);
                if (accept(index)) return index;
            }
        }
    }

    struct Shard {
        std::vector<std::uint64_t> slots;  // power-of-two size; 0 = empty
        std::size_t count = 0;
    };
    using Directory = std::vector<std::shared_ptr<Shard>>;

    static std::size_t shard_of(std::uint64_t hash) noexcept { return static_cast<std::size_t>(hash >> (64 - shard_bits)); }
    static std::uint32_t low(std::uint64_t hash) noexcept { return static_cast<std::uint32_t>(hash); }

    static void place(Shard& s, std::uint64_t slot) {
        const std::size_t m = s.slots.size() - 1;
        std::size_t p = static_cast<std::size_t>(slot >> 32) & m;
        while (s.slots[p] != 0) p = (p + 1) & m;
        s.slots[p] = slot;
    }

    static void grow(Shard& s) {
        std::vector<std::uint64_t> old = std::move(s.slots);
        s.slots.assign(old.empty() ? 8 : old.size() * 2, 0);
        for (std::uint64_t slot : old)
            if (slot != 0) place(s, slot);
    }

    Shard& own_shard(std::uint64_t hash, CopyCounter& counter) {
        if (!exclusively_owned(dir_)) {
            dir_ = std::make_shared<Directory>(*dir_);
            counter.bytes += dir_->size() * sizeof(std::shared_ptr<Shard>);
            ++counter.directories;
        }
        std::shared_ptr<Shard>& s = (*dir_)[shard_of(hash)];
        if (!s) {
            s = std::make_shared<Shard>();
        } else if (!exclusively_owned(s)) {
            s = std::make_shared<Shard>(*s);
            counter.bytes += sizeof(Shard) + s->slots.size() * sizeof(std::uint64_t);
            ++counter.chunks;
        }
        return *s;
    }

    std::shared_ptr<Directory> dir_;
    std::size_t size_ = 0;
};

}  // namespace twinsim::graph::detail
