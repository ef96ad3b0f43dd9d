// Fuzz target: JSON Patch on twins. The input's first line names the twin of
// the sample graph (fuzz_support.hpp) to patch; the rest is the patch text.
// Text that is not JSON is skipped (parsing JSON is not what is fuzzed here);
// everything that parses is applied to two fresh copy-on-write clones, one
// with update_twin's fast path (sim/graph/fast_patch.cpp) and one with the
// general path only: both must give the same outcome and the same twin.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "twinsim/common/error.hpp"

namespace {

std::string apply(twinsim::graph::TwinGraph& graph, const std::string& twin, const nlohmann::json& patch) {
    std::string outcome = "ok";
    try {
        graph.update_twin(twin, patch);
    } catch (const twinsim::Error& e) {
        outcome = e.what();
    }
    try {
        outcome += graph.get_twin(twin).dump();
    } catch (const twinsim::Error& e) {
        outcome += e.what();
    }
    return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t newline = input.find('\n');
    const std::string twin(newline == std::string_view::npos ? std::string_view("room-1") : input.substr(0, newline));
    const std::string_view text = newline == std::string_view::npos ? input : input.substr(newline + 1);
    const nlohmann::json patch = nlohmann::json::parse(text, nullptr, false);
    if (patch.is_discarded()) return 0;
    const twinsim::graph::Snapshot& sample = twinsim::fuzz::sample_snapshot();
    twinsim::graph::TwinGraphOptions options;
    options.clock = [] { return twinsim::Timestamp{1'782'864'000'000'000'000LL}; };
    const auto fast = twinsim::graph::TwinGraph::from_snapshot(sample, options);
    options.patch_fast_path = false;
    const auto general = twinsim::graph::TwinGraph::from_snapshot(sample, options);
    if (apply(*fast, twin, patch) != apply(*general, twin, patch)) std::abort();  // the two paths disagree
    return 0;
}
