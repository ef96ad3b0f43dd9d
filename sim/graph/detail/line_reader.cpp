#include "twinsim/graph/detail/line_reader.hpp"

#include <cstring>
#include <istream>
#include <string>
#include <utility>

#include "twinsim/common/error.hpp"
#include "twinsim/graph/errors.hpp"

namespace twinsim::graph::detail {

LineReader::LineReader(std::istream& in, std::string source_name, std::size_t block_size, std::size_t max_line)
    : in_(in), source_name_(std::move(source_name)), buffer_(block_size < 16 ? 16 : block_size), max_line_(max_line) {}

namespace {

[[noreturn]] void line_too_long(const std::string& source, std::size_t line, std::size_t max_line) {
    std::string why = "the line is longer than the limit of " + std::to_string(max_line) +
                      " bytes (max_ndjson_line_bytes); reading stopped there";
    std::string message = source + ": line " + std::to_string(line) + ": " + why + "; nothing was imported";
    throw ImportError(message, {ImportProblem{line, "", std::move(why)}});
}

}  // namespace

void LineReader::refill() {
    // Keep the unconsumed tail at the front; grow only when one line fills the block.
    if (begin_ > 0) {
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    in_.read(buffer_.data() + end_, static_cast<std::streamsize>(buffer_.size() - end_));
    const auto got = static_cast<std::size_t>(in_.gcount());
    if (in_.bad()) throw IoError("cannot read " + source_name_ + ": read error after " + std::to_string(bytes_ + end_) + " bytes");
    if (got == 0) at_eof_ = true;
    end_ += got;
}

bool LineReader::next(std::string_view& line) {
    for (;;) {
        const char* const first = buffer_.data() + begin_;
        const auto* const newline = static_cast<const char*>(std::memchr(first, '\n', end_ - begin_));
        std::size_t length = 0;
        std::size_t consumed = 0;
        if (newline != nullptr) {
            length = static_cast<std::size_t>(newline - first);
            consumed = length + 1;
        } else if (at_eof_) {
            if (begin_ == end_) return false;
            length = consumed = end_ - begin_;  // last line without a terminator
        } else if (end_ - begin_ > max_line_ + 1) {  // + 1: room for a '\r' before the '\n'
            line_too_long(source_name_, line_number_ + 1, max_line_);
        } else {
            refill();
            continue;
        }
        line = std::string_view(first, length);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > max_line_) line_too_long(source_name_, line_number_ + 1, max_line_);
        if (line_number_ == 0 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
        begin_ += consumed;
        bytes_ += consumed;
        ++line_number_;
        return true;
    }
}

}  // namespace twinsim::graph::detail
