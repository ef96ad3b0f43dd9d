// Fuzz target: the TMY3 weather reader (models/building/weather.hpp). The
// input is a whole weather file; a year that reads is turned into the
// continuous dry-bulb and irradiance series thermal_zones uses, which are
// then sampled, so gap bridging and interpolation see the accepted values.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "models/building/weather.hpp"
#include "twinsim/common/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const twinsim::models::Tmy3Weather w = twinsim::models::parse_tmy3(text, "fuzz.csv");
        const twinsim::models::WeatherSeries t(w.dry_bulb, 1.0, "Dry-bulb (C)", w.source, 3);
        const twinsim::models::WeatherSeries g(w.ghi, 0.5, "GHI (W/m^2)", w.source, 3);
        double sum = 0.0;
        for (double h = -30.0; h < 9000.0; h += 97.3) sum += t.at(h) + g.at(h);
        if (sum != sum) __builtin_trap();  // bridged series never give NaN
    } catch (const twinsim::Error&) {
    }
    return 0;
}
