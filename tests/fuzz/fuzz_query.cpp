// Fuzz target: the ADT query language, parsed and, when it parses, run on a
// small sample graph (fuzz_support.hpp) so the planner and evaluator see every
// query the parser accepts.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/query/query.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const twinsim::graph::Snapshot& snapshot = twinsim::fuzz::sample_snapshot();
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const twinsim::query::PreparedQuery query(text);
        twinsim::query::QueryOptions options;
        (void)query.run(snapshot, options);
    } catch (const twinsim::Error&) {
    }
    return 0;
}
