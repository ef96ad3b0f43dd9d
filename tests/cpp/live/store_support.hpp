#pragma once
// Helpers of the store tests: temporary store directories and "everything a
// reader can observe" of a graph.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "twinsim/graph/snapshot.hpp"

namespace twinsim::test {

/// A fresh directory under the system's temp folder, removed afterwards.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& name) {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               ("twinsim-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

/// Twins (with etags and times), relationships, models (with upload times and
/// decommissions), counts, version and the event sequence number.
inline nlohmann::json observable(const graph::Snapshot& s) {
    nlohmann::json out = nlohmann::json::object();
    for (const graph::TwinIndex t : s.twins()) {
        const std::string& id = s.twin_id(t);
        out["twins"][id] = s.get_twin(t);
        out["relationships"][id] = s.list_relationships(id);
        out["incoming"][id] = s.list_incoming_relationships(id);
    }
    for (const graph::ModelInfo& m : s.list_models())
        out["models"][m.id] = {m.decommissioned, m.upload_time.ns, m.definition};
    out["counts"] = {s.twin_count(), s.relationship_count()};
    out["version"] = s.version();
    out["sequence"] = s.event_sequence();
    return out;
}

}  // namespace twinsim::test
