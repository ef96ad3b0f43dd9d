// Fuzz target: the ADT query language, parsed and, when it parses, run on a
// small sample graph (fuzz_support.hpp) so the planner and evaluator see every
// query the parser accepts, one row per page, resumed through its
// continuation tokens. The same bytes are also read as a continuation token
// (continue_query decodes outside input: base64url, lengths, checksum).

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
        options.page_size = 1;
        auto page = query.run(snapshot, options);
        for (int k = 0; k < 4 && !page.continuation_token.empty(); ++k)
            page = twinsim::query::continue_query(snapshot, page.continuation_token, options);
    } catch (const twinsim::Error&) {
    }
    try {
        (void)twinsim::query::continue_query(snapshot, text, {});
    } catch (const twinsim::Error&) {
    }
    return 0;
}
