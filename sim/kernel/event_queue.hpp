#pragma once
// The future-event list: a 4-ary min-heap of small keys (time, order, slot)
// beside a slot table holding each pending event's handler id and payload.
//
// Order: time, then priority (lower first), then scheduling order. The last
// two are packed into one 64-bit `order` word so a comparison is two loads.
//
// Cancellation is lazy: cancel() bumps the slot's generation and frees it at
// once; the heap entry stays until it surfaces and is dropped because its
// generation no longer matches. When stale entries outnumber live ones the
// heap is rebuilt, so memory stays bounded by twice the pending events.
//
// Nothing is allocated per event once the vectors have grown to the peak
// number of pending events.

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "twinsim/kernel/errors.hpp"

namespace twinsim::kernel {

/// The fixed-size payload an event carries: any trivially copyable type of at
/// most 16 bytes (an entity index, a pair of ids, a coroutine address...).
struct Payload {
    static constexpr std::size_t capacity = 16;
    alignas(8) std::array<unsigned char, capacity> bytes{};

    template <class T>
    [[nodiscard]] static Payload of(const T& value) noexcept {
        static_assert(std::is_trivially_copyable_v<T>, "an event payload must be trivially copyable");
        static_assert(sizeof(T) <= capacity, "an event payload must fit in 16 bytes");
        Payload p;
        std::memcpy(p.bytes.data(), &value, sizeof(T));
        return p;
    }
    template <class T>
    [[nodiscard]] T as() const noexcept {
        static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= capacity);
        T value;
        std::memcpy(&value, bytes.data(), sizeof(T));
        return value;
    }
};

/// Identifies one scheduled event. Stays valid (and `pending` answers false)
/// after the event ran or was cancelled: the generation tells them apart.
struct EventHandle {
    std::uint32_t slot = std::numeric_limits<std::uint32_t>::max();
    std::uint32_t generation = 0;
    [[nodiscard]] bool valid() const noexcept { return slot != std::numeric_limits<std::uint32_t>::max(); }
    friend bool operator==(const EventHandle&, const EventHandle&) = default;
};

/// Lowest and highest event priority; lower runs first among simultaneous events.
inline constexpr int min_priority = -32768;
inline constexpr int max_priority = 32767;

/// An event as it leaves the queue.
struct PoppedEvent {
    double time = 0.0;
    std::uint32_t handler = 0;
    EventHandle handle;
    Payload payload;
};

class EventQueue {
public:
    /// Number of events pending (cancelled ones excluded).
    [[nodiscard]] std::size_t size() const noexcept { return live_; }
    [[nodiscard]] bool empty() const noexcept { return live_ == 0; }

    /// Adds an event. Preconditions (checked by Simulator, not here): `time`
    /// finite, `priority` in [min_priority, max_priority].
    /// Throws KernelError when 2^48 events have been scheduled on this queue.
    EventHandle push(double time, int priority, std::uint32_t handler, const Payload& payload) {
        const std::uint32_t slot = allocate_slot();
        Slot& s = slots_[slot];
        s.handler = handler;
        s.payload = payload;
        s.time = time;
        s.priority = static_cast<std::int16_t>(priority);
        const Key key{time_key(time), make_order(priority), slot, s.generation};
        if (top_taken_) {
            // The caller is dispatching heap_[0]: replace it instead of pop + push.
            top_taken_ = false;
            sift_down(0, key);  // key passed in registers: no store-then-reload of heap_[0]
        } else {
            heap_.emplace_back();
            sift_up(heap_.size() - 1, key);
        }
        ++live_;
        return EventHandle{slot, s.generation};
    }

    /// True while the event is scheduled and has neither run nor been cancelled.
    [[nodiscard]] bool pending(EventHandle h) const noexcept {
        return h.slot < slots_.size() && slots_[h.slot].generation == h.generation && slots_[h.slot].in_use;
    }

    /// Time of a pending event. Precondition: pending(h).
    [[nodiscard]] double time_of(EventHandle h) const noexcept { return slots_[h.slot].time; }

    /// Moves a pending event to `time`, keeping handler, payload and priority;
    /// it is ordered as if newly scheduled. Precondition: pending(h), time finite.
    EventHandle reschedule(EventHandle h, double time) {
        const Slot s = slots_[h.slot];
        cancel(h);
        return push(time, s.priority, s.handler, s.payload);
    }

    /// Cancels a pending event; returns false (and does nothing) when it is not pending.
    bool cancel(EventHandle h) noexcept {
        if (!pending(h)) return false;
        release_slot(h.slot);
        --live_;
        ++stale_;
        return true;
    }

    /// Time of the earliest pending event. Precondition: !empty(), no event taken.
    [[nodiscard]] double next_time() noexcept {
        drop_stale_top();
        return std::bit_cast<double>(heap_[0].time);
    }

    /// Takes the earliest pending event out. Its heap position stays reserved
    /// until finish_take(): a push() in between reuses it (one sift instead of
    /// two). Precondition: !empty().
    PoppedEvent take() noexcept {
        drop_stale_top();
        const Key k = heap_[0];
        Slot& s = slots_[k.slot];
        PoppedEvent out{std::bit_cast<double>(k.time), s.handler, EventHandle{k.slot, k.generation}, s.payload};
        release_slot(k.slot);
        --live_;
        top_taken_ = true;
        return out;
    }

    /// Completes take(): removes the taken top unless a push() already replaced it.
    void finish_take() noexcept {
        if (top_taken_) {
            top_taken_ = false;
            remove_top();
        }
        if (stale_ > 64 && stale_ > live_) rebuild();
    }

    /// Removes every event.
    void clear() noexcept {
        for (const Key& k : heap_)
            if (slots_[k.slot].in_use && slots_[k.slot].generation == k.generation) release_slot(k.slot);
        heap_.clear();
        live_ = 0;
        stale_ = 0;
        top_taken_ = false;
    }

    /// Reserves room for `n` pending events (no allocation until they are exceeded).
    void reserve(std::size_t n) {
        heap_.reserve(n);
        slots_.reserve(n);
        free_.reserve(n);
    }

private:
    // `time` holds the bits of a non-negative double (see time_key), so
    // (time, order) compares as one unsigned 128-bit integer: no branches.
    struct Key {
        std::uint64_t time;
        std::uint64_t order;  // (priority + 32768) << 48 | sequence
        std::uint32_t slot;
        std::uint32_t generation;
    };
    struct Slot {
        double time = 0.0;
        std::uint32_t handler = 0;
        std::uint32_t generation = 0;
        std::int16_t priority = 0;
        bool in_use = false;
        Payload payload;
    };
    static constexpr std::uint64_t sequence_limit = std::uint64_t{1} << 48;

    __extension__ typedef unsigned __int128 Wide;  // __extension__ keeps -Wpedantic quiet
    [[nodiscard]] static bool before(const Key& a, const Key& b) noexcept {
        return ((static_cast<Wide>(a.time) << 64) | a.order) < ((static_cast<Wide>(b.time) << 64) | b.order);
    }
    // Event times are >= 0 (the clock starts at 0 and never runs backwards);
    // adding +0.0 turns -0.0 into +0.0. The bit patterns of non-negative
    // doubles order like the doubles.
    [[nodiscard]] static std::uint64_t time_key(double time) noexcept { return std::bit_cast<std::uint64_t>(time + 0.0); }
    // Index of the earlier of heap_[a] and heap_[b], without a branch.
    [[nodiscard]] std::size_t earlier(std::size_t a, std::size_t b) const noexcept {
        const std::size_t take_b = 0 - static_cast<std::size_t>(before(heap_[b], heap_[a]));
        return a ^ ((a ^ b) & take_b);
    }

    std::uint64_t make_order(int priority) {
        if (sequence_ >= sequence_limit) throw KernelError("event queue: 2^48 events scheduled; sequence exhausted");
        const auto biased = static_cast<std::uint64_t>(static_cast<std::int64_t>(priority) - min_priority);
        return (biased << 48) | sequence_++;
    }

    std::uint32_t allocate_slot() {
        std::uint32_t slot;
        if (!free_.empty()) {
            slot = free_.back();
            free_.pop_back();
        } else {
            if (slots_.size() >= std::numeric_limits<std::uint32_t>::max() - 1)
                throw KernelError("event queue: too many pending events");
            slot = static_cast<std::uint32_t>(slots_.size());
            slots_.emplace_back();
            // release_slot() is noexcept: free_ must never need to grow there.
            if (free_.capacity() < slots_.capacity()) free_.reserve(slots_.capacity());
        }
        slots_[slot].in_use = true;
        return slot;
    }

    void release_slot(std::uint32_t slot) noexcept {
        Slot& s = slots_[slot];
        s.in_use = false;
        ++s.generation;
        free_.push_back(slot);  // capacity reserved: free_ never exceeds slots_
    }

    [[nodiscard]] bool stale(const Key& k) const noexcept {
        const Slot& s = slots_[k.slot];
        return !s.in_use || s.generation != k.generation;
    }

    void drop_stale_top() noexcept {
        if (top_taken_) {
            top_taken_ = false;
            remove_top();
        }
        while (stale(heap_[0])) {
            remove_top();
            --stale_;
        }
    }

    void remove_top() noexcept {
        const Key last = heap_.back();
        heap_.pop_back();
        if (!heap_.empty()) sift_down(0, last);
    }

    void rebuild() noexcept {
        std::size_t out = 0;
        for (std::size_t i = 0; i < heap_.size(); ++i)
            if (!stale(heap_[i])) heap_[out++] = heap_[i];
        heap_.resize(out);
        stale_ = 0;
        if (heap_.size() > 1)
            for (std::size_t i = (heap_.size() - 2) / 4 + 1; i-- > 0;) sift_down(i, heap_[i]);
    }

    // Places k, bound for the hole at i, moving parents down.
    void sift_up(std::size_t i, const Key k) noexcept {
        while (i > 0) {
            const std::size_t parent = (i - 1) / 4;
            if (!before(k, heap_[parent])) break;
            heap_[i] = heap_[parent];
            i = parent;
        }
        heap_[i] = k;
    }

    // Places k, bound for the hole at i, moving earlier children up.
    void sift_down(std::size_t i, const Key k) noexcept {
        const std::size_t n = heap_.size();
        for (;;) {
            const std::size_t first = 4 * i + 1;
            std::size_t best;
            if (first + 4 <= n) {
                // A full family: a branch-free tournament of the four children.
                best = earlier(earlier(first, first + 1), earlier(first + 2, first + 3));
            } else {
                if (first >= n) break;
                best = first;
                for (std::size_t c = first + 1; c < n; ++c) best = earlier(best, c);
            }
            if (!before(heap_[best], k)) break;
            heap_[i] = heap_[best];
            i = best;
        }
        heap_[i] = k;
    }

    std::vector<Key> heap_;
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;
    std::size_t live_ = 0;
    std::size_t stale_ = 0;
    std::uint64_t sequence_ = 0;
    bool top_taken_ = false;
};

}  // namespace twinsim::kernel
