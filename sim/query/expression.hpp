#pragma once
// The expression language of WHERE, compiled once and evaluated many times.
//
// One evaluator serves queries, scenario overrides, business rules and event
// routes. compile() resolves names against a Scope (which aliases exist and
// whether each binds a twin or a relationship); an Evaluator then binds each
// twin property path to its column once per model table, lazily, and reads
// doubles, integers, booleans and strings straight from the columnar state:
// no JSON is built for a top-level property. Object sub-paths, component
// properties and relationship properties are read from the stored JSON
// (pointers into the snapshot, still no copies).
//
// Semantics (Azure Digital Twins, as documented; see docs/query.md):
//   - three-valued logic: a comparison involving a missing property, or two
//     values of different types (a number and a string, ...), is undefined;
//     NOT undefined is undefined; AND is false if any side is false, OR true
//     if any side is true, otherwise undefined wins; a row is selected only
//     when the expression is true;
//   - numbers compare across integer and double; strings compare byte-wise,
//     case-sensitively; false < true; null equals only null;
//   - IS_DEFINED, IS_NULL, IS_BOOL, IS_NUMBER, IS_STRING, IS_OBJECT and
//     IS_PRIMITIVE are never undefined (false for a missing value);
//     STARTSWITH, ENDSWITH, CONTAINS and ARRAY_CONTAINS are undefined when an
//     argument has the wrong type; IS_OF_MODEL uses ModelSet::is_a.

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/graph/snapshot.hpp"
#include "twinsim/query/ast.hpp"

namespace twinsim::query {

/// What an alias stands for: a twin or relationship of a Snapshot, or a JSON
/// document (an event notification: route filters, see test_document).
enum class AliasKind : std::uint8_t { twin, relationship, document };

/// The names an expression may use. Slot k of a row holds the TwinIndex or
/// RelationshipIndex of aliases[k].
struct Scope {
    struct Alias {
        std::string name;   ///< empty for the unnamed `FROM DIGITALTWINS` (paths then start with the property)
        AliasKind kind = AliasKind::twin;
    };
    std::vector<Alias> aliases;
    /// The slot a path that does not start with an alias refers to (ADT lets
    /// `WHERE temperature > 20` and `IS_OF_MODEL('dtmi:...')` omit the alias of
    /// a single FROM). no_default: such a path is an error.
    std::uint32_t default_alias = 0;
    static constexpr std::uint32_t no_default = 0xFFFFFFFFu;

    /// One unnamed twin alias: the scope of standalone expressions
    /// (`temperature > 20 AND IS_OF_MODEL('dtmi:x;1')`).
    [[nodiscard]] static Scope single_twin(std::string name = {});
    /// One unnamed document alias: every path is a member path into a JSON
    /// document (`type`, `data.modelId`), read as written (no `$`-names of
    /// twins). The scope of event-route filters (sim/live/route_filter.hpp).
    [[nodiscard]] static Scope single_document();
    /// Slot of an alias by name, or nullopt.
    [[nodiscard]] std::optional<std::uint32_t> find(std::string_view name) const;
};

/// Three-valued truth.
enum class Truth : std::uint8_t { false_, true_, undefined };

/// A value read during evaluation. Strings and JSON point into the snapshot
/// or into the compiled expression: valid while both live.
struct Value {
    enum class Kind : std::uint8_t { undefined, null, boolean, integer, number, string, json };
    Kind kind = Kind::undefined;
    bool b = false;
    std::int64_t i = 0;
    double d = 0.0;
    std::string_view s;
    const nlohmann::json* j = nullptr;  ///< Kind::json: an object or array

    [[nodiscard]] bool defined() const noexcept { return kind != Kind::undefined; }
    [[nodiscard]] bool is_number() const noexcept { return kind == Kind::integer || kind == Kind::number; }
    [[nodiscard]] double as_double() const noexcept { return kind == Kind::integer ? static_cast<double>(i) : d; }
    /// The value as JSON (a copy); null for undefined.
    [[nodiscard]] nlohmann::json to_json() const;
    /// A primitive JSON value becomes a scalar Value; objects and arrays keep a pointer.
    [[nodiscard]] static Value of(const nlohmann::json& j) noexcept;
};

/// Compares two defined values: undefined when their types differ (numbers
/// are one type), else false/true per `op` (one of eq, ne, lt, gt, le, ge).
[[nodiscard]] Truth compare(const Value& a, BinaryOp op, const Value& b) noexcept;

namespace detail {
struct Program;
}

/// An expression resolved against a Scope. Immutable, cheap to copy (shared),
/// usable from any number of threads; evaluate it through an Evaluator.
class CompiledExpression {
public:
    CompiledExpression();
    [[nodiscard]] const Scope& scope() const noexcept;
    /// Aliases (slots) the expression reads, ascending.
    [[nodiscard]] const std::vector<std::uint32_t>& slots_used() const noexcept;
    /// Model ids named by IS_OF_MODEL (for warnings).
    [[nodiscard]] std::vector<std::string> model_ids() const;
    /// Top-level twin property names the expression reads (not `$`-names), for
    /// "no model declares it" warnings.
    [[nodiscard]] std::vector<std::string> twin_property_names() const;
    /// Names no model of `models` declares (IS_OF_MODEL ids first, then
    /// property names), as human-readable warnings. Never throws.
    [[nodiscard]] std::vector<std::string> unknown_names(const dtdl::ModelSet& models) const;
    [[nodiscard]] const detail::Program& program() const noexcept { return *program_; }

private:
    friend CompiledExpression compile(const Expr&, const Scope&);
    std::shared_ptr<const detail::Program> program_;
};

/// Resolves names and checks arity. Throws QueryError (with the node's
/// position) for an unknown alias, a path on no alias when the scope has no
/// default, a misplaced aggregate or `*`, an unknown function or wrong
/// argument count/kind. Unknown model ids and property names are not errors.
[[nodiscard]] CompiledExpression compile(const Expr& expr, const Scope& scope);

/// Parses and compiles a standalone expression on one unnamed twin
/// (Scope::single_twin()). Throws QueryError.
[[nodiscard]] CompiledExpression compile_expression(std::string_view text);

/// Evaluates one CompiledExpression on one Snapshot. Holds the per-model
/// column bindings, so create one per (expression, snapshot) and reuse it
/// across rows. Not thread-safe (one per thread); cheap to create.
class Evaluator {
public:
    /// Both must outlive the Evaluator.
    Evaluator(const CompiledExpression& expr, const graph::Snapshot& snapshot);
    ~Evaluator();
    Evaluator(Evaluator&&) noexcept;
    Evaluator& operator=(Evaluator&&) = delete;

    /// The expression on `row` (one index per scope alias; precondition:
    /// every slot the expression uses holds a live twin/relationship).
    [[nodiscard]] Truth test(std::span<const std::uint32_t> row);
    [[nodiscard]] bool matches(std::span<const std::uint32_t> row) { return test(row) == Truth::true_; }
    /// The value of the expression (for projections, ORDER BY, GROUP BY).
    [[nodiscard]] Value value(std::span<const std::uint32_t> row);

    /// What the expression is known to be for every twin of model `model` in
    /// slot `slot` before any property is read: false when it cannot be true
    /// there (an IS_OF_MODEL excluding the model, under AND), true when it is
    /// true whatever the rest, nullopt otherwise. Lets a scan skip whole model tables.
    [[nodiscard]] std::optional<bool> fold_for_model(std::uint32_t slot, dtdl::InterfaceIndex model) const;

private:
    friend Truth test_document(const CompiledExpression& expr, const nlohmann::json& document);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Evaluates an expression compiled against Scope::single_document() on one
/// JSON document with the same semantics as on a twin (three-valued logic, a
/// missing member is undefined, the same comparisons and functions). A path
/// descends through object members; anything else on the way is undefined.
/// Thread-safe (the expression is immutable). Precondition: expr's scope is
/// Scope::single_document() (other scopes: every path is undefined).
[[nodiscard]] Truth test_document(const CompiledExpression& expr, const nlohmann::json& document);

/// Convenience for a standalone expression on a single twin (slot 0 of its
/// scope; other slots must be unused). Builds an Evaluator per call: in a
/// loop, use an Evaluator. Precondition: snapshot.alive(twin).
[[nodiscard]] bool matches(const graph::Snapshot& snapshot, graph::TwinIndex twin, const CompiledExpression& expr);

}  // namespace twinsim::query
