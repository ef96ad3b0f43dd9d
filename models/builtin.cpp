#include "models/builtin.hpp"

#include <memory>

#include "models/building/thermal.hpp"
#include "models/equipment/maintenance.hpp"
#include "models/equipment/predicted_failures.hpp"
#include "models/generic/availability.hpp"
#include "models/generic/queue.hpp"
#include "models/generic/relaxation.hpp"
#include "models/generic/schedule.hpp"
#include "models/production/production_line.hpp"
#include "models/rules/rules.hpp"

namespace twinsim::models {

void register_builtin_models(scenario::ModelRegistry& registry) {
    registry.add(std::make_shared<const RelaxationModel>());
    registry.add(std::make_shared<const QueueModel>());
    registry.add(std::make_shared<const AvailabilityModel>());
    registry.add(std::make_shared<const ThermalZonesModel>());
    registry.add(std::make_shared<const RulesModel>());
    registry.add(std::make_shared<const ScheduleModel>());
    registry.add(std::make_shared<const MaintenanceModel>());
    registry.add(std::make_shared<const PredictedFailuresModel>());
    registry.add(std::make_shared<const ProductionLineModel>());
}

const scenario::ModelRegistry& builtin_registry() {
    static const scenario::ModelRegistry registry = [] {
        scenario::ModelRegistry r;
        register_builtin_models(r);
        return r;
    }();
    return registry;
}

std::filesystem::path builtin_dtdl_folder() { return TWINSIM_MODELS_SOURCE_DIR; }

}  // namespace twinsim::models
