#pragma once
// Bulk import and export in the Azure Digital Twins import-job NDJSON format:
// {"Section": "Header"} and its header line, then the Models, Twins and
// Relationships sections (each optional, in that order).

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <string>

#include "twinsim/graph/twin_graph.hpp"

namespace twinsim::graph {

struct ImportStats {
    std::size_t models = 0;
    std::size_t twins = 0;
    std::size_t relationships = 0;
    std::size_t lines = 0;
    std::size_t bytes = 0;
};

/// The longest line an NDJSON import accepts, in bytes (32 MiB, terminator
/// excluded): far above ADT's own limits (a twin is at most 32 KB, a model
/// 1 MB), low enough that a file without line breaks (/dev/zero) is refused
/// after reading that much. Documented in docs/ndjson.md.
inline constexpr std::size_t max_ndjson_line_bytes = std::size_t{32} << 20;

/// Loads an NDJSON import file into `graph`, atomically: models (ordered by
/// dependency automatically), then twins, then relationships. On any problem
/// nothing changes and ImportError lists every bad line (number, section,
/// reason): malformed JSON, values nested deeper than max_json_depth
/// (common/json_depth.hpp), and a line longer than max_ndjson_line_bytes
/// (which stops reading there). Throws IoError when the file cannot be read,
/// and when `file` is not a regular file (a directory, a device such as
/// /dev/zero, a pipe): only the stream overload reads streams.
ImportStats import_ndjson(TwinGraph& graph, std::istream& in, const std::string& source_name = "<stream>");
ImportStats import_ndjson(TwinGraph& graph, const std::filesystem::path& file);

/// Writes a snapshot in the same format; import_ndjson(export_ndjson(g))
/// reproduces g's models, twins (properties, components, sourceTimes) and
/// relationships exactly. Throws IoError on a write failure (the file is
/// written to a temporary name and renamed when complete).
void export_ndjson(const Snapshot& snapshot, std::ostream& out);
void export_ndjson(const Snapshot& snapshot, const std::filesystem::path& file);

}  // namespace twinsim::graph
