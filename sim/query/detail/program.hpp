#pragma once
// The compiled form of an expression (internal): a flat array of nodes with
// names resolved to scope slots. Built by compile(), read by Evaluator.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "twinsim/query/expression.hpp"

namespace twinsim::query::detail {

enum class Op : std::uint8_t {
    literal,
    twin_path,     ///< a property path on a twin slot
    rel_path,      ///< a property path on a relationship slot
    doc_path,      ///< a member path into a document slot (Scope::single_document)
    alias_ref,     ///< a bare alias (`T`): defined, but not a comparable value
    not_,
    and_,
    or_,
    cmp,
    in_list,
    is_of_model,
    is_defined,
    is_null,
    is_bool,
    is_number,
    is_string,
    is_object,
    is_primitive,
    startswith,
    endswith,
    contains,
    array_contains,
};

/// Paths with a meaning of their own.
enum class Special : std::uint8_t {
    none,       ///< a property (or a sub-path of one)
    never,      ///< a `$`-path twinsim does not expose (always undefined)
    dt_id,      ///< $dtId
    model,      ///< $metadata.$model
    etag,       ///< $etag
    rel_id,     ///< $relationshipId
    source_id,  ///< $sourceId
    target_id,  ///< $targetId
    rel_name,   ///< $relationshipName
};

struct Node {
    Op op = Op::literal;
    BinaryOp cmp = BinaryOp::eq;
    bool negated = false;               ///< in_list: NIN
    bool exact = false;                 ///< is_of_model
    std::uint32_t slot = 0;             ///< paths, alias_ref, is_of_model
    Special special = Special::none;
    std::vector<std::string> path;      ///< after the alias
    std::uint32_t path_id = 0;          ///< twin_path: index of its binding cache
    nlohmann::json literal;             ///< literal, in_list (array), is_of_model (model id string)
    Value lit;                          ///< literal as a Value (points into `literal`)
    std::vector<Value> items;           ///< in_list elements (point into `literal`)
    std::vector<std::uint32_t> args;
    SourcePos pos;
};

struct Program {
    Scope scope;
    std::vector<Node> nodes;
    std::uint32_t root = 0;
    std::uint32_t twin_paths = 0;
    std::vector<std::uint32_t> slots;   ///< slots used, ascending
};

}  // namespace twinsim::query::detail
