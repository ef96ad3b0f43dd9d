// Fuzz target: the readers of prognostics input from elsewhere
// (models/equipment/histories.hpp, prognostics.hpp). The first byte picks
// the reader: C-MAPSS text, history CSV, the RUL truth format, or a
// prognostics parameters file (JSON, refused above the depth limit before it
// is parsed, as load() does); the rest is the input. Histories that read
// are predicted by a fixed small model, so the predict path sees them too.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unistd.h>

#include "models/equipment/histories.hpp"
#include "models/equipment/prognostics.hpp"
#include "twinsim/common/error.hpp"
#include "twinsim/common/json_depth.hpp"

namespace {

using namespace twinsim::models;

/// A small model fitted once on a synthetic fleet: 6 units, one sensor rising with age.
const PrognosticsModel& reference_model() {
    static const PrognosticsModel model = [] {
        HistorySet set;
        set.setting_names = {"setting1"};
        set.sensor_names = {"s1", "s2"};
        for (int u = 0; u < 6; ++u) {
            UnitHistory h;
            h.id = std::to_string(u);
            const int life = 40 + 7 * u;
            for (int k = 1; k <= life; ++k) {
                h.cycles.push_back(k);
                h.settings.push_back(0.0);
                h.sensors.push_back(1.0 + 0.01 * k * k / life + 0.05 * ((k * 7919 + u) % 13));
                h.sensors.push_back(3.0);
            }
            set.units.push_back(std::move(h));
        }
        return PrognosticsModel::fit(set);
    }();
    return model;
}

void predict_all(const HistorySet& set) {
    try {
        for (const RulDistribution& d : reference_model().predict(set)) (void)d.mean();
    } catch (const twinsim::Error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    try {
        switch (data[0] % 4) {
            case 0:
                predict_all(parse_cmapss(text, "fuzz.txt", data[0] & 4));
                break;
            case 1:
                predict_all(parse_history_csv(text, "fuzz.csv", data[0] & 4));
                break;
            case 2: {
                const std::string path = "/tmp/twinsim-fuzz-rul-" + std::to_string(::getpid());
                {
                    std::ofstream out(path, std::ios::binary);
                    out.write(text.data(), static_cast<std::streamsize>(text.size()));
                }
                try {
                    (void)read_rul_truth(path);
                } catch (...) {
                    std::filesystem::remove(path);
                    throw;
                }
                std::filesystem::remove(path);
                break;
            }
            default: {
                if (twinsim::find_json_depth_excess(text)) return 0;
                const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
                if (j.is_discarded()) return 0;
                const PrognosticsModel model = PrognosticsModel::from_json(j);
                UnitHistory unit;
                unit.id = "u";
                for (int k = 1; k <= 5; ++k) {
                    unit.cycles.push_back(k);
                    unit.settings.assign(static_cast<std::size_t>(k) * model.health_indicator().setting_count(), 0.0);
                    unit.sensors.assign(static_cast<std::size_t>(k) * model.health_indicator().sensor_count(), 1.0);
                }
                (void)model.predict(unit).mean();
                break;
            }
        }
    } catch (const twinsim::Error&) {
        // refused with a message: fine
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
