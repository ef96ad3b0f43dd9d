#pragma once
// Checkpoint files of the store (internal): a header, then a serialised
// Snapshot (graph/snapshot_serialization.hpp). docs/store.md, "Checkpoints".

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/graph/snapshot.hpp"

namespace twinsim::live::detail {

/// "checkpoint-<batch, 20 digits>.ckpt"
[[nodiscard]] std::string checkpoint_name(std::uint64_t batch);
/// The batch of a checkpoint file name, nullopt for another name.
[[nodiscard]] std::optional<std::uint64_t> checkpoint_batch(const std::string& name);

/// Writes `snapshot` as the checkpoint of `batch` in `dir`: to a temporary
/// file, fsynced, renamed into place, directory fsynced. Returns its path.
/// Throws std::runtime_error with our wording and the OS reason; the
/// temporary file is removed.
std::filesystem::path write_checkpoint(const std::filesystem::path& dir, std::uint64_t batch,
                                       const graph::Snapshot& snapshot);

/// Reads a checkpoint written by write_checkpoint. Throws std::runtime_error
/// saying what is wrong (unreadable, too short, bad magic or version,
/// checksum mismatch, batch differs from its name, snapshot invalid).
[[nodiscard]] graph::Snapshot read_checkpoint(const std::filesystem::path& file, std::uint64_t batch);

/// The same for a checkpoint's bytes (read_checkpoint reads the file, then
/// calls this). Throws std::runtime_error as read_checkpoint does.
[[nodiscard]] graph::Snapshot parse_checkpoint(std::string_view bytes, std::uint64_t batch);

/// fsync of a directory (after a rename or a file creation in it). Throws std::runtime_error.
void sync_directory(const std::filesystem::path& dir);

}  // namespace twinsim::live::detail
