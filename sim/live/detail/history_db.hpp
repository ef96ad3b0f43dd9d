#pragma once
// The history database DIR/history.db (internal to the store; sqlite3.h stays
// in history_db.cpp). docs/history.md has the schema.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "twinsim/live/history.hpp"

namespace twinsim::live::detail {

/// What the indexer writes for one batch, in the batch's transaction.
/// Strings are dictionary-encoded by the database.
class HistoryWriter {
public:
    virtual ~HistoryWriter() = default;
    virtual void property(std::string_view twin, std::string_view key, Timestamp time, std::uint64_t sequence,
                          std::optional<Timestamp> source_time, std::string_view model, const nlohmann::json* value,
                          std::string_view relationship, std::string_view target) = 0;
    virtual void twin(std::string_view twin, Timestamp time, std::uint64_t sequence, bool create,
                      std::string_view model) = 0;
    virtual void relationship(std::string_view source, std::string_view relationship, Timestamp time,
                              std::uint64_t sequence, bool create, std::string_view name, std::string_view target) = 0;
    /// The change `sequence` has a cause (ChangeEvent::cause, e.g. "rule:<name>").
    virtual void cause(std::uint64_t sequence, std::string_view cause) = 0;
    /// A twin's model changed (a patch of /$metadata/$model).
    virtual void set_twin_model(std::string_view twin, std::string_view model) = 0;
    /// The current model of a twin as the history knows it ("" when unknown).
    virtual std::string twin_model(std::string_view twin) = 0;
    /// The current target of a relationship ("" when unknown).
    virtual std::string relationship_target(std::string_view source, std::string_view relationship) = 0;
};

class HistoryDb {
public:
    /// Opens or creates `file`, and a read-only connection to the store's
    /// journal `journal`. Throws HistoryError.
    HistoryDb(const std::filesystem::path& file, const std::filesystem::path& journal);
    ~HistoryDb();
    HistoryDb(const HistoryDb&) = delete;
    HistoryDb& operator=(const HistoryDb&) = delete;

    /// The last journal batch whose rows are in the database.
    [[nodiscard]] std::uint64_t indexed() const;
    /// Indexes journal batches after indexed(), at most `limit` of them, in
    /// one transaction; `batch` is called with each decoded payload and a
    /// writer. Returns the new indexed(). Throws HistoryError.
    std::uint64_t index_next(std::uint64_t limit,
                             const std::function<void(std::uint64_t batch, std::string_view payload, HistoryWriter&)>& batch);
    [[nodiscard]] HistoryResult query(const HistoryQuery& query);
    /// Property updates of one (twin, key) in [start, end), as columns.
    [[nodiscard]] HistorySeries series(std::string_view twin, std::string_view key, std::optional<Timestamp> start,
                                       std::optional<Timestamp> end);
    /// Thins property and telemetry rows (RetentionPolicy). `now`: the
    /// reference instant; the newest row's time when nullopt. Returns the
    /// rows removed. Throws HistoryError.
    std::uint64_t thin(const RetentionPolicy& policy, std::optional<Timestamp> now);
    /// One telemetry row per member of `payload` (an object). Throws HistoryError.
    void telemetry(std::string_view twin, std::string_view component, std::string_view model, const nlohmann::json& payload,
                   Timestamp time, std::optional<Timestamp> source_time);
    /// Rows per kind and the file's size (pages in use), for measurements.
    struct Counts {
        std::uint64_t property_updates = 0, twin_lifecycle = 0, relationship_lifecycle = 0, telemetry = 0;
        std::uint64_t bytes = 0;
    };
    [[nodiscard]] Counts counts();
    void close() noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace twinsim::live::detail

namespace twinsim::live::detail {

/// The background indexer of a store's history (history.cpp): a thread that
/// indexes journal batches into a HistoryDb as they are committed.
class HistoryRecorder {
public:
    /// Opens `file` and starts indexing up to `last_batch` (what the journal
    /// held when the store opened). Throws HistoryError.
    HistoryRecorder(const std::filesystem::path& file, const std::filesystem::path& journal, HistoryOptions options,
                    std::uint64_t last_batch);
    ~HistoryRecorder();
    HistoryRecorder(const HistoryRecorder&) = delete;
    HistoryRecorder& operator=(const HistoryRecorder&) = delete;

    /// Batch `batch` is in the journal. Never throws.
    void committed(std::uint64_t batch) noexcept;
    /// Waits until batches up to `upto` are indexed, then reads. Throws
    /// HistoryError (the indexer failed: its reason; stopped).
    [[nodiscard]] HistoryResult read(const HistoryQuery& query, std::uint64_t upto);
    /// The same for HistoryDb::series.
    [[nodiscard]] HistorySeries read_series(std::string_view twin, std::string_view key, std::optional<Timestamp> start,
                                            std::optional<Timestamp> end, std::uint64_t upto);
    std::uint64_t thin(const RetentionPolicy& policy, std::optional<Timestamp> now, std::uint64_t upto);
    void telemetry(std::string_view twin, std::string_view component, std::string_view model, const nlohmann::json& payload,
                   Timestamp time, std::optional<Timestamp> source_time);
    [[nodiscard]] HistoryDb::Counts counts(std::uint64_t upto);
    [[nodiscard]] const HistoryOptions& options() const noexcept;
    /// Stops the thread (what is not indexed yet is indexed at the next open) and closes the database.
    void stop() noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Writes the rows of one journal payload (detail::decode_batch). Throws
/// HistoryError when the payload cannot be decoded.
void record_batch(std::uint64_t batch, std::string_view payload, HistoryWriter& writer);

}  // namespace twinsim::live::detail
