#pragma once
// Reads and parses an NDJSON stream on a background thread (internal).
//
// JSON parsing is most of an import's cost that does not touch the graph, so
// it runs beside the graph writes: a producer thread splits the stream into
// lines (LineReader) and parses each one once, handing batches of parsed
// lines to the importer through a small bounded queue.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <iosfwd>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace twinsim::graph::detail {

/// One non-blank line of the stream.
struct ParsedLine {
    std::size_t number = 0;  ///< 1-based line number
    nlohmann::json value;    ///< the parsed line (null when `error` is set)
    std::string error;       ///< why the line is not JSON; empty when it parsed
    std::string text;        ///< the raw line, kept only inside a Models section (DTDL documents)
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
    bool next(std::vector<ParsedLine>& batch);

    /// Lines and bytes read; final once next() returned false.
    [[nodiscard]] std::size_t lines() const noexcept { return lines_; }
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

private:
    void produce(std::istream& in, const std::string& source_name);

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<std::vector<ParsedLine>> ready_;
    bool finished_ = false;  // the producer pushed its last batch
    bool stop_ = false;      // the consumer gave up
    std::exception_ptr failure_;
    std::size_t lines_ = 0;
    std::size_t bytes_ = 0;
    std::thread producer_;
};

}  // namespace twinsim::graph::detail
