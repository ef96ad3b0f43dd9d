// Fuzz target: the scenario loader. The first byte chooses the reader (even:
// YAML, odd: JSON); the rest is the scenario file's text. Only the reader and
// its validation run (no base graph is loaded, no run starts).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "twinsim/common/error.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        const twinsim::scenario::ScenarioSpec spec = (data[0] % 2 == 0)
                                                         ? twinsim::scenario::scenario_from_yaml(text, "<fuzz.yaml>")
                                                         : twinsim::scenario::scenario_from_json_text(text, "<fuzz.json>");
        (void)twinsim::scenario::to_json(spec).dump();
    } catch (const twinsim::Error&) {
    }
    return 0;
}
