// Turning validated elements into the public structs of elements.hpp.

#include <unordered_map>

#include "twinsim/dtdl/detail/model_graph.hpp"

namespace twinsim::dtdl::detail {
namespace {

class Builder {
public:
    explicit Builder(const ModelGraph& g) : g_(g) {}

    std::vector<Interface> run() {
        std::vector<Interface> out;
        for (std::size_t i = 0; i < g_.nodes.size(); ++i)
            if (g_.nodes[i].cls == Cls::Interface) out.push_back(interface(static_cast<int>(i)));
        return out;
    }

private:
    const ModelGraph& g_;
    std::unordered_map<int, SchemaPtr> schemas_;  // one object per schema element, shared by every reference

    const Node& node(int i) const { return g_.nodes[static_cast<std::size_t>(i)]; }

    static Annotations annotations(const Node& n) {
        Annotations a;
        a.id = n.id;
        a.display_name = n.display_name;
        a.description = n.description;
        a.comment = n.comment;
        a.extra_types = n.cotypes;
        a.unit = std::string(unit_term(n.unit));
        return a;
    }

    SchemaPtr schema_of(const std::vector<Ref>* refs) {
        if (refs == nullptr || refs->empty()) return nullptr;
        const Ref& r = refs->front();
        if (r.standard) {
            if (is_complex(*r.standard)) {
                // IoT Central "vector": an Object of x, y, z doubles.
                auto s = std::make_shared<Schema>();
                s->kind = SchemaKind::object;
                for (const char* f : {"x", "y", "z"}) s->fields.push_back(Field{f, primitive_schema(SchemaKind::double_), {}});
                return s;
            }
            return primitive_schema(*r.standard);
        }
        if (r.node < 0) return nullptr;
        return schema(r.node);
    }

    SchemaPtr schema(int i) {
        if (auto it = schemas_.find(i); it != schemas_.end()) return it->second;
        auto s = std::make_shared<Schema>();
        schemas_.emplace(i, s);  // before recursing, so a (reported) cycle terminates
        const Node& n = node(i);
        s->annotations = annotations(n);
        switch (n.cls) {
        case Cls::Array: s->kind = SchemaKind::array; s->element_schema = schema_of(n.find(Slot::element_schema)); break;
        case Cls::Map: {
            s->kind = SchemaKind::map;
            if (const auto* k = n.find(Slot::map_key); k && !k->empty() && k->front().node >= 0) {
                const Node& kn = node(k->front().node);
                s->map_key_name = kn.name;
                s->map_key_annotations = annotations(kn);
            }
            if (const auto* v = n.find(Slot::map_value); v && !v->empty() && v->front().node >= 0) {
                const Node& vn = node(v->front().node);
                s->map_value_name = vn.name;
                s->map_value_annotations = annotations(vn);
                s->map_value_schema = schema_of(vn.find(Slot::schema));
            }
            break;
        }
        case Cls::Object:
            s->kind = SchemaKind::object;
            if (const auto* f = n.find(Slot::fields))
                for (const auto& r : *f)
                    if (r.node >= 0) {
                        const Node& fn = node(r.node);
                        s->fields.push_back(Field{fn.name, schema_of(fn.find(Slot::schema)), annotations(fn)});
                    }
            break;
        case Cls::Enum:
            s->kind = SchemaKind::enum_;
            s->enum_value_schema = n.value_schema == "string" ? SchemaKind::string : SchemaKind::integer;
            if (const auto* vs = n.find(Slot::enum_values))
                for (const auto& r : *vs)
                    if (r.node >= 0) {
                        const Node& vn = node(r.node);
                        EnumValue ev{vn.name, 0, "", annotations(vn)};
                        if (const auto* lit = vn.enum_value) {
                            const auto* v = lit->is_object() && lit->contains("@value") ? &lit->at("@value") : lit;
                            if (v->is_number_integer()) ev.int_value = v->get<std::int64_t>();
                            else if (v->is_string()) ev.string_value = v->get<std::string>();
                        }
                        s->enum_values.push_back(std::move(ev));
                    }
            break;
        default: break;
        }
        return s;
    }

    std::optional<CommandPayload> payload(const std::vector<Ref>* refs) {
        if (refs == nullptr || refs->empty() || refs->front().node < 0) return std::nullopt;
        const Node& p = node(refs->front().node);
        return CommandPayload{p.name, schema_of(p.find(Slot::schema)), annotations(p)};
    }

    Content content(int i) {
        const Node& n = node(i);
        Content c;
        c.name = n.name;
        c.annotations = annotations(n);
        c.writable = n.writable.value_or(false);
        switch (n.cls) {
        case Cls::Property: c.kind = ContentKind::property; c.schema = schema_of(n.find(Slot::schema)); break;
        case Cls::Telemetry: c.kind = ContentKind::telemetry; c.schema = schema_of(n.find(Slot::schema)); break;
        case Cls::Command:
            c.kind = ContentKind::command;
            c.request = payload(n.find(Slot::request));
            c.response = payload(n.find(Slot::response));
            break;
        case Cls::Relationship:
            c.kind = ContentKind::relationship;
            c.target = n.target;
            c.min_multiplicity = n.min_multiplicity;
            c.max_multiplicity = n.max_multiplicity;
            if (const auto* ps = n.find(Slot::properties))
                for (const auto& r : *ps)
                    if (r.node >= 0) c.properties.push_back(content(r.node));
            break;
        case Cls::Component: {
            c.kind = ContentKind::component;
            if (const auto* s = n.find(Slot::schema); s && !s->empty() && s->front().node >= 0)
                c.component_interface = node(s->front().node).id;
            break;
        }
        default: break;
        }
        return c;
    }

    Interface interface(int i) {
        const Node& n = node(i);
        Interface out;
        out.id = n.id;
        out.version = n.version == 2 ? DtdlVersion::v2 : DtdlVersion::v3;
        out.file = g_.sources[static_cast<std::size_t>(n.doc)];
        out.annotations = annotations(n);
        out.contexts = n.contexts;
        if (out.contexts.empty()) {
            // inherits its structural ancestors' context
            for (int p = n.parent; p >= 0 && out.contexts.empty(); p = node(p).parent) out.contexts = node(p).contexts;
        }
        if (const auto* e = n.find(Slot::extends))
            for (const auto& r : *e)
                out.extends.push_back(r.node >= 0 ? node(r.node).id : r.id);
        if (const auto* cs = n.find(Slot::contents))
            for (const auto& r : *cs)
                if (r.node >= 0) out.contents.push_back(content(r.node));
        if (const auto* ss = n.find(Slot::schemas))
            for (const auto& r : *ss)
                if (r.node >= 0) out.schemas.push_back(schema(r.node));
        return out;
    }
};

}  // namespace

std::vector<Interface> build_interfaces(const ModelGraph& graph) { return Builder(graph).run(); }

}  // namespace twinsim::dtdl::detail
