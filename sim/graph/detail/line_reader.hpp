#pragma once
// Splits a byte stream into lines for the NDJSON importer (internal).
//
// Reads the stream in large blocks and hands out views into the block, so a
// line is never copied on its way to the JSON parser. Lines end with "\n";
// a "\r" before it is dropped (files written on Windows), and a UTF-8 byte
// order mark at the very start of the stream is skipped.

#include <cstddef>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/graph/ndjson.hpp"

namespace twinsim::graph::detail {

class LineReader {
public:
    /// `source_name` names the stream in error messages. Lines longer than
    /// `max_line` bytes are refused (default: max_ndjson_line_bytes, ndjson.hpp).
    explicit LineReader(std::istream& in, std::string source_name, std::size_t block_size = std::size_t{1} << 20,
                        std::size_t max_line = max_ndjson_line_bytes);

    /// The next line without its terminator; false at the end of the stream.
    /// The view stays valid until the next call. Throws twinsim::IoError when
    /// reading fails (not at a clean end of file), and ImportError naming the
    /// source and line number as soon as a line exceeds the maximum (so memory
    /// stays bounded by about twice the maximum, whatever the stream holds).
    bool next(std::string_view& line);

    /// 1-based number of the line last returned by next().
    [[nodiscard]] std::size_t line_number() const noexcept { return line_number_; }
    /// Bytes consumed so far (terminators included).
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

private:
    void refill();

    std::istream& in_;
    std::string source_name_;
    std::vector<char> buffer_;
    std::size_t begin_ = 0;  // unconsumed bytes are [begin_, end_)
    std::size_t end_ = 0;
    bool at_eof_ = false;
    std::size_t max_line_;
    std::size_t line_number_ = 0;
    std::size_t bytes_ = 0;
};

}  // namespace twinsim::graph::detail
