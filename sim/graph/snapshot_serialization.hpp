#pragma once
// A Snapshot as bytes and back, so a snapshot taken in one process can be the
// base of scenario runs in another (distributed runs). The format (versioned,
// little-endian, checksummed) is described in docs/graph.md, "Snapshot
// serialisation". The round trip is exact: the same twins and relationships
// at the same indices, the same etags, times, model infos, version() and
// event_sequence(), so queries and scenario runs on the copy give the same
// results as on the original, bit for bit.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/graph/errors.hpp"
#include "twinsim/graph/snapshot.hpp"

namespace twinsim::graph {

/// The format version serialize() writes; deserialize() reads this one only.
inline constexpr std::uint32_t snapshot_format_version = 1;

/// Bytes that are not a snapshot this build can read: wrong magic or
/// version, truncated, corrupted (checksum), or inconsistent (an index out of
/// range, a duplicate id, a value its model refuses, models that do not match).
/// code() is "InvalidSnapshot"; the message says what is wrong and at which
/// byte offset.
class SnapshotFormatError : public GraphError {
public:
    explicit SnapshotFormatError(const std::string& message) : GraphError("InvalidSnapshot", message) {}
};

/// The snapshot as bytes: its models (ids, decommissioned flags, upload
/// times, the DTDL definitions as uploaded), every twin (index, $dtId, model,
/// $etag, $lastUpdateTime, each set property with its lastUpdateTime and
/// sourceTime, components), every relationship (index, source, target, name,
/// id, $etag, properties), adjacency order, free lists, the etag counter and
/// the event sequence number. Cost: linear in the graph's size.
[[nodiscard]] std::string serialize(const Snapshot& snapshot);

/// The snapshot `bytes` hold, with `models` as its ModelSet (shared, not
/// copied: the caller already holds the compiled models, as every worker of
/// a distributed run does). Throws SnapshotFormatError when the bytes are not
/// a valid snapshot, and when `models` is not the snapshot's model set (an id
/// the snapshot lists is missing, the set holds other interfaces, or a
/// model's property layout differs). Precondition: models != nullptr.
[[nodiscard]] Snapshot deserialize(std::string_view bytes, std::shared_ptr<const dtdl::ModelSet> models);

/// As above, compiling the models from the definitions the bytes carry.
/// Throws SnapshotFormatError (also when the definitions do not compile).
[[nodiscard]] Snapshot deserialize(std::string_view bytes);

}  // namespace twinsim::graph
