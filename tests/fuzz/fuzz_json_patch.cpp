// Fuzz target: JSON Patch on twins. The input's first line names the twin of
// the sample graph (fuzz_support.hpp) to patch; the rest is the patch text.
// Text that is not JSON is skipped (parsing JSON is not what is fuzzed here);
// everything that parses is applied to a fresh copy-on-write clone.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "twinsim/common/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t newline = input.find('\n');
    const std::string twin(newline == std::string_view::npos ? std::string_view("room-1") : input.substr(0, newline));
    const std::string_view text = newline == std::string_view::npos ? input : input.substr(newline + 1);
    const nlohmann::json patch = nlohmann::json::parse(text, nullptr, false);
    if (patch.is_discarded()) return 0;
    const auto graph = twinsim::graph::TwinGraph::from_snapshot(twinsim::fuzz::sample_snapshot());
    try {
        graph->update_twin(twin, patch);
        (void)graph->get_twin(twin);
    } catch (const twinsim::Error&) {
    }
    return 0;
}
