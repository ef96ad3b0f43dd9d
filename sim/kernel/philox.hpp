#pragma once
// Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw,
// "Parallel random numbers: as easy as 1, 2, 3" (SC'11), written here from the
// published algorithm: ten rounds of two 32x32->64 multiplications, with the
// key bumped by the Weyl constants before every round after the first.
// Output is a pure function of (counter, key): no hidden state, so a stream's
// n-th value does not depend on what else ran before it.

#include <array>
#include <cstdint>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define TWINSIM_PHILOX_SSE2 1
#endif

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

/// The 64-bit words of blocks n .. n + B - 1 of the sub-stream `substream`
/// under `key`, in stream order: block n + b (counter {lo(n+b), hi(n+b),
/// lo(s), hi(s)}) gives (out1:out0) then (out3:out2). The portable version:
/// B scalar chains, interleaved round by round.
template <unsigned B>
inline void philox_words_scalar(std::uint64_t n, std::uint64_t substream, PhiloxKey key,
                                std::uint64_t (&out)[2 * B]) noexcept {
    PhiloxCounter ctr[B];
    for (unsigned b = 0; b < B; ++b) {
        const std::uint64_t c = n + b;
        ctr[b] = PhiloxCounter{static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(c >> 32),
                               static_cast<std::uint32_t>(substream), static_cast<std::uint32_t>(substream >> 32)};
    }
    philox4x32_10_batch<B>(ctr, key);
    for (unsigned b = 0; b < B; ++b) {
        out[2 * b] = (std::uint64_t{ctr[b][1]} << 32) | ctr[b][0];
        out[2 * b + 1] = (std::uint64_t{ctr[b][3]} << 32) | ctr[b][2];
    }
}

#if defined(TWINSIM_PHILOX_SSE2)
/// philox_words_scalar with SSE2 (baseline x86-64): the same words, in the
/// same order, B (even) blocks at once. Each 128-bit register holds one
/// counter word of two blocks, in the low halves of its 64-bit lanes, so
/// pmuludq (32x32->64 on those low halves) does a round's multiplication for
/// two blocks at once and the high product is a 64-bit shift away: no
/// shuffles inside the rounds. The high halves of the lanes collect garbage
/// that pmuludq ignores and the final packing masks off.
template <unsigned B>
inline void philox_words_sse2(std::uint64_t n, std::uint64_t substream, PhiloxKey key,
                              std::uint64_t (&out)[2 * B]) noexcept {
    static_assert(B % 2 == 0, "two blocks per register");
    constexpr unsigned P = B / 2;
    const auto lo = [](std::uint64_t v) { return static_cast<long long>(v & 0xffffffffu); };
    const auto hi = [](std::uint64_t v) { return static_cast<long long>(v >> 32); };
    const __m128i m0 = _mm_set1_epi64x(0xD2511F53);
    const __m128i m1 = _mm_set1_epi64x(0xCD9E8D57);
    const __m128i w0 = _mm_set1_epi64x(0x9E3779B9);
    const __m128i w1 = _mm_set1_epi64x(0xBB67AE85);
    __m128i k0 = _mm_set1_epi64x(static_cast<long long>(key[0]));
    __m128i k1 = _mm_set1_epi64x(static_cast<long long>(key[1]));
    // Pair p holds blocks n + 2p (lane 0) and n + 2p + 1 (lane 1).
    __m128i c0[P], c1[P], c2[P], c3[P];
    for (unsigned p = 0; p < P; ++p) {
        c0[p] = _mm_set_epi64x(lo(n + 2 * p + 1), lo(n + 2 * p));
        c1[p] = _mm_set_epi64x(hi(n + 2 * p + 1), hi(n + 2 * p));
        c2[p] = _mm_set1_epi64x(lo(substream));
        c3[p] = _mm_set1_epi64x(hi(substream));
    }
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 = _mm_add_epi32(k0, w0);  // the high halves stay 0 + 0
            k1 = _mm_add_epi32(k1, w1);
        }
        for (unsigned p = 0; p < P; ++p) {
            const __m128i p0 = _mm_mul_epu32(c0[p], m0), p1 = _mm_mul_epu32(c2[p], m1);
            c0[p] = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p1, 32), c1[p]), k0);
            c2[p] = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p0, 32), c3[p]), k1);
            c1[p] = p1;
            c3[p] = p0;
        }
    }
    const __m128i low = _mm_set1_epi64x(0xffffffff);
    auto* dst = reinterpret_cast<__m128i*>(out);
    for (unsigned p = 0; p < P; ++p) {
        const __m128i w01 = _mm_or_si128(_mm_slli_epi64(c1[p], 32), _mm_and_si128(c0[p], low));
        const __m128i w23 = _mm_or_si128(_mm_slli_epi64(c3[p], 32), _mm_and_si128(c2[p], low));
        _mm_storeu_si128(dst + 2 * p, _mm_unpacklo_epi64(w01, w23));      // block n + 2p
        _mm_storeu_si128(dst + 2 * p + 1, _mm_unpackhi_epi64(w01, w23));  // block n + 2p + 1
    }
}
#endif

/// The words of blocks n .. n + B - 1 (see philox_words_scalar): SSE2 where
/// the target has it (and B is even), the scalar chains otherwise.
template <unsigned B>
inline void philox_words(std::uint64_t n, std::uint64_t substream, PhiloxKey key,
                         std::uint64_t (&out)[2 * B]) noexcept {
#if defined(TWINSIM_PHILOX_SSE2)
    if constexpr (B % 2 == 0) {
        philox_words_sse2<B>(n, substream, key, out);
        return;
    }
#endif
    philox_words_scalar<B>(n, substream, key, out);
}

}  // namespace twinsim::kernel
