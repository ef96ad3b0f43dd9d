#pragma once
// Reads and parses an NDJSON stream on a background thread (internal).
//
// JSON parsing is most of an import's cost that does not touch the graph, so
// it runs beside the graph writes: a producer thread splits the stream into
// lines (LineReader) and parses each one once, handing batches of parsed
// lines to the importer through a small bounded queue.
//
// Inside a Twins or Relationships section (as the section lines seen so far
// say), a line of the common bulk shape — a twin with "$dtId", "$metadata":
// {"$model", "$lastUpdateTime"?, "<p>": {"lastUpdateTime"?, "sourceTime"?}...}
// (the times RFC 3339 date-times, parsed here, off the writer's thread) and
// top-level numbers and strings; a relationship with its four "$" strings and
// top-level numbers and strings — is parsed with simdjson's On-Demand API straight
// into a compact record (strings in the batch's arena, no nlohmann::json, no
// allocation per line). Every other line, and any line simdjson has the
// slightest doubt about, is parsed with nlohmann::json as before; a record can
// be turned back into exactly the nlohmann::json that line parses to
// (to_json), so the importer's general path and its error messages are
// unchanged. The split depends only on the text, never on thread timing.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <iosfwd>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::graph::detail {

/// A string in a ParsedBatch's arena.
struct ArenaString {
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
};

enum class RecordKind : std::uint8_t { none, twin, relationship };

/// The texts of a PropertyTimes entry, for to_json (present when its time is).
struct TimeTexts {
    ArenaString last_update;
    ArenaString source_time;
};

/// One non-blank line of the stream.
struct ParsedLine {
    std::size_t number = 0;  ///< 1-based line number
    nlohmann::json value;    ///< the parsed line (null when `error` is set or `record` is not none)
    std::string error;       ///< why the line was not parsed (malformed, or too deep); empty when it parsed
    std::string text;        ///< the raw line, kept only inside a Models section (DTDL documents)
    /// A line parsed by the fast path: `value` is not set; the strings are,
    /// for a twin, $dtId, $metadata.$model and, when `last_update` is set, the
    /// text of $metadata.$lastUpdateTime; for a relationship, $dtId,
    /// $relationshipId, $targetId and $relationshipName. Its scalar members
    /// are ParsedBatch::values[first_value, first_value + value_count), a
    /// twin's property times ParsedBatch::times[first_time, first_time + time_count).
    RecordKind record = RecordKind::none;
    ArenaString strings[4];
    std::uint32_t first_value = 0;
    std::uint32_t value_count = 0;
    std::optional<Timestamp> last_update;
    std::uint32_t first_time = 0;
    std::uint32_t time_count = 0;
    /// A record's id hashes, computed on the reader thread (BulkHashes,
    /// bulk_loader.hpp): a twin's $dtId in [0]; a relationship's $dtId,
    /// $relationshipId and $targetId in [0], [1], [2].
    std::uint64_t hashes[3] = {0, 0, 0};
};

/// Lines handed over together, with the storage of their fast records.
struct ParsedBatch {
    std::vector<ParsedLine> lines;
    std::string arena;                ///< the records' strings
    std::vector<ScalarValue> values; ///< names (and strings) point into `arena`
    std::vector<PropertyTimes> times; ///< names point into `arena`
    std::vector<TimeTexts> time_texts; ///< parallel to `times`

    [[nodiscard]] std::string_view str(ArenaString s) const noexcept { return {arena.data() + s.offset, s.size}; }
    [[nodiscard]] std::span<const ScalarValue> values_of(const ParsedLine& line) const noexcept {
        return {values.data() + line.first_value, line.value_count};
    }
    [[nodiscard]] std::span<const PropertyTimes> times_of(const ParsedLine& line) const noexcept {
        return {times.data() + line.first_time, line.time_count};
    }
    /// The nlohmann::json that nlohmann::json::parse gives for the line of a record.
    [[nodiscard]] nlohmann::json to_json(const ParsedLine& line) const;
};

/// {"Section": ...}: an object of at most two members, one of them "Section"
/// (with "$dtId" or "@id" it is a twin or model that has such a property).
/// A second member makes it a malformed section line, reported as such.
[[nodiscard]] bool is_section_marker(const nlohmann::json& value);

class NdjsonReader {
public:
    /// Starts reading `in` at once. `in` must outlive the reader.
    NdjsonReader(std::istream& in, std::string source_name);
    NdjsonReader(const NdjsonReader&) = delete;
    NdjsonReader& operator=(const NdjsonReader&) = delete;
    /// Stops the producer (if still running) and joins it.
    ~NdjsonReader();

    /// Replaces `batch` with the next lines, in order; false when the stream
    /// is exhausted. Rethrows what the producer threw (IoError on a read
    /// failure, std::bad_alloc).
    bool next(ParsedBatch& batch);

    /// Lines and bytes read; final once next() returned false.
    [[nodiscard]] std::size_t lines() const noexcept { return lines_; }
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

private:
    void produce(std::istream& in, const std::string& source_name);

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<ParsedBatch> ready_;
    // Batches the importer is done with, handed back for the producer to
    // refill: their buffers are reused, so no line costs an allocation (or a
    // free on the importer's thread) once the first batches exist.
    std::vector<ParsedBatch> spare_;
    bool finished_ = false;  // the producer pushed its last batch
    bool stop_ = false;      // the consumer gave up
    std::exception_ptr failure_;
    std::size_t lines_ = 0;
    std::size_t bytes_ = 0;
    std::thread producer_;
};

}  // namespace twinsim::graph::detail
