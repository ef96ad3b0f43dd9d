#pragma once
// The undo log of an atomic batch (internal).
//
// An atomic batch (update_twins) must leave the graph untouched when one of
// its parts fails. Saving a copy of the GraphState first would do, but the
// copy shares every chunk with the writer's state, so each chunk the batch
// then writes has to be copied (copy-on-write) although nobody will ever read
// the saved copy unless the batch fails. The undo log instead records, before
// each change of the batch's fast operations, the few values it overwrites
// (a twin's TwinMeta, one cell, a twin's components), and puts them back in
// reverse order if the batch fails.
//
// Operations that do not record their changes (the general JSON Patch path,
// model migrations, creations) call checkpoint() first: it saves the state as
// it is then (O(tables + columns), shared chunks), after which the log stops
// recording (the saved state covers everything later). roll_back() restores
// the checkpoint, if any, then undoes the recorded changes made before it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "twinsim/graph/detail/graph_state.hpp"

namespace twinsim::graph::detail {

class UndoLog {
public:
    /// Opens the log on the state before the batch.
    explicit UndoLog(const GraphState& before) : etag_counter_(before.etag_counter) {}

    /// True while changes must be recorded (no checkpoint yet).
    [[nodiscard]] bool recording() const noexcept { return !checkpoint_; }
    /// Saves `s` (once) before a change the log does not record.
    void checkpoint(const GraphState& s) {
        if (!checkpoint_) checkpoint_.emplace(s);
    }

    /// Records twin t's TwinMeta before it changes. Precondition: recording().
    void twin_meta(TwinIndex t, const TwinMeta& before) { metas_.push_back({t, before}); }
    /// Records one cell (value, presence, lastUpdateTime, sourceTime) of
    /// table `table`, column `column`, before it changes. Precondition: recording().
    void cell(std::uint32_t table, std::uint32_t column, std::uint32_t row, const Column& c);
    /// Records twin t's components before they change. Precondition: recording().
    void components(TwinIndex t, JsonPtr before) { components_.push_back({t, std::move(before)}); }

    /// Puts `s` back as it was when the log was opened.
    void roll_back(GraphState& s, CopyCounter& copies);

private:
    struct MetaImage {
        TwinIndex twin;
        TwinMeta meta;
    };
    struct CellImage {
        std::uint32_t table = 0;
        std::uint32_t column = 0;
        std::uint32_t row = 0;
        bool present = false;
        std::uint8_t b = 0;
        double f64 = 0.0;
        std::int64_t i64 = 0;
        std::int64_t last_update = 0;
        std::int64_t source_time = 0;  ///< as stored (top bit flipped)
        std::string str;
        JsonPtr js;
    };
    struct ComponentsImage {
        TwinIndex twin;
        JsonPtr components;
    };
    std::uint64_t etag_counter_;
    std::optional<GraphState> checkpoint_;
    std::vector<MetaImage> metas_;
    std::vector<CellImage> cells_;
    std::vector<ComponentsImage> components_;
};

}  // namespace twinsim::graph::detail
