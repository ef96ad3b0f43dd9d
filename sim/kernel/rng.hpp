#pragma once
// Random streams for runs and the entities inside them.
//
// A run's stream is identified by (seed, scenario, replication) (a scenario
// replication uses scenario = 0, whatever its position in the job: common
// random numbers, sim/scenario/run.hpp; the LHS design uses its own); inside
// it, sub-stream s (a twin index, an LP number, 0 for "the run itself") is an
// independent sequence. Derivation, all with Philox4x32-10:
//   key(run)   = first two words of philox(counter = {scenario_lo, scenario_hi,
//                replication_lo, replication_hi}, key = {seed_lo, seed_hi})
//   block(n)   = philox(counter = {n_lo, n_hi, s_lo, s_hi}, key = key(run))
// Since Philox is a bijection of the counter for a fixed key, distinct
// sub-streams of a run never share a block, and each sub-stream has 2^64
// blocks (2^65 doubles). Nothing depends on thread count or run order: a
// value is a function of (seed, scenario, replication, sub-stream, position).

#include <cstdint>

#include "twinsim/kernel/philox.hpp"

namespace twinsim::kernel {

namespace detail {
__extension__ typedef unsigned __int128 uint128;  // GCC/Clang; __extension__ keeps -Wpedantic quiet
}

/// What identifies a run's randomness.
struct StreamId {
    std::uint64_t seed = 0;
    std::uint64_t scenario = 0;
    std::uint64_t replication = 0;
};

/// The 64-bit Philox key of a run.
[[nodiscard]] constexpr PhiloxKey run_key(const StreamId& id) noexcept {
    const PhiloxCounter c{static_cast<std::uint32_t>(id.scenario), static_cast<std::uint32_t>(id.scenario >> 32),
                          static_cast<std::uint32_t>(id.replication),
                          static_cast<std::uint32_t>(id.replication >> 32)};
    const PhiloxCounter out =
        philox4x32_10(c, PhiloxKey{static_cast<std::uint32_t>(id.seed), static_cast<std::uint32_t>(id.seed >> 32)});
    return PhiloxKey{out[0], out[1]};
}

/// A sequence of random 64-bit words and doubles. Cheap to copy (32 bytes of
/// state plus a 128-byte buffer); copying forks an identical continuation.
class RandomStream {
public:
    /// Sub-stream `substream` of the run `id`.
    RandomStream(const StreamId& id, std::uint64_t substream) noexcept
        : RandomStream(run_key(id), substream) {}
    /// Sub-stream `substream` under an explicit run key.
    RandomStream(PhiloxKey key, std::uint64_t substream) noexcept : key_(key), substream_(substream) {}

    /// The same run's sub-stream `s`, from its beginning.
    [[nodiscard]] RandomStream substream(std::uint64_t s) const noexcept { return RandomStream(key_, s); }

    /// The next 64 random bits.
    [[nodiscard]] std::uint64_t next_u64() noexcept {
        if (next_ == buffer_words) [[unlikely]] refill();
        return buffer_[next_++];
    }

    /// Uniform on [0, 1) with 53 random bits.
    [[nodiscard]] double uniform01() noexcept {
        return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
    }
    /// Uniform on the open interval (0, 1): safe for log().
    [[nodiscard]] double uniform_open() noexcept {
        return (static_cast<double>(next_u64() >> 12) + 0.5) * 0x1.0p-52;
    }
    /// Uniform integer in [0, n). Precondition: n > 0. Lemire's multiply-shift
    /// with rejection, so there is no modulo bias.
    [[nodiscard]] std::uint64_t below(std::uint64_t n) noexcept {
        for (;;) {
            const detail::uint128 m = static_cast<detail::uint128>(next_u64()) * n;
            const auto low = static_cast<std::uint64_t>(m);
            if (low >= n || low >= (0 - n) % n) return static_cast<std::uint64_t>(m >> 64);
        }
    }

    /// Blocks consumed so far (the position in the sub-stream).
    [[nodiscard]] std::uint64_t blocks_used() const noexcept { return block_ - (buffer_words - next_) / 2; }

private:
    // Blocks computed together. Eight: one AVX-512 chain (a block per 64-bit
    // lane), two AVX2 chains or four SSE2 ones (philox_words picks), so the
    // ten rounds' latency and the call are paid once per sixteen words. Four
    // blocks (a 96-byte stream) measured ~5 % slower on PHOLD at 1,024 LPs
    // with AVX2; sixteen (288 bytes) no faster than eight.
    static constexpr unsigned batch_blocks = 8;
    static constexpr unsigned buffer_words = 2 * batch_blocks;

    // Computes the next batch_blocks blocks at once; the words come out in
    // exactly the order one-block-at-a-time generation gives them (block n:
    // (out1:out0), then (out3:out2); then block n + 1), so batching changes
    // no value of the stream. Out of line: it runs once per 16 words.
    [[gnu::noinline]] void refill() noexcept {
        philox_words<batch_blocks>(block_, substream_, key_, buffer_);
        block_ += batch_blocks;
        next_ = 0;
    }

    PhiloxKey key_;
    unsigned next_ = buffer_words;  // index of the next word in buffer_
    std::uint64_t substream_;
    std::uint64_t block_ = 0;  // blocks generated
    std::uint64_t buffer_[buffer_words] = {};
};

/// The same words as RandomStream (block n of sub-stream s is
/// philox(counter = {n, s}, key = run key), its (out1:out0) then (out3:out2)),
/// from 32 bytes of state: the key, the sub-stream, the position and the
/// second word of the current block. Each block is computed when its first
/// word is asked for (one scalar Philox4x32-10 block per two words), instead
/// of eight blocks at a time into a 128-byte buffer.
///
/// For many entities touched in no particular order (tens of thousands of
/// LPs or twins, each with its own stream): two streams share a cache line,
/// where a RandomStream spans three, so a draw from a cold stream costs one
/// cache miss instead of two or three. For a few streams drawn from often, the
/// buffered RandomStream is faster (the eight-block refill runs in SIMD).
/// Both give the same values; a copy forks an identical continuation.
class alignas(32) CompactStream {
public:
    /// Sub-stream `substream` of the run `id`.
    CompactStream(const StreamId& id, std::uint64_t substream) noexcept : CompactStream(run_key(id), substream) {}
    /// Sub-stream `substream` under an explicit run key.
    CompactStream(PhiloxKey key, std::uint64_t substream) noexcept : key_(key), substream_(substream) {}

    /// The same run's sub-stream `s`, from its beginning.
    [[nodiscard]] CompactStream substream(std::uint64_t s) const noexcept { return CompactStream(key_, s); }

    /// The next 64 random bits.
    [[nodiscard]] std::uint64_t next_u64() noexcept {
        if (position_ & 1) {
            ++position_;
            return spare_;
        }
        const std::uint64_t n = position_ >> 1;
        const PhiloxCounter out =
            philox4x32_10(PhiloxCounter{static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(n >> 32),
                                        static_cast<std::uint32_t>(substream_),
                                        static_cast<std::uint32_t>(substream_ >> 32)},
                          key_);
        spare_ = (std::uint64_t{out[3]} << 32) | out[2];
        ++position_;
        return (std::uint64_t{out[1]} << 32) | out[0];
    }

    /// Uniform on [0, 1) with 53 random bits (as RandomStream::uniform01).
    [[nodiscard]] double uniform01() noexcept { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
    /// Uniform on the open interval (0, 1) (as RandomStream::uniform_open).
    [[nodiscard]] double uniform_open() noexcept {
        return (static_cast<double>(next_u64() >> 12) + 0.5) * 0x1.0p-52;
    }
    /// Uniform integer in [0, n), n > 0 (as RandomStream::below).
    [[nodiscard]] std::uint64_t below(std::uint64_t n) noexcept {
        for (;;) {
            const detail::uint128 m = static_cast<detail::uint128>(next_u64()) * n;
            const auto low = static_cast<std::uint64_t>(m);
            if (low >= n || low >= (0 - n) % n) return static_cast<std::uint64_t>(m >> 64);
        }
    }

    /// Blocks consumed so far (a block whose first word was drawn counts).
    [[nodiscard]] std::uint64_t blocks_used() const noexcept { return (position_ + 1) >> 1; }

private:
    PhiloxKey key_;
    std::uint64_t substream_;
    std::uint64_t position_ = 0;  // words drawn
    std::uint64_t spare_ = 0;     // the second word of block (position_ - 1) / 2, when position_ is odd
};
static_assert(sizeof(CompactStream) == 32, "two compact streams per cache line");

}  // namespace twinsim::kernel
