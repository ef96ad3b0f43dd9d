#pragma once
// A journaled batch as bytes and back (internal to the store): the change
// events, the model changes and the batch's outcome (docs/store.md,
// "Journal schema"). Format version 3 (written for batches of numeric
// property writes, graph::NumericBatch) holds the writes as columns; version
// 2 (written for every other batch) is a compact binary record with a
// per-batch string dictionary; version 1 (CBOR, written by earlier builds) is
// still read.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/graph/journal.hpp"

namespace twinsim::live::detail {

/// A batch read back from the journal, owning what RecordedBatch points to.
/// A format version 3 payload fills `numeric` (events, models and outcome
/// stay empty).
struct DecodedBatch {
    std::vector<graph::ChangeEvent> events;
    std::vector<graph::ModelChange> models;
    graph::BatchOutcome outcome;
    std::optional<graph::NumericBatch> numeric;
    [[nodiscard]] graph::RecordedBatch recorded() const {
        return {events, models, numeric ? nullptr : &outcome, numeric ? &*numeric : nullptr};
    }
    /// The number of change events the batch holds.
    [[nodiscard]] std::size_t event_count() const { return numeric ? numeric->event_count() : events.size(); }
};

/// The payload of one journal row for a batch of numeric writes, format
/// version 3 (batch_codec_v3.cpp).
[[nodiscard]] std::string encode_numeric_batch(const graph::NumericBatch& batch);
/// Decodes a version 3 payload. Throws std::runtime_error naming what is wrong.
[[nodiscard]] graph::NumericBatch decode_numeric_batch(std::string_view bytes);
/// Does `bytes` start with the version 3 mark?
[[nodiscard]] bool is_numeric_payload(std::string_view bytes) noexcept;

/// The payload of one journal row, format version 2 (batch_codec_v2.cpp).
[[nodiscard]] std::string encode_batch(const graph::CommitBatch& batch, const graph::BatchOutcome& outcome);

/// The same batch in format version 1 (CBOR), as builds before version 2
/// wrote it; kept so the tests can prove old journals still open.
[[nodiscard]] std::string encode_batch_v1(const graph::CommitBatch& batch, const graph::BatchOutcome& outcome);

/// Decodes a version 1 payload only (decode_batch picks the version).
[[nodiscard]] DecodedBatch decode_batch_v1(std::string_view bytes);

/// Decodes a payload of any version. Throws std::runtime_error (its
/// message says what is wrong) when `bytes` are not a payload encode_batch,
/// encode_numeric_batch or encode_batch_v1 wrote.
[[nodiscard]] DecodedBatch decode_batch(std::string_view bytes);

/// As decode_batch, with the same checks on every byte (a payload it refuses
/// is refused here with the same message), but the outcome's documents are
/// only checked, not built: `outcome` stays empty. For readers that need the
/// events alone (the history indexer), where building the touched twins'
/// documents was most of the decoding.
[[nodiscard]] DecodedBatch decode_batch_events(std::string_view bytes);

/// The format version of a payload: 3 for numeric writes, 2 for the binary record, 1 for CBOR.
[[nodiscard]] int payload_format(std::string_view bytes) noexcept;

}  // namespace twinsim::live::detail
