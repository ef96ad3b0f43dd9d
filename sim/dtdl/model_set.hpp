#pragma once
// ModelSet: the compiled, immutable DTDL model shared by every graph, snapshot
// and run (see DESIGN.md, "structure is shared, state is cloned").

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "twinsim/dtdl/elements.hpp"
#include "twinsim/dtdl/parser.hpp"

namespace twinsim::dtdl {

/// Dense index of an interface inside one ModelSet.
using InterfaceIndex = std::uint32_t;

/// How a property is stored in the columnar twin store.
enum class ColumnType : std::uint8_t {
    boolean,   ///< 1 byte
    int64,     ///< integer, long
    float64,   ///< double, float
    string,    ///< string, date, dateTime, duration, time, string-valued Enum
    json,      ///< Object, Map, Array, geospatial: stored as a JSON value
};
[[nodiscard]] const char* to_string(ColumnType t) noexcept;

/// One column of an interface's property table.
struct PropertySlot {
    std::string name;             ///< property name
    std::uint32_t column = 0;     ///< position in the table (== index in PropertyLayout::slots)
    ColumnType type = ColumnType::json;
    const Content* property = nullptr;  ///< the defining Property (owned by the ModelSet)
    std::string declared_in;      ///< DTMI of the interface that declares it
    bool writable = false;
};

/// The flattened Properties of an interface (own and inherited) as typed columns.
/// Telemetry, Commands, Relationships and Components take no column.
///
/// Column order (deterministic, and stable under inheritance):
///   1. the interface's ancestors are linearised base-first: a depth-first walk
///      of `extends` in declaration order that emits an interface after all of
///      its own bases, each interface once (C++ base-subobject order);
///   2. each interface in that linearisation contributes its own Properties in
///      declaration order, and the interface itself comes last.
/// Consequently, along a chain of single inheritance (and for the first base
/// of multiple inheritance) the base's layout is a prefix of the derived
/// layout: an inherited property keeps its column number. Contents of
/// CompiledInterface follow the same order.
struct PropertyLayout {
    std::vector<PropertySlot> slots;
    /// Indices into `slots` sorted by name, so find() is O(log n). Built by
    /// ModelSet; when empty (a layout assembled by hand) find() scans linearly.
    std::vector<std::uint32_t> by_name;
    /// Slot of a property by name, or nullptr.
    [[nodiscard]] const PropertySlot* find(std::string_view name) const;
};

/// An interface with its inheritance resolved.
struct CompiledInterface {
    InterfaceIndex index = 0;
    const Interface* definition = nullptr;       ///< as written
    std::vector<InterfaceIndex> bases;           ///< direct, declaration order
    std::vector<InterfaceIndex> ancestors;       ///< all transitive bases, nearest first, no duplicates
    std::vector<const Content*> contents;        ///< own and inherited contents, unique names,
                                                 ///< in PropertyLayout's order (inherited first)
    std::vector<std::uint32_t> contents_by_name; ///< indices into `contents` sorted by name (see find)
    PropertyLayout layout;

    /// Content by name (own or inherited), or nullptr.
    [[nodiscard]] const Content* find(std::string_view name) const;
};

/// A problem found while checking a JSON value against a schema.
struct ValueError {
    std::string path;     ///< JSON Pointer inside the value, "" for the value itself
    std::string message;  ///< what is wrong and what was expected
};

/// The compiled model. Immutable once built; share it as shared_ptr<const ModelSet>.
class ModelSet {
public:
    /// Parses, validates and compiles the documents. Throws ModelError carrying
    /// every error and unresolved identifier when the set is invalid or incomplete.
    static std::shared_ptr<const ModelSet> compile(std::span<const Document> documents,
                                                   const ParseOptions& options = {});

    /// As compile(), reading files and folders first (see read_documents).
    /// Throws IoError for a missing or unreadable path, ModelError when invalid.
    static std::shared_ptr<const ModelSet> from_files(std::span<const std::filesystem::path> paths,
                                                      const ParseOptions& options = {});

    /// Compiles interfaces that the parser has already validated.
    /// Precondition: the set is valid and complete (ParseResult::valid()).
    /// A broken precondition that is cheap to detect (duplicate id, unknown base
    /// or component interface, inheritance cycle, two different inherited
    /// contents with one name) throws ModelError naming the interface rather
    /// than building an inconsistent set.
    static std::shared_ptr<const ModelSet> from_interfaces(std::vector<Interface> interfaces,
                                                           std::vector<Diagnostic> warnings = {});

    ModelSet(const ModelSet&) = delete;
    ModelSet& operator=(const ModelSet&) = delete;
    ~ModelSet();

    [[nodiscard]] std::size_t size() const noexcept { return compiled_.size(); }
    /// All interfaces, sorted by DTMI.
    [[nodiscard]] std::span<const CompiledInterface> interfaces() const noexcept { return compiled_; }
    [[nodiscard]] const CompiledInterface& at(InterfaceIndex i) const { return compiled_.at(i); }
    /// Index of an interface by DTMI, or nullopt.
    [[nodiscard]] std::optional<InterfaceIndex> find(std::string_view dtmi) const;
    /// Interface by DTMI. Throws twinsim::Error naming the id when unknown.
    [[nodiscard]] const CompiledInterface& get(std::string_view dtmi) const;

    /// True when `derived` is `base` or extends it, directly or not.
    /// Looks `base` up in the sorted ancestor indices of `derived` (itself
    /// included): with k ancestors, k < 16 (the usual case) costs one
    /// fixed-width, branch-free compare of 16 indices; otherwise a branch-free
    /// binary search does ceil(log2(k + 1)) + 1 comparisons. O(log k), and
    /// constant-bounded for a valid set: DTDL v3 allows at most 1024 `extends`
    /// values over a hierarchy (k <= 1024), DTDL v2 at most 2 per interface and
    /// 10 deep (k <= 2046); either way at most 12 comparisons within one
    /// contiguous span. Memory: one 4-byte index per (interface,
    /// ancestor-or-self) pair, plus 8 bytes per interface.
    [[nodiscard]] bool is_a(InterfaceIndex derived, InterfaceIndex base) const noexcept;
    /// By DTMI; false when either is unknown.
    [[nodiscard]] bool is_a(std::string_view derived, std::string_view base) const;

    /// Warnings (SHOULD/RECOMMENDED) found while parsing.
    [[nodiscard]] const std::vector<Diagnostic>& warnings() const noexcept { return warnings_; }

private:
    // Lets by_id_ be searched with a string_view without building a std::string.
    struct IdHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };

    ModelSet() = default;
    std::vector<Interface> definitions_;
    std::vector<CompiledInterface> compiled_;
    std::unordered_map<std::string, InterfaceIndex, IdHash, std::equal_to<>> by_id_;
    // is_a(): the sorted ancestors of interface i, itself included, are
    // is_a_ancestors_[is_a_offsets_[i] .. is_a_offsets_[i + 1]), followed at
    // the very end by is_a_scan_width - 1 entries of padding. Memory is
    // linear in the number of (interface, ancestor) pairs, not n squared.
    static constexpr std::size_t is_a_scan_width = 16;
    std::vector<std::size_t> is_a_offsets_;
    std::vector<InterfaceIndex> is_a_ancestors_;
    std::vector<Diagnostic> warnings_;
};

}  // namespace twinsim::dtdl
