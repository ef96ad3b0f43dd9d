#pragma once
// A journaled batch as bytes and back (internal to the store): the change
// events, the model changes and the batch's outcome, as CBOR
// (docs/store.md, "Journal schema").

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/graph/journal.hpp"

namespace twinsim::live::detail {

/// A batch read back from the journal, owning what RecordedBatch points to.
struct DecodedBatch {
    std::vector<graph::ChangeEvent> events;
    std::vector<graph::ModelChange> models;
    graph::BatchOutcome outcome;
    [[nodiscard]] graph::RecordedBatch recorded() const { return {events, models, &outcome}; }
};

/// The payload of one journal row. Format version 1.
[[nodiscard]] std::string encode_batch(const graph::CommitBatch& batch, const graph::BatchOutcome& outcome);

/// Throws std::runtime_error (its message says what is wrong) when `bytes`
/// are not a payload encode_batch wrote.
[[nodiscard]] DecodedBatch decode_batch(std::string_view bytes);

}  // namespace twinsim::live::detail
