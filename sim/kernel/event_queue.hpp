#pragma once
// The future-event list: keys (time, order, slot, generation) in three tiers
// beside a slot table holding each pending event's handler id and payload.
//
//   bottom_   the near future, the only ordered tier: a run sorted earliest
//             first, taken from the front (when a bucket of at most
//             sorted_run_max keys became it), else a 4-ary min-heap;
//   buckets_  the middle: unsorted buckets of equal width in time; when the
//             bottom heap runs dry the next non-empty bucket becomes it;
//   top_      the far future: unsorted; when the buckets are used up it is
//             spread into fresh buckets spanning its earliest to latest time.
// A push is an append to a bucket or to top_ (or a heap insertion for the
// near future); each key is moved a bounded number of times, so the cost per
// event does not grow with the number pending the way a heap's does. With at
// most heap_mode_below events pending at a spread the queue is a plain heap
// (heap mode) until the heap outgrows heap_mode_above.
//
// Order: time, then priority (lower first), then scheduling order. The last
// two are packed into one 64-bit `order` word. A key's tier and bucket are a
// monotone function of its time alone, so keys with equal times always meet
// in the same bucket and then in the bottom heap, where (time, order) decides.
//
// Cancellation is lazy: cancel() bumps the slot's generation and frees it at
// once; the key stays until it reaches the heap's top and is dropped because
// its generation no longer matches. When stale keys outnumber live ones every
// tier is swept, so memory stays bounded by twice the pending events.
//
// Nothing is allocated per event once the vectors have grown to the peak
// number of pending events (a bucket's storage beyond bucket_storage_kept keys
// is given back when it is emptied, so bursts do not pin memory in every bucket).

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
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

/// An event as it leaves the queue (its payload is written apart, see take()).
struct TakenEvent {
    double time = 0.0;
    std::uint32_t handler = 0;
};

class EventQueue {
public:
    /// Number of events pending (cancelled ones excluded).
    [[nodiscard]] std::size_t size() const noexcept { return live_; }
    [[nodiscard]] bool empty() const noexcept { return live_ == 0; }

    /// Adds an event. Preconditions (checked by Simulator, not here): `time`
    /// finite and >= the time of the last event taken, `priority` in
    /// [min_priority, max_priority].
    /// Throws KernelError when 2^48 events have been scheduled on this queue.
    EventHandle push(double time, int priority, std::uint32_t handler, const Payload& payload) {
        const std::uint64_t order = make_order(priority);
        const std::uint32_t slot = allocate_slot();
        Slot& s = slots_[slot];
        s.handler = handler;
        s.payload = payload;
        s.time = time;
        s.priority = static_cast<std::int16_t>(priority);
        const Key key{time_key(time), order, slot, s.generation};
        place(key);
        ++live_;
        return EventHandle{slot, s.generation};
    }

    /// Adds an event that can be neither cancelled nor rescheduled (no handle).
    /// A payload of at most 4 bytes travels in the key itself: no slot is
    /// taken, written, read or released for it. Larger payloads take a slot
    /// as push() does. Same preconditions and exceptions as push().
    template <class T>
    [[gnu::always_inline]] void post(double time, int priority, std::uint32_t handler, const T& value) {
        if constexpr (sizeof(T) <= sizeof(std::uint32_t)) {
            std::uint32_t bits = 0;
            std::memcpy(&bits, &value, sizeof(T));
            place(Key{time_key(time), make_order(priority), bits, handler | inline_flag});
            ++live_;
        } else {
            (void)push(time, priority, handler, Payload::of(value));
        }
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
    /// May allocate (when the far tier is spread into more buckets than ever
    /// before) and so throw std::bad_alloc, leaving the queue unchanged.
    [[nodiscard]] double next_time() {
        drop_stale_top();
        return std::bit_cast<double>(bottom_[head_].time);
    }

    /// Takes the earliest pending event out. Its place at the bottom heap's
    /// top stays reserved until finish_take(): a push() in between that lands
    /// in the bottom heap reuses it (one sift instead of two). The payload is
    /// written to `payload` (not returned within the event: assembling it in
    /// a struct beside the time made the compiler copy it with loads wider
    /// than its stores, a store-forwarding stall on every event). Precondition: !empty().
    TakenEvent take(Payload& payload) {
        drop_stale_top();
        return take_prepared(payload);
    }

    /// take() right after next_time(), which already brought the earliest
    /// live key to the top. Precondition: next_time() was the last call on
    /// this queue.
    /// With `look_further`, also prefetches what upcoming() will read after this take.
    TakenEvent take_prepared(Payload& payload, bool look_further = false) noexcept {
        const Key k = bottom_[head_];
        --live_;
        top_taken_ = true;
        if (look_further || slots_.size() >= prefetch_slots_from) prefetch_next_slots(look_further);
        if (k.generation & inline_flag) {
            // A posted event: handler and payload are in the key.
            set_inline_payload(payload, k.slot);
            return TakenEvent{std::bit_cast<double>(k.time), k.generation & ~inline_flag};
        }
        Slot& s = slots_[k.slot];
        payload = s.payload;
        const TakenEvent out{std::bit_cast<double>(k.time), s.handler};
        release_slot(k.slot);
        return out;
    }

    /// Completes take(): removes the taken top unless a push() already replaced it.
    void finish_take() noexcept {
        if (top_taken_) {
            top_taken_ = false;
            remove_top();
        }
        if (stale_ > 64 && stale_ > live_) rebuild();
        if (bottom_.size() > heap_mode_above && far_floor_ == std::numeric_limits<double>::infinity()) {
            // The heap outgrew heap mode: hand every key to the far tier, to
            // be spread into buckets by the next refill.
            top_.swap(bottom_);  // top_ is empty in heap mode
            far_floor_ = -1.0;
        }
    }

    /// The event most likely to run after the earliest one: the second key of
    /// the bottom tier's sorted run, or the earliest of its heap's root's
    /// children. Its handler and payload are stored in `handler` and
    /// `payload`; false when the bottom tier holds one key or none (the next
    /// event then waits in a bucket). A hint for prefetching only: the event
    /// may have been cancelled, and an event scheduled later may run first.
    /// Call between finish_take() and the next take.
    [[nodiscard]] bool upcoming(std::uint32_t& handler, Payload& payload) const noexcept {
        const std::size_t n = bottom_.size();
        std::size_t best;
        if (sorted_) {
            if (head_ + 2 > n) return false;
            best = head_ + 1;
        } else {
            if (n < 2) return false;
            best = 1;
            if (n >= 5) {
                best = earlier(earlier(1, 2), earlier(3, 4));
            } else {
                for (std::size_t c = 2; c < n; ++c) best = earlier(best, c);
            }
        }
        const Key& k = bottom_[best];
        if (k.generation & inline_flag) {
            handler = k.generation & ~inline_flag;
            set_inline_payload(payload, k.slot);
            return true;
        }
        const Slot& s = slots_[k.slot];
        handler = s.handler;
        payload = s.payload;
        return true;
    }

    /// Removes every event.
    void clear() noexcept {
        for_each_key([&](const Key& k) {
            if ((k.generation & inline_flag) == 0 && !stale(k)) release_slot(k.slot);
            return false;
        });
        bottom_.clear();
        head_ = 0;
        sorted_ = false;
        for (std::size_t b = 0; b < buckets_used_; ++b) buckets_[b].clear();
        top_.clear();
        buckets_used_ = 0;
        current_ = 0;
        base_ = 0.0;
        inverse_width_ = 0.0;
        far_floor_ = -1.0;
        live_ = 0;
        stale_ = 0;
        top_taken_ = false;
    }

    /// Reserves room for `n` pending events (no allocation until they are exceeded).
    void reserve(std::size_t n) {
        bottom_.reserve(std::min<std::size_t>(n, 1024));
        top_.reserve(n);
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
    // A key whose generation word has this bit is a posted event: its slot
    // word holds the payload, the rest of the generation word the handler.
    // Slot generations wrap below it.
    static constexpr std::uint32_t inline_flag = std::uint32_t{1} << 31;
    // Buckets per key when the far tier is spread into buckets. One (about a
    // key per bucket) measured ~5 % faster than half (two keys per bucket) at
    // 1,024 PHOLD LPs: the bottom heap a bucket becomes is smaller. Two
    // measured slower at 65,536 LPs (twice the bucket headers, out of cache).
    static constexpr std::size_t buckets_per_key = 1;
    // At most this many buckets per spread: beyond it their headers and the
    // tails being appended to would not stay in a core's cache.
    static constexpr std::size_t max_buckets = 2048;
    // A bucket's storage beyond this many keys is released when it is emptied.
    static constexpr std::size_t bucket_storage_kept = 256;
    // Heap mode (no buckets) when a spread finds at most heap_mode_below keys;
    // back to buckets when the heap holds more than heap_mode_above.
    static constexpr std::size_t heap_mode_below = 128;
    static constexpr std::size_t heap_mode_above = 512;
    // take_prepared() prefetches the next events' slots from this many slots
    // on (40 bytes each: 320 KB, beyond a core's L1 and most of its L2).
    static constexpr std::size_t prefetch_slots_from = 8192;
    // A bucket of at most this many keys becomes the bottom tier as a sorted
    // run (insertion sort, then each take is one step of head_: no sift-down);
    // a larger one as a heap. PHOLD at 1,024 LPs refills from buckets of ~3.5
    // keys, where the heap's sift-downs cost ~90 instructions an event.
    static constexpr std::size_t sorted_run_max = 32;
    // Up to this many keys, the run is sorted by rank (sort_small) instead of
    // by insertion: 8 left ~0.4 insertion mispredictions an event at 1,024
    // LPs (buckets of 9-16 keys are common there), 24 was no faster than 16.
    static constexpr std::size_t rank_sort_max = 16;
    // A sorted run that pushes into the near future grow beyond this many live keys
    // becomes a heap (a sorted run already is one), so insertions stay cheap.
    static constexpr std::size_t sorted_run_limit = 64;

    __extension__ typedef unsigned __int128 Wide;  // __extension__ keeps -Wpedantic quiet
    [[nodiscard]] static bool before(const Key& a, const Key& b) noexcept {
        return ((static_cast<Wide>(a.time) << 64) | a.order) < ((static_cast<Wide>(b.time) << 64) | b.order);
    }
    // Event times are >= 0 (the clock starts at 0 and never runs backwards);
    // adding +0.0 turns -0.0 into +0.0. The bit patterns of non-negative
    // doubles order like the doubles.
    [[nodiscard]] static std::uint64_t time_key(double time) noexcept { return std::bit_cast<std::uint64_t>(time + 0.0); }
    // Index of the earlier of bottom_[a] and bottom_[b], without a branch.
    [[nodiscard]] std::size_t earlier(std::size_t a, std::size_t b) const noexcept {
        const std::size_t take_b = 0 - static_cast<std::size_t>(before(bottom_[b], bottom_[a]));
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
        s.generation = (s.generation + 1) & ~inline_flag;
        free_.push_back(slot);  // capacity reserved: free_ never exceeds slots_
    }

    [[nodiscard]] bool stale(const Key& k) const noexcept {
        if (k.generation & inline_flag) return false;  // a posted event is never cancelled
        const Slot& s = slots_[k.slot];
        return !s.in_use || s.generation != k.generation;
    }

    // The payload of a posted event: its bits, then zeros, written as two
    // 8-byte words (a handler's narrower load of them forwards from the store).
    static void set_inline_payload(Payload& payload, std::uint32_t bits) noexcept {
        const std::uint64_t words[2] = {bits, 0};
        std::memcpy(payload.bytes.data(), words, sizeof words);
    }

    // Starts loading the slots of the events likely to be taken next (the
    // run's next keys, or the root's children and, with look_further, those
    // of the earliest child), skipping posted events, which have none.
    void prefetch_next_slots(bool look_further) const noexcept {
        const std::size_t size = bottom_.size();
        auto hint = [&](std::size_t i) {
            const Key& k = bottom_[i];
            if ((k.generation & inline_flag) == 0) __builtin_prefetch(&slots_[k.slot]);
        };
        if (sorted_) {
            if (head_ + 1 < size) hint(head_ + 1);
            if (look_further && head_ + 2 < size) hint(head_ + 2);
            return;
        }
        const std::size_t n = size < 5 ? size : 5;
        for (std::size_t c = 1; c < n; ++c) hint(c);
        if (look_further && size >= 9) {
            // After this take, the next event's children, which upcoming() looks at.
            const std::size_t m = earlier(earlier(1, 2), earlier(3, 4));
            const std::size_t end = std::min(size, 4 * m + 5);
            for (std::size_t c = 4 * m + 1; c < end; ++c) hint(c);
        }
    }

    // --- the three tiers -----------------------------------------------------
    // A key goes to exactly one tier, chosen by a monotone function of its
    // time alone, so keys with equal times always share a tier (and a bucket)
    // and meet in the bottom heap, where (time, order) decides:
    //   time > far_floor_                   -> top_ (unsorted, the far future)
    //   else bucket index i = clamp(floor((time - base_) * inverse_width_))
    //        i <  current_                  -> bottom_ (4-ary heap, the near future)
    //        i >= current_                  -> buckets_[i] (unsorted)
    // Every key in bottom_ precedes every key in buckets_[current_..], which
    // precede every key in top_. The bucket index is monotone in time (a
    // subtraction and a multiplication by a non-negative constant are
    // monotone in IEEE arithmetic, and so are floor and the clamps).
    // Inlined into post(): a call and its frame were ~19 instructions of the ~315 a PHOLD event costs.
    [[gnu::always_inline]] void place(const Key& key) {
        const double t = std::bit_cast<double>(key.time);
        if (t > far_floor_) {
            top_.push_back(key);
            return;
        }
        const double d = (t - base_) * inverse_width_;
        if (d >= static_cast<double>(current_) && current_ < buckets_used_) {
            const std::size_t i = d < static_cast<double>(buckets_used_ - 1) ? static_cast<std::size_t>(d) : buckets_used_ - 1;
            buckets_[i].push_back(key);
            return;
        }
        push_bottom(key);
    }

    void push_bottom(const Key& key) {
        if (sorted_) {
            if (top_taken_) {
                top_taken_ = false;
                // The caller is dispatching bottom_[head_]: when key comes
                // before the run's next key it simply takes that place.
                if (head_ + 1 == bottom_.size() || before(key, bottom_[head_ + 1])) {
                    bottom_[head_] = key;
                    return;
                }
                ++head_;
            }
            if (bottom_.size() - head_ < sorted_run_limit) {
                // Keys taken from the front are dropped now and then, so a run
                // that keeps being pushed into does not grow without bound.
                if (head_ >= sorted_run_limit) drop_taken_prefix();
                bottom_.emplace_back();
                std::size_t i = bottom_.size() - 1;
                for (; i > head_ && before(key, bottom_[i - 1]); --i) bottom_[i] = bottom_[i - 1];
                bottom_[i] = key;
                return;
            }
            run_to_heap();
        }
        if (top_taken_) {
            // The caller is dispatching bottom_[0]: replace it instead of pop + push.
            top_taken_ = false;
            sift_down(0, key);  // key passed in registers: no store-then-reload of bottom_[0]
        } else {
            bottom_.emplace_back();
            sift_up(bottom_.size() - 1, key);
        }
    }

    // Makes bottom_[0] the earliest live key. Precondition: live_ > 0.
    void drop_stale_top() {
        if (top_taken_) {
            top_taken_ = false;
            remove_top();
        }
        // With no cancelled event waiting anywhere, every key is live: no slot to look at.
        if (head_ != bottom_.size() && stale_ == 0) [[likely]]
            return;
        drop_stale_top_slow();
    }

    // drop_stale_top() when the bottom tier is empty or a key may be stale:
    // out of line, so the common case above stays small enough to inline.
    [[gnu::noinline]] void drop_stale_top_slow() {
        for (;;) {
            if (head_ == bottom_.size()) refill();
            if (stale_ == 0 || !stale(bottom_[head_])) return;
            remove_top();
            --stale_;
        }
    }

    // The sorted run (earliest first) becomes a heap: it already is one once
    // the keys taken from its front are gone.
    void run_to_heap() noexcept {
        drop_taken_prefix();
        sorted_ = false;
    }

    // bottom_ was just filled from a bucket (or the far tier): sorts it into a
    // run when it is short, else makes it a heap.
    void order_bottom() noexcept {
        head_ = 0;
        const std::size_t n = bottom_.size();
        if (n <= rank_sort_max) {
            sort_small(bottom_.data(), n);
            sorted_ = true;
        } else if (n <= sorted_run_max) {
            for (std::size_t i = 1; i < n; ++i) {
                const Key k = bottom_[i];
                std::size_t j = i;
                for (; j > 0 && before(k, bottom_[j - 1]); --j) bottom_[j] = bottom_[j - 1];
                bottom_[j] = k;
            }
            sorted_ = true;
        } else {
            sorted_ = false;
            heapify();
        }
    }

    // bottom_ is empty: moves the next non-empty bucket into it, spreading
    // top_ into fresh buckets first when the buckets are used up.
    void refill() {
        bottom_.clear();  // only keys already taken from a sorted run's front remain
        head_ = 0;
        for (;;) {
            while (current_ < buckets_used_) {
                std::vector<Key>& b = buckets_[current_++];
                if (b.empty()) continue;
                bottom_.swap(b);  // b gets bottom_'s (empty) storage: no copy, no allocation
                // Storage a burst left behind is given back, so the buckets
                // together hold little more than the pending keys.
                if (b.capacity() > bucket_storage_kept) std::vector<Key>().swap(b);
                order_bottom();
                return;
            }
            spread_top();
            if (!bottom_.empty()) return;
        }
    }

    // Spreads top_ over buckets of equal width from its earliest to its latest
    // time. Precondition: the buckets and bottom_ are empty, top_ is not.
    void spread_top() {
        if (top_.size() <= heap_mode_below) {
            // Few events: buckets cost more than they save. Everything goes
            // to the bottom heap until it outgrows heap_mode_above.
            bottom_.swap(top_);
            head_ = 0;
            sorted_ = false;
            heapify();
            far_floor_ = std::numeric_limits<double>::infinity();
            inverse_width_ = 0.0;
            buckets_used_ = 0;
            current_ = 0;
            return;
        }
        std::uint64_t lo = top_[0].time, hi = top_[0].time;
        for (const Key& k : top_) {
            lo = std::min(lo, k.time);
            hi = std::max(hi, k.time);
        }
        const double first = std::bit_cast<double>(lo), last = std::bit_cast<double>(hi);
        std::size_t n = std::clamp<std::size_t>(top_.size() * buckets_per_key, 1, max_buckets);
        double inverse = static_cast<double>(n) / (last - first);
        if (!(last > first) || !std::isfinite(inverse)) {
            n = 1;
            inverse = 0.0;
        }
        // Bucket vectors keep their storage from one spread to the next (so a
        // steady state allocates nothing); growing their number is the only
        // allocation, and it is bounded by the peak number of pending events.
        // If an allocation fails, the buckets are emptied again and top_ is
        // untouched: the queue is as it was.
        if (buckets_.size() < n) buckets_.resize(n);
        try {
            for (const Key& k : top_) {
                const double d = (std::bit_cast<double>(k.time) - first) * inverse;
                const std::size_t i = d < static_cast<double>(n - 1) ? static_cast<std::size_t>(d) : n - 1;
                buckets_[i].push_back(k);
            }
        } catch (...) {
            for (std::size_t b = 0; b < n; ++b) buckets_[b].clear();
            throw;
        }
        base_ = first;
        inverse_width_ = inverse;
        far_floor_ = last;
        buckets_used_ = n;
        current_ = 0;
        top_.clear();
    }

    // Calls f(key) for every key in every tier (f returns whether to drop it).
    template <class F>
    void for_each_key(F&& f) {
        auto sweep = [&](std::vector<Key>& v) {
            std::size_t out = 0;
            for (std::size_t i = 0; i < v.size(); ++i)
                if (!f(v[i])) v[out++] = v[i];
            v.resize(out);
        };
        if (head_ > 0) drop_taken_prefix();
        sweep(bottom_);  // keeps a sorted run sorted
        for (std::size_t b = current_; b < buckets_used_; ++b) sweep(buckets_[b]);
        sweep(top_);
    }

    // Sorts keys[0, n), n <= rank_sort_max, without a data-dependent branch:
    // each key's place is the number of keys before it (keys are distinct:
    // the sequence differs), counted over every pair, then each key is
    // written to its place. An insertion sort of the ~3-16 keys a PHOLD
    // bucket holds at 1,024 LPs mispredicted about one branch per key; the
    // n(n-1)/2 comparisons cost more instructions but no mispredictions
    // (callgrind, 1,024 LPs: 1.82 M mispredicted branches per M events with
    // insertion, 1.17 M with ranks up to 16 keys).
    template <std::size_t N>
    static void rank_sort(Key* keys) noexcept {
        Key copy[N];
        std::size_t rank[N] = {};
        for (std::size_t i = 0; i < N; ++i) copy[i] = keys[i];
        // Unrolled in full: a loop's exit, whose trip count varies with i, mispredicted.
#pragma GCC unroll 16
        for (std::size_t i = 0; i < N; ++i)
#pragma GCC unroll 16
            for (std::size_t j = i + 1; j < N; ++j) {
                const std::size_t j_first = before(copy[j], copy[i]);
                rank[i] += j_first;
                rank[j] += 1 - j_first;
            }
        for (std::size_t i = 0; i < N; ++i) keys[rank[i]] = copy[i];
    }
    static void sort_small(Key* keys, std::size_t n) noexcept {
        switch (n) {
            case 2: rank_sort<2>(keys); break;
            case 3: rank_sort<3>(keys); break;
            case 4: rank_sort<4>(keys); break;
            case 5: rank_sort<5>(keys); break;
            case 6: rank_sort<6>(keys); break;
            case 7: rank_sort<7>(keys); break;
            case 8: rank_sort<8>(keys); break;
            case 9: rank_sort<9>(keys); break;
            case 10: rank_sort<10>(keys); break;
            case 11: rank_sort<11>(keys); break;
            case 12: rank_sort<12>(keys); break;
            case 13: rank_sort<13>(keys); break;
            case 14: rank_sort<14>(keys); break;
            case 15: rank_sort<15>(keys); break;
            case 16: rank_sort<16>(keys); break;
            default: break;  // 0 or 1 key
        }
    }

    // Drops the keys already taken from a sorted run's front.
    void drop_taken_prefix() noexcept {
        bottom_.erase(bottom_.begin(), bottom_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }

    void remove_top() noexcept {
        if (sorted_) {
            ++head_;
            return;
        }
        const Key last = bottom_.back();
        bottom_.pop_back();
        if (!bottom_.empty()) sift_down(0, last);
    }

    void heapify() noexcept {
        if (bottom_.size() > 1)
            for (std::size_t i = (bottom_.size() - 2) / 4 + 1; i-- > 0;) sift_down(i, bottom_[i]);
    }

    void rebuild() noexcept {
        for_each_key([&](const Key& k) { return stale(k); });
        stale_ = 0;
        if (!sorted_) heapify();
    }

    // Places k, bound for the hole at i, moving parents down.
    void sift_up(std::size_t i, const Key k) noexcept {
        while (i > 0) {
            const std::size_t parent = (i - 1) / 4;
            if (!before(k, bottom_[parent])) break;
            bottom_[i] = bottom_[parent];
            i = parent;
        }
        bottom_[i] = k;
    }

    // Places k, bound for the hole at i, moving earlier children up.
    void sift_down(std::size_t i, const Key k) noexcept {
        const std::size_t n = bottom_.size();
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
            if (!before(bottom_[best], k)) break;
            bottom_[i] = bottom_[best];
            i = best;
        }
        bottom_[i] = k;
    }

    std::vector<Key> bottom_;                 // near future: a sorted run from head_, or a 4-ary min-heap
    std::vector<std::vector<Key>> buckets_;   // middle: buckets_[0, buckets_used_) in use
    std::vector<Key> top_;                    // far future: unsorted
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;
    double base_ = 0.0;           // time at which bucket 0 starts
    double inverse_width_ = 0.0;  // buckets per second
    double far_floor_ = -1.0;     // keys later than this go to top_ (-1: everything, at first)
    std::size_t buckets_used_ = 0;
    std::size_t current_ = 0;     // next bucket to move into bottom_
    std::size_t live_ = 0;
    std::size_t stale_ = 0;
    std::uint64_t sequence_ = 0;
    std::size_t head_ = 0;  // sorted run: bottom_[head_] is the earliest key (0 in a heap)
    bool sorted_ = false;   // bottom_ is a sorted run (else a heap)
    bool top_taken_ = false;
};

}  // namespace twinsim::kernel
