// Fuzz target: snapshot deserialisation (the bytes a distributed run's
// workers and, later, the durable store's checkpoints read back).
//
// Random bytes almost never pass the magic, the version and the trailing
// checksum, so the input is read as damage done to a valid snapshot: the
// sample graph (fuzz_support.hpp) serialised, then overwritten by the input's
// edits (each 5 bytes: a little-endian u32 offset, taken modulo the size, and
// the byte to put there), cut to a length when the input asks for it, and
// given a correct checksum again so that deserialize() has to find the damage
// in the content itself. The first byte chooses: 0xFF takes the rest of the
// input as the whole snapshot (checksum fixed the same way); another odd
// value cuts the snapshot to the length in the next 4 bytes before the edits
// that follow; an even value applies the edits that follow.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/common/hash.hpp"
#include "twinsim/graph/snapshot_serialization.hpp"

namespace {

constexpr std::size_t checksum_size = 8;

std::uint32_t read_u32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8U) | (std::uint32_t{p[2]} << 16U) | (std::uint32_t{p[3]} << 24U);
}

void fix_checksum(std::string& bytes) {
    if (bytes.size() < checksum_size) return;
    const std::size_t body = bytes.size() - checksum_size;
    std::uint64_t sum = twinsim::fnv1a64(std::string_view(bytes).substr(0, body));
    for (std::size_t i = 0; i < checksum_size; ++i) {
        bytes[body + i] = static_cast<char>(sum & 0xFFU);
        sum >>= 8U;
    }
}

const std::string& sample_bytes() {
    static const std::string bytes = twinsim::graph::serialize(twinsim::fuzz::sample_snapshot());
    return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string bytes;
    if (size > 0 && data[0] == 0xFF) {
        bytes.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
    } else {
        bytes = sample_bytes();
        std::size_t i = 1;
        if (size >= 5 && (data[0] & 1U) != 0) {
            const std::uint32_t length = read_u32(data + 1);
            bytes.resize(length % (bytes.size() + 1));
            i = 5;
        }
        for (; i + 5 <= size && !bytes.empty(); i += 5) {
            const std::uint32_t offset = read_u32(data + i);
            bytes[offset % bytes.size()] = static_cast<char>(data[i + 4]);
        }
    }
    fix_checksum(bytes);
    try {
        const auto snapshot = twinsim::graph::deserialize(bytes);
        // A snapshot that reads back must serialise again without complaint.
        (void)twinsim::graph::serialize(snapshot);
    } catch (const twinsim::Error&) {
    }
    return 0;
}
