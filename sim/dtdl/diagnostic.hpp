#pragma once
// Diagnostics produced while reading DTDL, and the exception that carries them.

#include <string>
#include <vector>

#include "twinsim/common/error.hpp"

namespace twinsim::dtdl {

enum class Severity {
    error,    ///< the model set is invalid (a MUST/SHALL of the specification is broken)
    warning,  ///< valid, but breaks a SHOULD/RECOMMENDED of the specification
};

/// One finding about a set of DTDL documents.
struct Diagnostic {
    Severity severity = Severity::error;
    std::string file;     ///< the document: its file path, or "<document N>" for in-memory input
    std::string id;       ///< DTMI of the nearest element that has one (empty when none does)
    std::string path;     ///< JSON Pointer into the document, e.g. "/contents/2/schema"
    std::string message;  ///< what is wrong and what was expected
    std::string rule;     ///< the specification rule broken, e.g. "ClassPropertyPropertyNamePattern"

    /// "file: id: path: message" on one line (empty parts omitted).
    [[nodiscard]] std::string to_string() const;
};

/// Thrown when a set of DTDL documents is invalid or referentially incomplete.
/// Carries every error found (not only the first) and every identifier that no
/// document defines and no resolver could supply.
class ModelError : public Error {
public:
    ModelError(std::vector<Diagnostic> errors, std::vector<std::string> unresolved);

    [[nodiscard]] const std::vector<Diagnostic>& errors() const noexcept { return errors_; }
    [[nodiscard]] const std::vector<std::string>& unresolved() const noexcept { return unresolved_; }

private:
    std::vector<Diagnostic> errors_;
    std::vector<std::string> unresolved_;
};

}  // namespace twinsim::dtdl
