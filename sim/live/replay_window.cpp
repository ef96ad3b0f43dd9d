#include "twinsim/live/replay_window.hpp"

#include <algorithm>
#include <string>

#include "twinsim/live/history.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::live {

ReplayWindow replay_window(Store& store, Timestamp start, Timestamp end) {
    auto at = [](Timestamp t) { return format_timestamp(t, TimestampPrecision::nanoseconds); };
    ReplayWindow w;
    w.graph = store.snapshot_at(start);
    if (w.graph.twin_count() == 0) {
        // Filled after the fact, or a window before the store existed: say what the store holds.
        HistoryQuery lifecycle;
        lifecycle.kinds = history_twin_lifecycle;
        const HistoryResult rows = store.history(lifecycle);
        std::string span = "no twin lifecycle row at all";
        if (!rows.twin_lifecycle.empty()) {
            const auto [first, last] = std::minmax_element(
                rows.twin_lifecycle.begin(), rows.twin_lifecycle.end(),
                [](const TwinLifecycleRow& a, const TwinLifecycleRow& b) { return a.time.ns < b.time.ns; });
            span = "twins from " + at(first->time) + " to " + at(last->time) + " (" +
                   std::to_string(rows.twin_lifecycle.size()) + " twin lifecycle rows)";
        }
        throw HistoryError("replay from the store " + store.directory().string() + ": its graph at the window's start " +
                           at(start) + " (window " + at(start) + " .. " +
                           at(end) + ") holds no twin; the store holds " + span +
                           ". A store filled after the fact (rows stamped when they were ingested) cannot be replayed "
                           "directly: export its history to an HDF5 file (twinsim history --store DIR --hdf5 FILE, "
                           "or Store.export_history) and name that file as replay.source; its readings are placed at their SourceTimeStamp and the scenario's base "
                           "is the graph");
    }
    HistoryQuery window;
    window.end = end;
    w.history = history_tables(store, window);
    w.history.source = store.directory().string();
    return w;
}

}  // namespace twinsim::live
