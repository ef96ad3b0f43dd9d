// Fuzz target: the production demand-file reader (models/production/demand.hpp).
// The input is a whole CSV file; every accepted row must hold a quantity in
// range and finite, non-negative offsets.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "models/production/demand.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        for (const twinsim::models::production::DemandRow& row : twinsim::models::production::parse_demand(text, "fuzz.csv")) {
            if (row.quantity < 1 || row.quantity > 1000000) __builtin_trap();
            if (!row.release.instant && !(std::isfinite(row.release.offset) && row.release.offset >= 0.0)) __builtin_trap();
            if (row.source.empty() || row.product.empty()) __builtin_trap();
        }
    } catch (const twinsim::models::production::DemandError&) {
    }
    return 0;
}
