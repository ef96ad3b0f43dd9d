#pragma once
// Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw,
// "Parallel random numbers: as easy as 1, 2, 3" (SC'11), written here from the
// published algorithm: ten rounds of two 32x32->64 multiplications, with the
// key bumped by the Weyl constants before every round after the first.
// Output is a pure function of (counter, key): no hidden state, so a stream's
// n-th value does not depend on what else ran before it.

#include <array>
#include <cstdint>

namespace twinsim::kernel {

using PhiloxCounter = std::array<std::uint32_t, 4>;
using PhiloxKey = std::array<std::uint32_t, 2>;

/// N Philox4x32-10 blocks under one key, in place, with the N chains
/// interleaved round by round so their multiplications overlap.
template <unsigned N>
constexpr void philox4x32_10_batch(PhiloxCounter (&ctr)[N], PhiloxKey key) noexcept {
    constexpr std::uint32_t m0 = 0xD2511F53u;
    constexpr std::uint32_t m1 = 0xCD9E8D57u;
    constexpr std::uint32_t w0 = 0x9E3779B9u;
    constexpr std::uint32_t w1 = 0xBB67AE85u;
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            key[0] += w0;
            key[1] += w1;
        }
        for (unsigned b = 0; b < N; ++b) {
            const std::uint64_t p0 = std::uint64_t{m0} * ctr[b][0];
            const std::uint64_t p1 = std::uint64_t{m1} * ctr[b][2];
            ctr[b] = PhiloxCounter{static_cast<std::uint32_t>(p1 >> 32) ^ ctr[b][1] ^ key[0],
                                   static_cast<std::uint32_t>(p1),
                                   static_cast<std::uint32_t>(p0 >> 32) ^ ctr[b][3] ^ key[1],
                                   static_cast<std::uint32_t>(p0)};
        }
    }
}

/// One Philox4x32-10 block: 128 random bits for a 128-bit counter and a 64-bit key
/// (the batch of one).
[[nodiscard]] constexpr PhiloxCounter philox4x32_10(PhiloxCounter ctr, PhiloxKey key) noexcept {
    PhiloxCounter one[1] = {ctr};
    philox4x32_10_batch<1>(one, key);
    return one[0];
}

}  // namespace twinsim::kernel
