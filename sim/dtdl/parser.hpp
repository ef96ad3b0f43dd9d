#pragma once
// Reading DTDL v2/v3 documents: JSON, JSON-LD contexts, every rule of the
// specification, references across documents and resolution of missing ones.

#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "twinsim/dtdl/diagnostic.hpp"
#include "twinsim/dtdl/elements.hpp"

namespace twinsim::dtdl {

/// One JSON document: a DTDL Interface, or an array of them.
struct Document {
    std::string source;  ///< file path, or a label such as "<document 3>"; used in errors
    std::string text;    ///< the UTF-8 JSON text
};

/// Supplies definitions for identifiers that no document defines, as a model
/// repository would. Called with the ids still unresolved; returns documents
/// defining some or all of them (or none). Called again while it makes progress.
using Resolver = std::function<std::vector<Document>(const std::vector<std::string>& unresolved_ids)>;

struct ParseOptions {
    /// AllowUndefinedExtensions: accept extension contexts, types and members
    /// that no known extension defines (the element is "informally co-typed").
    /// Off (DisallowUndefinedExtensions) by default, as the specification recommends.
    bool allow_undefined_extensions = false;
    Resolver resolver;  ///< may be empty
};

/// Everything learnt from a set of documents.
struct ParseResult {
    std::vector<Interface> interfaces;      ///< every interface (top-level and inline); empty unless valid()
    std::vector<std::string> interface_ids; ///< DTMI of every interface found, even when the set is invalid
    std::vector<Diagnostic> diagnostics;    ///< errors and warnings, in document order
    std::vector<std::string> unresolved;    ///< dependent references nobody defines, sorted, unique

    [[nodiscard]] bool valid() const;       ///< no error-severity diagnostic and nothing unresolved
    [[nodiscard]] std::vector<Diagnostic> errors() const;
};

/// Parses and validates the documents together as one model. Never throws for
/// bad input: malformed JSON, non-UTF-8 text and every broken rule become
/// diagnostics. Throws only std::bad_alloc.
[[nodiscard]] ParseResult parse(std::span<const Document> documents, const ParseOptions& options = {});

/// Reads DTDL documents from files and folders (folders recursively, *.json,
/// in sorted order, following symbolic links to folders). Throws
/// twinsim::IoError naming the path and why (the OS's reason, e.g.
/// "Permission denied") for a path that does not exist or cannot be read, a
/// folder with no *.json file under it, a loop of symbolic links, folders
/// nested more than 64 deep, and a path that is neither a regular file nor a
/// folder (a device or FIFO is never read).
[[nodiscard]] std::vector<Document> read_documents(std::span<const std::filesystem::path> paths);

}  // namespace twinsim::dtdl
