#include "twinsim/graph/detail/json_patch.hpp"

#include <charconv>

#include "twinsim/common/json_depth.hpp"
#include "twinsim/common/json_pointer.hpp"

namespace twinsim::graph::detail {

using nlohmann::json;

namespace {

std::string where(std::size_t i, const std::string& path) {
    std::string s = "operation ";
    s += std::to_string(i);
    s += " (";
    s += path.empty() ? std::string("\"\"") : path;
    s += ")";
    return s;
}

// An array index token: digits without a leading zero, < size (or <= size when inserting).
std::optional<std::size_t> array_index(const std::string& token, std::size_t size, bool inserting) {
    if (inserting && token == "-") return size;
    if (token.empty() || (token.size() > 1 && token[0] == '0')) return std::nullopt;
    std::size_t v = 0;
    const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
    if (ec != std::errc() || ptr != token.data() + token.size()) return std::nullopt;
    if (inserting ? v > size : v >= size) return std::nullopt;
    return v;
}

}  // namespace

std::vector<PatchOp> parse_patch(const json& patch) {
    if (!patch.is_array()) throw PatchError("a JSON Patch must be an array of operations");
    std::vector<PatchOp> ops;
    ops.reserve(patch.size());
    for (std::size_t i = 0; i < patch.size(); ++i) {
        const json& o = patch[i];
        const std::string at = "operation " + std::to_string(i);
        if (!o.is_object()) throw PatchError(at + ": expected an object {\"op\", \"path\", \"value\"}");
        // Looked up in the object itself: GCC's -Wnull-dereference cannot see
        // through nlohmann's iterator here.
        const auto& members = o.get_ref<const json::object_t&>();
        auto op = members.find("op");
        auto path = members.find("path");
        if (op == members.end() || !op->second.is_string()) throw PatchError(at + ": \"op\" is missing or not a string");
        if (path == members.end() || !path->second.is_string())
            throw PatchError(at + ": \"path\" is missing or not a string");
        PatchOp p;
        p.path = path->second.get<std::string>();
        const std::string& name = op->second.get_ref<const std::string&>();
        if (name == "add") p.kind = PatchOp::Kind::add;
        else if (name == "replace") p.kind = PatchOp::Kind::replace;
        else if (name == "remove") p.kind = PatchOp::Kind::remove;
        else throw PatchError(where(i, p.path) + ": op \"" + name + "\" is not supported (add, replace, remove)");
        auto tokens = split_pointer(p.path);
        if (!tokens) throw PatchError(where(i, p.path) + ": malformed JSON Pointer");
        p.tokens = std::move(*tokens);
        if (p.kind != PatchOp::Kind::remove) {
            auto v = members.find("value");
            if (v == members.end()) throw PatchError(where(i, p.path) + ": \"value\" is missing");
            if (json_deeper_than(v->second)) throw PatchError(where(i, p.path) + ": \"value\" " + json_depth_reason());
            p.value = v->second;
        }
        ops.push_back(std::move(p));
    }
    return ops;
}

void apply_patch(json& doc, const std::vector<PatchOp>& ops) {
    for (std::size_t i = 0; i < ops.size(); ++i) {
        const PatchOp& op = ops[i];
        if (op.tokens.empty()) {
            if (op.kind == PatchOp::Kind::remove) throw PatchError(where(i, op.path) + ": cannot remove the whole document");
            doc = op.value;
            continue;
        }
        // Walk to the parent.
        json* parent = &doc;
        for (std::size_t k = 0; k + 1 < op.tokens.size(); ++k) {
            const std::string& t = op.tokens[k];
            if (parent->is_object()) {
                auto it = parent->find(t);
                if (it == parent->end())
                    throw PatchError(where(i, op.path) + ": \"" + t + "\" does not exist (add the enclosing value first)");
                parent = &*it;
            } else if (parent->is_array()) {
                auto idx = array_index(t, parent->size(), false);
                if (!idx) throw PatchError(where(i, op.path) + ": \"" + t + "\" is not an index of the array");
                parent = &(*parent)[*idx];
            } else {
                throw PatchError(where(i, op.path) + ": \"" + t + "\" is inside a value that is not an object or array");
            }
        }
        const std::string& last = op.tokens.back();
        if (parent->is_object()) {
            auto it = parent->find(last);
            switch (op.kind) {
            case PatchOp::Kind::add: (*parent)[last] = op.value; break;
            case PatchOp::Kind::replace:
                if (it == parent->end()) throw PatchError(where(i, op.path) + ": nothing to replace (use add)");
                *it = op.value;
                break;
            case PatchOp::Kind::remove:
                if (it == parent->end()) throw PatchError(where(i, op.path) + ": nothing to remove");
                parent->erase(it);
                break;
            }
        } else if (parent->is_array()) {
            auto idx = array_index(last, parent->size(), op.kind == PatchOp::Kind::add);
            if (!idx) throw PatchError(where(i, op.path) + ": \"" + last + "\" is not a valid index of the array");
            const auto pos = static_cast<std::ptrdiff_t>(*idx);
            switch (op.kind) {
            case PatchOp::Kind::add: parent->insert(parent->begin() + pos, op.value); break;
            case PatchOp::Kind::replace: (*parent)[*idx] = op.value; break;
            case PatchOp::Kind::remove: parent->erase(*idx); break;
            }
        } else {
            throw PatchError(where(i, op.path) + ": the parent is not an object or array");
        }
    }
}

json diff_members(const json& before, const json& after, const std::string& prefix) {
    json patch = json::array();
    for (auto it = after.begin(); it != after.end(); ++it) {
        std::string path = prefix;
        append_pointer_token(path, it.key());
        auto b = before.find(it.key());
        if (b == before.end()) patch.push_back({{"op", "add"}, {"path", path}, {"value", it.value()}});
        else if (*b != it.value()) patch.push_back({{"op", "replace"}, {"path", path}, {"value", it.value()}});
    }
    for (auto it = before.begin(); it != before.end(); ++it) {
        if (!after.contains(it.key())) {
            std::string path = prefix;
            append_pointer_token(path, it.key());
            patch.push_back({{"op", "remove"}, {"path", path}});
        }
    }
    return patch;
}

}  // namespace twinsim::graph::detail
