#pragma once
// The graph's exception family. Each maps to an Azure Digital Twins error code
// (code()) and, in Python, to a named exception with a Pythonic base class.

#include <string>
#include <vector>

#include "twinsim/common/error.hpp"

namespace twinsim::graph {

/// Base of every graph error. code() is the ADT error code, e.g. "DigitalTwinNotFound".
class GraphError : public Error {
public:
    GraphError(std::string code, const std::string& message) : Error(message), code_(std::move(code)) {}
    [[nodiscard]] const std::string& code() const noexcept { return code_; }

private:
    std::string code_;
};

/// A twin, relationship or model that does not exist
/// (DigitalTwinNotFound, RelationshipNotFound, ModelNotFound, TargetTwinNotFound).
class NotFoundError : public GraphError {
public:
    using GraphError::GraphError;
};

/// The operation conflicts with the graph's state: etag mismatch (PreconditionFailed),
/// create-only on an existing id (DigitalTwinAlreadyExists, RelationshipAlreadyExists,
/// ModelAlreadyExists), delete refused while relationships or twins remain
/// (RelationshipsNotDeleted, ModelReferencesNotDeleted).
class ConflictError : public GraphError {
public:
    using GraphError::GraphError;
};

/// A value, patch or relationship that the models refuse (ValidationFailed,
/// InvalidRelationship, JsonPatchInvalid, ModelDecommissioned). The message
/// names the twin, the property path and why.
class ValidationError : public GraphError {
public:
    using GraphError::GraphError;
};

/// One bad line of an import file.
struct ImportProblem {
    std::size_t line = 0;     ///< 1-based line number in the file
    std::string section;      ///< "Header", "Models", "Twins", "Relationships"
    std::string message;      ///< what is wrong (names twin/relationship/path)
};

/// An import that found problems; nothing was changed. Carries every problem.
class ImportError : public GraphError {
public:
    ImportError(const std::string& message, std::vector<ImportProblem> problems)
        : GraphError("ImportFailed", message), problems_(std::move(problems)) {}
    [[nodiscard]] const std::vector<ImportProblem>& problems() const noexcept { return problems_; }

private:
    std::vector<ImportProblem> problems_;
};

}  // namespace twinsim::graph
