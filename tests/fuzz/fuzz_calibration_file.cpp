// Fuzz target: the calibration file reader (sim/scenario/calibration_file.hpp),
// what a scenario's `calibration:` key loads: apply_calibration_text merges
// the file into a scenario's bindings (thermal_zones and relaxation), then
// the merged spec is written back and checked as a scenario is.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "twinsim/common/error.hpp"
#include "twinsim/scenario/calibration_file.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    twinsim::scenario::ScenarioSpec spec;
    spec.name = "fuzz";
    spec.base = "building.ndjson";
    spec.horizon = 3600.0;
    spec.models.push_back({"thermal_zones", "", {{"ua_per_area", 1.5}, {"zone_parameters", {{"room-01", {{"ua_per_area", 2.0}}}}}}});
    spec.models.push_back({"relaxation", "", nlohmann::json::object()});
    try {
        twinsim::scenario::apply_calibration_text(spec.models, text, "<fuzz.json>");
        twinsim::scenario::validate(spec);
    } catch (const twinsim::Error&) {
    }
    return 0;
}
