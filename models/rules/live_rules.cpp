// The live rules engine (live_rules.hpp): rule sets read with the same reader
// as the scenario behaviour (rule_set.hpp), evaluated on a worker thread on
// the snapshot each committed batch left behind.
#include "models/rules/live_rules.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "models/rules/rule_set.hpp"
#include "twinsim/common/excerpt.hpp"
#include "twinsim/query/expression.hpp"
#include "twinsim/query/parser.hpp"
#include "twinsim/scenario/behaviour.hpp"
#include "twinsim/scenario/detail/document.hpp"
#include "twinsim/scenario/errors.hpp"

namespace twinsim::models {

using nlohmann::json;
using rules::Rule;

const char* to_string(RuleClock clock) noexcept { return clock == RuleClock::wall ? "wall" : "source"; }

namespace {

/// Evaluation rounds (a batch and the firings it causes, and theirs...)
/// before the engine gives up on a chain of rules that never settles.
constexpr std::uint32_t max_rounds = 1000;
constexpr std::size_t max_firings_kept = 100'000;

// --- reading a rule file ---------------------------------------------------------

/// A parsed rule file: {clock, groups: [{where, rules}]}, with lines.
struct ParsedFile {
    json document;                 ///< normalised: {"clock": ..., "groups": [...]}
    bool list_form = false;        ///< the file was a bare list of groups
    scenario::detail::LineMap lines;
    std::string source;
};

std::string json_pointer_of(const std::string& path) {
    // "groups[0].rules[2].then[1].set.x" -> "/groups/0/rules/2/then/1/set/x"
    std::string out;
    for (char c : path) {
        if (c == '[' || c == '.') {
            out += '/';
        } else if (c != ']') {
            out += c;
        }
    }
    return "/" + out;
}

[[noreturn]] void refuse(const ParsedFile& f, const std::string& field, const std::string& reason) {
    std::string pointer = json_pointer_of(field);
    if (f.list_form && pointer.rfind("/groups", 0) == 0) pointer = pointer.substr(7);
    std::uint32_t line = 0;
    while (!pointer.empty()) {
        if (const auto it = f.lines.find(pointer); it != f.lines.end()) {
            line = it->second;
            break;
        }
        pointer.erase(pointer.rfind('/'));
    }
    std::string where = f.source;
    if (line > 0) where += ":" + std::to_string(line);
    throw RuleFileError(where + ": " + field + ": " + reason);
}

ParsedFile parse_document(const json& doc, std::string source, scenario::detail::LineMap lines) {
    ParsedFile f;
    f.source = std::move(source);
    f.lines = std::move(lines);
    if (doc.is_array()) {
        f.list_form = true;
        f.document = {{"groups", doc}};
    } else if (doc.is_object()) {
        for (const auto& [k, v] : doc.items()) {
            (void)v;
            if (k != "clock" && k != "groups")
                refuse(f, k, "unknown key (a rule file is a list of groups, or a mapping with `clock` and `groups`)");
        }
        if (!doc.contains("groups")) refuse(f, "groups", "required: the list of {where, rules} groups");
        f.document = doc;
    } else {
        throw RuleFileError(f.source + ": expected a list of {where, rules} groups (or a mapping with `clock` and "
                                       "`groups`), found " + doc.dump());
    }
    if (f.document.contains("clock")) {
        const json& c = f.document["clock"];
        if (!c.is_string() || (c != "source" && c != "wall"))
            refuse(f, "clock", "expected \"source\" (the updates' sourceTime) or \"wall\" (the machine's clock), found " +
                                   c.dump());
    }
    const json& groups = f.document["groups"];
    if (!groups.is_array() || groups.empty()) refuse(f, "groups", "expected a non-empty list of {where, rules} groups");
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const std::string p = "groups[" + std::to_string(i) + "]";
        const json& g = groups[i];
        if (!g.is_object()) refuse(f, p, "expected a group {where, rules}, found " + g.dump());
        for (const auto& [k, v] : g.items()) {
            (void)v;
            if (k != "where" && k != "rules") refuse(f, p + "." + k, "unknown key (a group takes: where, rules)");
        }
        if (g.contains("where") && (!g["where"].is_string() || g["where"].get_ref<const std::string&>().empty()))
            refuse(f, p + ".where", "expected an expression choosing the group's twins, found " + g["where"].dump());
        if (!g.contains("rules")) refuse(f, p + ".rules", "required: the group's list of rules");
    }
    return f;
}

ParsedFile parse_text(std::string_view text, const std::string& source) {
    if (text.size() > max_rule_file_bytes)
        throw RuleFileError(source + ": a rule file is at most 16 MiB (max_rule_file_bytes); this one has " +
                            std::to_string(text.size()) + " bytes");
    // Rule files are UTF-8 text: refused here, with the place, rather than deep in a JSON dump.
    if (const std::size_t bad = invalid_utf8_at(text); bad != std::string_view::npos) {
        const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
        throw RuleFileError(source + ":" + std::to_string(line) + ": not UTF-8 text (invalid byte at offset " +
                            std::to_string(bad) + ")");
    }
    try {
        const bool yaml = !(source.ends_with(".json") || source.ends_with(".JSON"));
        scenario::detail::Document d = yaml ? scenario::detail::parse_yaml_document(text, source)
                                            : scenario::detail::parse_json_document(text, source);
        // The text is UTF-8, but an escape in it (YAML's \x94, say) can still decode to a byte
        // that is not: refused here rather than thrown from deep inside a JSON dump.
        std::string dumped;
        try {
            dumped = d.json.dump();
        } catch (const nlohmann::json::exception&) {
            throw RuleFileError(source + ": a string in the rule file is not UTF-8 once its escapes are decoded");
        }
        return parse_document(json::parse(dumped), source, std::move(d.lines));
    } catch (const scenario::ScenarioError& e) {
        throw RuleFileError(e.what());
    }
}

std::string read_file(const std::filesystem::path& file) {
    std::error_code ec;
    if (const std::uintmax_t size = std::filesystem::file_size(file, ec); !ec && size > max_rule_file_bytes)
        throw RuleFileError(file.string() + ": a rule file is at most 16 MiB (max_rule_file_bytes); this one has " +
                            std::to_string(size) + " bytes");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw IoError("cannot read the rule file " + file.string() + ": it does not exist or is not readable");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// --- groups --------------------------------------------------------------------

struct CondState {
    bool holds = false;
    Timestamp since;
    std::uint64_t episode = 0;
};

struct Item {
    std::uint32_t rule;
    std::uint32_t position;
    bool operator<(const Item& o) const noexcept { return rule != o.rule ? rule < o.rule : position < o.position; }
};

std::uint64_t key(graph::TwinIndex t, std::uint32_t column) { return (std::uint64_t{t} << 32) | column; }

/// One {where, rules} group, built on a snapshot.
struct Group {
    std::string path;  ///< "groups[0]"
    std::optional<query::CompiledExpression> where;
    json rules_json;
    bool active = false;
    std::vector<Rule> rules;
    std::vector<graph::TwinIndex> twins;
    std::vector<std::string> ids;
    std::unordered_map<std::string, std::uint32_t> position;  ///< twin id -> position
    std::vector<std::vector<CondState>> states;                ///< condition rules: per twin position
    std::vector<std::unordered_map<std::string, std::optional<double>>> last_written;  ///< propagation: per target id
    std::vector<std::vector<std::set<std::string>>> sources;   ///< propagation: per target, its related twins' ids
    std::unordered_map<std::uint64_t, std::vector<Item>> watches;
    std::vector<std::vector<std::uint8_t>> flags;
    std::vector<Item> dirty;

    void mark(Item i) {
        std::uint8_t& f = flags[i.rule][i.position];
        if (f != 0) return;
        f = 1;
        dirty.push_back(i);
    }
};

std::vector<graph::TwinIndex> select_twins(const std::optional<query::CompiledExpression>& where, const graph::Snapshot& g) {
    std::vector<graph::TwinIndex> all = g.twins();
    if (!where) return all;
    query::Evaluator ev(*where, g);
    std::vector<graph::TwinIndex> out;
    for (const graph::TwinIndex t : all) {
        const std::array<std::uint32_t, 1> row{t};
        if (ev.matches(row)) out.push_back(t);
    }
    return out;
}

/// Builds (or rebuilds) `group` on `g`; keeps the state of twins that stay.
/// Returns the items whose inputs are new (new twins, changed related twins).
/// Throws scenario::ModelParameterError when the rules no longer check.
void build_group(Group& group, const graph::Snapshot& g) {
    std::vector<graph::TwinIndex> twins = select_twins(group.where, g);
    std::vector<Rule> rules = rules::read_rules(group.rules_json, g, twins, {.resolved = true, .live = true});
    Group next;
    next.path = group.path;
    next.where = group.where;
    next.rules_json = group.rules_json;
    next.active = true;
    next.twins = std::move(twins);
    for (const graph::TwinIndex t : next.twins) {
        next.position.emplace(g.twin_id(t), static_cast<std::uint32_t>(next.ids.size()));
        next.ids.push_back(g.twin_id(t));
    }
    next.rules = std::move(rules);
    const std::size_t n = next.rules.size();
    next.states.resize(n);
    next.last_written.resize(n);
    next.sources.resize(n);
    next.flags.resize(n);
    const bool had = group.active && group.rules.size() == n;
    auto watch_names = [&](graph::TwinIndex twin, const std::vector<std::string>& names, std::uint32_t r, std::uint32_t k) {
        const auto& layout = g.models()->at(g.twin_model(twin)).layout;
        for (const std::string& name : names)
            if (const dtdl::PropertySlot* slot = layout.find(name)) {
                auto& items = next.watches[key(twin, slot->column)];
                if (items.empty() || items.back().rule != r || items.back().position != k) items.push_back({r, k});
            }
    };
    for (std::uint32_t r = 0; r < n; ++r) {
        const Rule& rule = next.rules[r];
        if (!rule.propagation) {
            next.states[r].resize(next.twins.size());
            next.flags[r].assign(next.twins.size(), 0);
            const auto names = rule.when.twin_property_names();
            for (std::uint32_t k = 0; k < next.twins.size(); ++k) {
                watch_names(next.twins[k], names, r, k);
                bool known = false;
                if (had) {
                    if (const auto it = group.position.find(next.ids[k]); it != group.position.end()) {
                        next.states[r][k] = group.states[r][it->second];
                        known = true;
                    }
                }
                if (!known) next.mark({r, k});
            }
            continue;
        }
        next.flags[r].assign(rule.targets.size(), 0);
        next.sources[r].resize(rule.targets.size());
        if (had) next.last_written[r] = group.last_written[r];
        const auto where_names = rule.where ? rule.where->twin_property_names() : std::vector<std::string>{};
        std::map<std::string, const std::set<std::string>*> before;
        if (had)
            for (std::size_t k = 0; k < group.rules[r].targets.size(); ++k)
                before.emplace(group.rules[r].targets[k].id, &group.sources[r][k]);
        for (std::uint32_t k = 0; k < rule.targets.size(); ++k) {
            const rules::Target& tg = rule.targets[k];
            for (const rules::Source& s : tg.sources) {
                next.sources[r][k].insert(g.twin_id(s.twin));
                if (s.column) {
                    auto& items = next.watches[key(s.twin, *s.column)];
                    if (items.empty() || items.back().rule != r || items.back().position != k) items.push_back({r, k});
                }
                watch_names(s.twin, where_names, r, k);
            }
            const auto it = before.find(tg.id);
            if (it == before.end() || *it->second != next.sources[r][k]) next.mark({r, k});
        }
    }
    group = std::move(next);
}

struct RuleSet {
    std::string id;
    std::string source;
    RuleClock clock = RuleClock::source;
    json definition;  ///< {"clock", "groups"}
    std::vector<Group> groups;
    bool started = false;
};

/// Reads and checks a parsed file on `g`: the groups, built (throws RuleFileError).
std::vector<Group> check_groups(const ParsedFile& f, const graph::Snapshot& g) {
    std::vector<Group> out;
    const json& groups = f.document["groups"];
    for (std::size_t i = 0; i < groups.size(); ++i) {
        Group grp;
        grp.path = "groups[" + std::to_string(i) + "]";
        const json& j = groups[i];
        if (j.contains("where")) {
            try {
                grp.where = query::compile_expression(j["where"].get<std::string>());
            } catch (const query::QueryError& e) {
                refuse(f, grp.path + ".where", std::string("invalid expression: ") + e.what());
            }
            for (const std::string& w : grp.where->unknown_names(*g.models())) refuse(f, grp.path + ".where", w);
        }
        grp.rules_json = j["rules"];
        try {
            build_group(grp, g);
        } catch (const scenario::ModelParameterError& e) {
            const std::string& field = e.parameter();
            std::string reason = e.what();
            if (reason.rfind(field + ": ", 0) == 0) reason = reason.substr(field.size() + 2);
            // Name the rule as well as the field.
            std::string rule_name;
            const json& list = grp.rules_json;
            if (field.rfind("rules[", 0) == 0 && list.is_array()) {
                const std::size_t k = std::stoul(field.substr(6));
                if (k < list.size() && list[k].is_object() && list[k].contains("name") && list[k]["name"].is_string())
                    rule_name = list[k]["name"].get<std::string>();
            }
            refuse(f, grp.path + "." + field, (rule_name.empty() ? "" : "rule \"" + rule_name + "\": ") + reason);
        }
        out.push_back(std::move(grp));
    }
    return out;
}

std::vector<std::string> rule_names(const json& definition) {
    std::vector<std::string> out;
    for (const json& g : definition["groups"])
        for (const json& r : g["rules"])
            if (r.is_object() && r.contains("name") && r["name"].is_string()) out.push_back(r["name"].get<std::string>());
    return out;
}

LiveRuleSetInfo info_of(const RuleSet& s) {
    return {s.id, s.source, s.clock, rule_names(s.definition), s.definition.dump()};
}

std::filesystem::path rules_dir(const std::filesystem::path& directory) { return directory / "rules"; }

/// The kept rule sets of a directory, ordered by their number.
std::vector<std::pair<std::uint64_t, std::filesystem::path>> kept_files(const std::filesystem::path& directory) {
    std::vector<std::pair<std::uint64_t, std::filesystem::path>> out;
    std::error_code ec;
    if (!std::filesystem::is_directory(rules_dir(directory), ec)) return out;
    for (const auto& e : std::filesystem::directory_iterator(rules_dir(directory), ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("rules-", 0) != 0 || !name.ends_with(".json")) continue;
        try {
            out.emplace_back(std::stoull(name.substr(6, name.size() - 11)), e.path());
        } catch (const std::exception&) {
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::uint64_t next_number(const std::filesystem::path& directory) {
    const auto files = kept_files(directory);
    return files.empty() ? 1 : files.back().first + 1;
}

void write_kept(const std::filesystem::path& directory, const RuleSet& s) {
    std::error_code ec;
    std::filesystem::create_directories(rules_dir(directory), ec);
    const std::filesystem::path file = rules_dir(directory) / (s.id + ".json");
    const std::filesystem::path tmp = file.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << json{{"id", s.id}, {"source", s.source}, {"clock", to_string(s.clock)}, {"groups", s.definition["groups"]}}
                   .dump(2)
            << '\n';
        if (!out) throw IoError("cannot write the rule set " + file.string() + " (disk full or not writable?)");
    }
    std::filesystem::rename(tmp, file, ec);
    if (ec) throw IoError("cannot write the rule set " + file.string() + ": " + ec.message());
}

/// The max sourceTime a patch of an update sets, per twin and overall.
struct BatchTimes {
    std::unordered_map<std::string, Timestamp> twin;
    std::optional<Timestamp> max;
};

BatchTimes batch_times(std::span<const graph::ChangeEvent> events) {
    BatchTimes out;
    for (const graph::ChangeEvent& e : events) {
        std::optional<Timestamp> t;
        if (e.type == graph::ChangeType::twin_update && e.data.contains("patch")) {
            for (const json& op : e.data["patch"]) {
                const auto p = op.find("path");
                const auto v = op.find("value");
                if (p == op.end() || v == op.end() || !p->is_string() || !v->is_string()) continue;
                const std::string& path = p->get_ref<const std::string&>();
                if (path.rfind("/$metadata/", 0) != 0 || !path.ends_with("/sourceTime")) continue;
                if (const auto ts = parse_timestamp(v->get_ref<const std::string&>()); ts && (!t || *ts > *t)) t = ts;
            }
        }
        if (!t) t = e.time;
        auto& slot = out.twin[e.twin_id];
        slot = std::max(slot, *t);
        if (!out.max || *t > *out.max) out.max = t;
    }
    return out;
}

std::string unescape(std::string token) {
    std::string out;
    for (std::size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '~' && i + 1 < token.size()) {
            out += token[i + 1] == '1' ? '/' : '~';
            ++i;
        } else {
            out += token[i];
        }
    }
    return out;
}

}  // namespace

// --- the engine --------------------------------------------------------------------

struct LiveRules::Impl {
    struct Job {
        enum class Kind : std::uint8_t { batch, add, remove } kind = Kind::batch;
        std::vector<graph::ChangeEvent> events;
        graph::Snapshot after;
        std::shared_ptr<RuleSet> set;
        std::string id;
    };
    /// What the batch listener shares with the engine; outlives it if a
    /// writer is still inside the listener when the engine goes.
    struct Inbox {
        std::mutex mutex;
        std::condition_variable changed;
        std::deque<Job> queue;
        std::size_t capacity = 1024;
        std::uint64_t enqueued = 0;
        std::uint64_t done = 0;
        bool closed = false;
        std::thread::id worker;
        std::vector<Job> own;  ///< batches committed by the worker itself (its firings)
        std::uint64_t high_water = 0;
    };
    struct Deadline {
        Timestamp due;
        std::string set;
        std::size_t group = 0;
        std::uint32_t rule = 0;
        std::string twin;
        std::uint64_t episode = 0;
        bool operator<(const Deadline& o) const {
            return std::tie(due.ns, set, group, rule, twin, episode) <
                   std::tie(o.due.ns, o.set, o.group, o.rule, o.twin, o.episode);
        }
    };

    graph::TwinGraph& graph;
    LiveRulesOptions options;
    std::shared_ptr<Inbox> inbox = std::make_shared<Inbox>();
    graph::TwinGraph::ListenerId listener = 0;

    // registry (callers' side)
    mutable std::mutex registry_mutex;
    std::vector<LiveRuleSetInfo> registry;
    std::uint64_t next_id = 1;

    // worker's side
    std::vector<std::shared_ptr<RuleSet>> sets;
    std::set<Deadline> source_deadlines;
    std::set<Deadline> wall_deadlines;
    std::optional<graph::Snapshot> last_snapshot;
    Timestamp source_clock{};

    mutable std::mutex stats_mutex;
    LiveRulesStatistics stats;
    std::deque<LiveFiring> firings;
    std::ofstream dead_letter;

    std::thread worker;

    Impl(graph::TwinGraph& g, LiveRulesOptions o) : graph(g), options(std::move(o)) {
        if (options.queue_capacity == 0) throw UsageError("LiveRules: queue_capacity must be at least 1");
        inbox->capacity = options.queue_capacity;
    }

    // --- the batch listener (writers' threads) -------------------------------
    static void deliver(const std::shared_ptr<Inbox>& box, std::span<const graph::ChangeEvent> events,
                        const graph::Snapshot& after) {
        Job job;
        job.events.assign(events.begin(), events.end());
        job.after = after;
        std::unique_lock lock(box->mutex);
        if (box->closed) return;
        if (std::this_thread::get_id() == box->worker) {
            box->own.push_back(std::move(job));
            return;
        }
        box->changed.wait(lock, [&] { return box->closed || box->queue.size() < box->capacity; });
        if (box->closed) return;
        box->queue.push_back(std::move(job));
        ++box->enqueued;
        box->high_water = std::max<std::uint64_t>(box->high_water, box->queue.size());
        box->changed.notify_all();
    }

    void enqueue(Job job) {
        std::lock_guard lock(inbox->mutex);
        inbox->queue.push_back(std::move(job));
        ++inbox->enqueued;
        inbox->changed.notify_all();
    }

    // --- the worker --------------------------------------------------------------
    void run() {
        std::unique_lock lock(inbox->mutex);
        for (;;) {
            if (inbox->closed) return;
            if (!inbox->queue.empty()) {
                Job job = std::move(inbox->queue.front());
                inbox->queue.pop_front();
                inbox->changed.notify_all();  // a blocked writer may go on
                lock.unlock();
                handle(std::move(job));
                lock.lock();
                ++inbox->done;
                inbox->changed.notify_all();
                continue;
            }
            if (!wall_deadlines.empty()) {
                const Timestamp due = wall_deadlines.begin()->due;
                const auto tp = std::chrono::system_clock::time_point(
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(due.ns)));
                if (std::chrono::system_clock::now() >= tp) {
                    lock.unlock();
                    fire_wall_due();
                    lock.lock();
                    continue;
                }
                inbox->changed.wait_until(lock, tp);
            } else {
                inbox->changed.wait(lock);
            }
        }
    }

    void handle(Job job) {
        std::uint32_t rounds = 0;
        process(job, false);
        for (;;) {
            std::vector<Job> own;
            {
                std::lock_guard lock(inbox->mutex);
                own = std::move(inbox->own);
                inbox->own.clear();
            }
            if (own.empty()) break;
            if (++rounds > max_rounds) {
                fail_record("", "", "", own.front().events.empty() ? 0 : own.front().events.back().sequence,
                            "the rules did not settle after " + std::to_string(max_rounds) +
                                " rounds of firings (rules that keep re-triggering each other?)");
                break;
            }
            for (Job& j : own) process(j, true);
        }
    }

    /// `own`: a batch of the engine's own firings.
    void process(Job& job, bool own) {
        switch (job.kind) {
        case Job::Kind::add: return start_set(job);
        case Job::Kind::remove:
            std::erase_if(sets, [&](const std::shared_ptr<RuleSet>& s) { return s->id == job.id; });
            return;
        case Job::Kind::batch: break;
        }
        {
            std::lock_guard lock(stats_mutex);
            ++stats.batches;
        }
        const graph::Snapshot& snap = job.after;
        const BatchTimes times = batch_times(job.events);
        const std::uint64_t trigger = job.events.empty() ? 0 : job.events.back().sequence;
        // `for` deadlines the batch's source time reaches fire first, on the
        // state before the batch (the condition held until this update).
        if (times.max) fire_source_due(*times.max, trigger);
        bool structural = false;
        for (const graph::ChangeEvent& e : job.events) {
            if (e.type != graph::ChangeType::twin_update) structural = true;
            else if (e.data.contains("patch"))
                for (const json& op : e.data["patch"])
                    if (op.value("path", std::string()) == "/$metadata/$model") structural = true;
        }
        std::vector<std::tuple<RuleSet*, std::size_t, Item>> fire_now;
        std::vector<std::tuple<RuleSet*, std::size_t, std::uint32_t, std::vector<std::uint32_t>>> propagate_now;
        for (const auto& set : sets) {
            for (std::size_t gi = 0; gi < set->groups.size(); ++gi) {
                Group& grp = set->groups[gi];
                if (structural) {
                    try {
                        build_group(grp, snap);
                    } catch (const std::exception& x) {
                        grp.active = false;
                        fail_record(set->id, grp.path, "", trigger,
                                    std::string("the group no longer checks against the graph: ") + x.what());
                        continue;
                    }
                }
                if (!grp.active) continue;  // until a structural change makes it check again
                mark_changes(grp, snap, job.events);
                evaluate(*set, gi, snap, times, trigger, fire_now, propagate_now);
            }
        }
        // The state `for` deadlines fire on: what the last update from the
        // writers left (a firing's batch may already hold later updates).
        if (!own) last_snapshot = snap;
        if (times.max && *times.max > source_clock) source_clock = *times.max;
        commit_firings(snap, times, trigger, fire_now, propagate_now);
    }

    void mark_changes(Group& grp, const graph::Snapshot& snap, std::span<const graph::ChangeEvent> events) {
        for (const graph::ChangeEvent& e : events) {
            if (e.type != graph::ChangeType::twin_update || !e.data.contains("patch")) continue;
            const auto t = snap.find(e.twin_id);
            if (!t) continue;
            const auto& layout = snap.models()->at(snap.twin_model(*t)).layout;
            for (const json& op : e.data["patch"]) {
                const std::string path = op.value("path", std::string());
                if (path.size() < 2 || path[0] != '/') continue;
                const std::size_t slash = path.find('/', 1);
                const std::string name = unescape(path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1));
                if (name.empty() || name[0] == '$') continue;
                const dtdl::PropertySlot* slot = layout.find(name);
                if (slot == nullptr) continue;
                const auto it = grp.watches.find(key(*t, slot->column));
                if (it == grp.watches.end()) continue;
                for (const Item& item : it->second) grp.mark(item);
            }
        }
    }

    Timestamp holding_since(const RuleSet& set, const BatchTimes& times, const std::string& twin) const {
        if (set.clock == RuleClock::wall) return utc_now();
        if (const auto it = times.twin.find(twin); it != times.twin.end()) return it->second;
        if (times.max) return *times.max;
        return source_clock;  // rules just added: the newest source time seen (0: none yet)
    }

    void evaluate(RuleSet& set, std::size_t gi, const graph::Snapshot& snap, const BatchTimes& times, std::uint64_t trigger,
                  std::vector<std::tuple<RuleSet*, std::size_t, Item>>& fire_now,
                  std::vector<std::tuple<RuleSet*, std::size_t, std::uint32_t, std::vector<std::uint32_t>>>& propagate_now) {
        Group& grp = set.groups[gi];
        std::vector<Item> items = std::move(grp.dirty);
        grp.dirty.clear();
        for (const Item& i : items) grp.flags[i.rule][i.position] = 0;
        std::sort(items.begin(), items.end());
        std::uint64_t evaluations = 0, recomputations = 0;
        for (std::size_t first = 0; first < items.size();) {
            const std::uint32_t r = items[first].rule;
            std::size_t last = first;
            while (last < items.size() && items[last].rule == r) ++last;
            const Rule& rule = grp.rules[r];
            if (rule.propagation) {
                std::vector<std::uint32_t> targets;
                for (std::size_t k = first; k < last; ++k) targets.push_back(items[k].position);
                recomputations += targets.size();
                propagate_now.emplace_back(&set, gi, r, std::move(targets));
                first = last;
                continue;
            }
            query::Evaluator ev(rule.when, snap);
            for (std::size_t k = first; k < last; ++k) {
                const Item& item = items[k];
                ++evaluations;
                const std::array<std::uint32_t, 1> row{grp.twins[item.position]};
                const bool holds = ev.test(row) == query::Truth::true_;
                CondState& st = grp.states[r][item.position];
                if (holds == st.holds) continue;
                st.holds = holds;
                ++st.episode;
                if (!holds) continue;  // a pending deadline of the episode is void now
                st.since = holding_since(set, times, grp.ids[item.position]);
                if (rule.for_s && *rule.for_s > 0.0) {
                    Deadline d{Timestamp{st.since.ns + static_cast<std::int64_t>(*rule.for_s * 1e9)}, set.id, gi, r,
                               grp.ids[item.position], st.episode};
                    (set.clock == RuleClock::wall ? wall_deadlines : source_deadlines).insert(std::move(d));
                } else {
                    fire_now.emplace_back(&set, gi, item);
                }
            }
            first = last;
        }
        (void)trigger;
        std::lock_guard lock(stats_mutex);
        stats.evaluations += evaluations;
        stats.recomputations += recomputations;
    }

    void commit_firings(const graph::Snapshot& snap, const BatchTimes& times, std::uint64_t trigger,
                        const std::vector<std::tuple<RuleSet*, std::size_t, Item>>& fire_now,
                        const std::vector<std::tuple<RuleSet*, std::size_t, std::uint32_t, std::vector<std::uint32_t>>>&
                            propagate_now) {
        // Propagations first (in rule order), then condition rules, as a scenario pass does.
        for (const auto& [set, gi, r, targets] : propagate_now) propagate(*set, gi, r, targets, snap, times, trigger);
        for (const auto& [set, gi, item] : fire_now) {
            const Group& grp = set->groups[gi];
            fire(*set, grp.rules[item.rule], grp.twins[item.position], grp.ids[item.position], snap,
                 holding_since(*set, times, grp.ids[item.position]), trigger);
        }
    }

    void propagate(RuleSet& set, std::size_t gi, std::uint32_t r, const std::vector<std::uint32_t>& targets,
                   const graph::Snapshot& snap, const BatchTimes& times, std::uint64_t trigger) {
        Group& grp = set.groups[gi];
        const Rule& rule = grp.rules[r];
        std::optional<query::Evaluator> where;
        if (rule.where) where.emplace(*rule.where, snap);
        for (const std::uint32_t k : targets) {
            const rules::Target& tg = rule.targets[k];
            const std::optional<double> v = rules::target_value(rule, tg, snap, where ? &*where : nullptr);
            auto& last = grp.last_written[r];
            const auto known = last.find(tg.id);
            const std::optional<double> current = known != last.end() ? known->second : snap.numeric_value(tg.twin, tg.column);
            if (v == current) continue;
            json patch = json::array();
            if (v) {
                json value;
                switch (tg.type) {
                case dtdl::ColumnType::int64: value = static_cast<std::int64_t>(*v); break;
                case dtdl::ColumnType::boolean: value = *v != 0.0; break;
                default: value = *v; break;
                }
                patch.push_back({{"op", "add"}, {"path", "/" + rule.target_property}, {"value", std::move(value)}});
            } else {
                patch.push_back({{"op", "remove"}, {"path", "/" + rule.target_property}});
            }
            const Timestamp at = set.clock == RuleClock::wall ? utc_now() : (times.max ? *times.max : source_clock);
            last[tg.id] = v;
            commit(set, rule, tg.id, std::move(patch), {}, at, trigger);
        }
    }

    /// A firing's writes: (twin id, JSON Patch), the rule's own twin first.
    using Writes = std::vector<std::pair<std::string, json>>;

    static json& patch_of(Writes& writes, const std::string& twin) {
        for (auto& [id, patch] : writes)
            if (id == twin) return patch;
        return writes.emplace_back(twin, json::array()).second;
    }

    void fire(RuleSet& set, const Rule& rule, graph::TwinIndex twin, const std::string& id, const graph::Snapshot& snap,
              Timestamp at, std::uint64_t trigger) {
        Writes writes;
        writes.emplace_back(id, json::array());
        std::vector<std::string> alarms;
        try {
            for (const rules::Action& a : rule.then) {
                json ops;
                if (a.kind == rules::ActionKind::set) {
                    ops = rules::set_patch(a, twin, snap);
                } else if (a.kind == rules::ActionKind::alarm) {
                    alarms.push_back(a.text);
                    ops = rules::alarm_patch(a);
                } else {
                    continue;
                }
                if (ops.empty()) continue;
                // `on:` acts on the related twins as they are on this snapshot.
                for (const graph::TwinIndex t : rules::action_twins(a, twin, snap)) {
                    json& patch = patch_of(writes, t == twin ? id : snap.twin_id(t));
                    for (const json& op : ops) patch.push_back(op);
                }
            }
        } catch (const std::exception& x) {
            fail_record(set.id, rule.name, id, trigger, std::string("evaluating the actions failed: ") + x.what());
            return;
        }
        commit(set, rule, std::move(writes), std::move(alarms), at, trigger);
    }

    void commit(RuleSet& set, const Rule& rule, const std::string& twin, json patch, std::vector<std::string> alarms,
                Timestamp at, std::uint64_t trigger) {
        Writes writes;
        writes.emplace_back(twin, std::move(patch));
        commit(set, rule, std::move(writes), std::move(alarms), at, trigger);
    }

    /// Commits a firing's writes as one batch (all or nothing) caused by the rule.
    void commit(RuleSet& set, const Rule& rule, Writes writes, std::vector<std::string> alarms, Timestamp at,
                std::uint64_t trigger) {
        LiveFiring f;
        f.rule_set = set.id;
        f.rule = rule.name;
        f.twin = writes.front().first;
        f.trigger_sequence = trigger;
        f.source_time = at;
        f.alarms = std::move(alarms);
        bool any = false;
        for (auto& [id, patch] : writes) {
            if (patch.empty()) continue;
            any = true;
            if (set.clock == RuleClock::source && at.ns != 0) {
                // The values a rule writes carry the source time of the firing.
                json times = json::array();
                for (const json& op : patch)
                    if (op["op"] == "add")
                        times.push_back({{"op", "add"},
                                         {"path", "/$metadata" + op["path"].get<std::string>() + "/sourceTime"},
                                         {"value", format_timestamp(at, TimestampPrecision::nanoseconds)}});
                for (json& t : times) patch.push_back(std::move(t));
            }
        }
        f.patch = writes.front().second.dump();
        for (std::size_t k = 1; k < writes.size(); ++k)
            if (!writes[k].second.empty()) f.related.emplace_back(writes[k].first, writes[k].second.dump());
        if (any) {
            try {
                graph.atomically("rule:" + rule.name, [&](graph::TwinGraph& g) {
                    for (const auto& [id, patch] : writes)
                        if (!patch.empty()) g.update_twin(id, patch);
                });
                std::lock_guard lock(inbox->mutex);
                if (!inbox->own.empty() && !inbox->own.back().events.empty())
                    f.sequence = inbox->own.back().events.back().sequence;
            } catch (const std::exception& x) {
                f.failed = true;
                fail_record(set.id, rule.name, f.twin, trigger, std::string("the graph refused the write: ") + x.what());
            }
        }
        std::lock_guard lock(stats_mutex);
        if (!f.failed) ++stats.firings;
        firings.push_back(std::move(f));
        if (firings.size() > max_firings_kept) firings.pop_front();
    }

    /// Fires the deadlines of `deadlines` that are due at `now` (in due order).
    void fire_due(std::set<Deadline>& deadlines, Timestamp now, std::uint64_t trigger, bool wall) {
        while (!deadlines.empty() && deadlines.begin()->due <= now) {
            const Deadline d = *deadlines.begin();
            deadlines.erase(deadlines.begin());
            const auto set = std::find_if(sets.begin(), sets.end(), [&](const auto& s) { return s->id == d.set; });
            if (set == sets.end() || d.group >= (*set)->groups.size()) continue;
            Group& grp = (*set)->groups[d.group];
            if (!grp.active || d.rule >= grp.rules.size()) continue;
            const auto pos = grp.position.find(d.twin);
            if (pos == grp.position.end()) continue;
            const CondState& st = grp.states[d.rule][pos->second];
            if (!st.holds || st.episode != d.episode) continue;
            const graph::Snapshot snap = wall || !last_snapshot ? graph.snapshot() : *last_snapshot;
            fire(**set, grp.rules[d.rule], grp.twins[pos->second], d.twin, snap, wall ? utc_now() : d.due, trigger);
        }
    }

    void fire_source_due(Timestamp now, std::uint64_t trigger) { fire_due(source_deadlines, now, trigger, false); }

    void fire_wall_due() {
        handle_fn([&] { fire_due(wall_deadlines, utc_now(), 0, true); });
    }

    /// Runs `f` (which may commit firings) and then the batches they caused.
    template <class F>
    void handle_fn(F&& f) {
        f();
        Job none;
        none.kind = Job::Kind::remove;  // a no-op job: handle() then settles the firings' batches
        handle(std::move(none));
    }

    void start_set(Job& job) {
        RuleSet& set = *job.set;
        // Rebuild on the newest state the engine has seen (the set was checked
        // on a snapshot taken when it was added).
        graph::Snapshot snap = job.after;
        if (last_snapshot && last_snapshot->event_sequence() > snap.event_sequence()) snap = *last_snapshot;
        for (Group& grp : set.groups) {
            try {
                grp.active = false;  // built afresh: every pair is evaluated once
                build_group(grp, snap);
            } catch (const std::exception& x) {
                grp.active = false;
                fail_record(set.id, grp.path, "", snap.event_sequence(),
                            std::string("the group no longer checks against the graph: ") + x.what());
            }
        }
        sets.push_back(job.set);
        BatchTimes none;
        std::vector<std::tuple<RuleSet*, std::size_t, Item>> fire_now;
        std::vector<std::tuple<RuleSet*, std::size_t, std::uint32_t, std::vector<std::uint32_t>>> propagate_now;
        for (std::size_t gi = 0; gi < set.groups.size(); ++gi)
            if (set.groups[gi].active) evaluate(set, gi, snap, none, snap.event_sequence(), fire_now, propagate_now);
        commit_firings(snap, none, snap.event_sequence(), fire_now, propagate_now);
    }

    void fail_record(const std::string& set, const std::string& rule, const std::string& twin, std::uint64_t sequence,
                     const std::string& reason) {
        std::lock_guard lock(stats_mutex);
        ++stats.failures;
        if (options.dead_letter.empty()) return;
        if (!dead_letter.is_open()) dead_letter.open(options.dead_letter, std::ios::app | std::ios::binary);
        dead_letter << json{{"ruleSet", set},
                            {"rule", rule},
                            {"twin", twin},
                            {"sequence", sequence},
                            {"reason", reason},
                            {"time", format_timestamp(utc_now())}}
                           .dump()
                    << '\n';
        dead_letter.flush();
    }

    // --- adding ----------------------------------------------------------------------
    std::string add(const ParsedFile& f, bool keep, std::optional<std::string> id = std::nullopt) {
        const graph::Snapshot snap = graph.snapshot();
        auto set = std::make_shared<RuleSet>();
        set->source = f.source;
        set->clock = options.clock;
        if (f.document.contains("clock")) set->clock = f.document["clock"] == "wall" ? RuleClock::wall : RuleClock::source;
        set->groups = check_groups(f, snap);
        set->definition = {{"clock", to_string(set->clock)}, {"groups", f.document["groups"]}};
        {
            std::lock_guard lock(registry_mutex);
            if (id) {
                set->id = *id;
            } else {
                if (!options.directory.empty()) next_id = std::max(next_id, next_number(options.directory));
                set->id = "rules-" + std::to_string(next_id++);
            }
            if (keep && !options.directory.empty()) write_kept(options.directory, *set);
            registry.push_back(info_of(*set));
        }
        Job job;
        job.kind = Job::Kind::add;
        job.after = snap;
        job.set = set;
        enqueue(std::move(job));
        return set->id;
    }
};

LiveRules::LiveRules(graph::TwinGraph& graph, LiveRulesOptions options)
    : impl_(std::make_unique<Impl>(graph, std::move(options))) {
    std::weak_ptr<Impl::Inbox> box = impl_->inbox;
    impl_->listener = graph.subscribe_batches([box](std::span<const graph::ChangeEvent> events, const graph::Snapshot& after) {
        if (const auto b = box.lock()) Impl::deliver(b, events, after);
    });
    {
        std::lock_guard lock(impl_->inbox->mutex);
        impl_->worker = std::thread([this] { impl_->run(); });
        impl_->inbox->worker = impl_->worker.get_id();
    }
    try {
        if (!impl_->options.directory.empty())
            for (const auto& [n, file] : kept_files(impl_->options.directory)) {
                const std::string text = read_file(file);
                json doc;
                try {
                    doc = json::parse(text);
                } catch (const json::exception&) {
                    throw RuleFileError(file.string() + ": not a kept rule set (invalid JSON)");
                }
                const std::string id = doc.value("id", "rules-" + std::to_string(n));
                ParsedFile f = parse_document(json{{"clock", doc.value("clock", "source")}, {"groups", doc["groups"]}},
                                              file.string(), {});
                (void)impl_->add(f, false, id);
                impl_->next_id = std::max(impl_->next_id, n + 1);
                impl_->registry.back().source = doc.value("source", file.string());
            }
    } catch (...) {
        graph.unsubscribe(impl_->listener);
        {
            std::lock_guard lock(impl_->inbox->mutex);
            impl_->inbox->closed = true;
            impl_->inbox->changed.notify_all();
        }
        impl_->worker.join();
        throw;
    }
}

LiveRules::~LiveRules() {
    impl_->graph.unsubscribe(impl_->listener);
    {
        std::lock_guard lock(impl_->inbox->mutex);
        impl_->inbox->closed = true;
        impl_->inbox->changed.notify_all();
    }
    impl_->worker.join();
}

std::string LiveRules::add_file(const std::filesystem::path& file) {
    return impl_->add(parse_text(read_file(file), file.string()), true);
}

std::string LiveRules::add_text(std::string_view text, const std::string& source) {
    return impl_->add(parse_text(text, source), true);
}

std::string LiveRules::add_json(const nlohmann::json& document, const std::string& source) {
    return impl_->add(parse_document(document, source, {}), true);
}

void LiveRules::remove(std::string_view id) {
    {
        std::lock_guard lock(impl_->registry_mutex);
        const auto it = std::find_if(impl_->registry.begin(), impl_->registry.end(),
                                     [&](const LiveRuleSetInfo& i) { return i.id == id; });
        if (it == impl_->registry.end()) {
            std::string known;
            for (const auto& i : impl_->registry) known += (known.empty() ? "" : ", ") + i.id;
            throw RuleFileError("no rule set \"" + std::string(id) + "\" is running (running: " +
                                (known.empty() ? std::string("none") : known) + ")");
        }
        impl_->registry.erase(it);
        if (!impl_->options.directory.empty()) {
            std::error_code ec;
            std::filesystem::remove(rules_dir(impl_->options.directory) / (std::string(id) + ".json"), ec);
        }
    }
    Impl::Job job;
    job.kind = Impl::Job::Kind::remove;
    job.id = std::string(id);
    impl_->enqueue(std::move(job));
}

std::vector<LiveRuleSetInfo> LiveRules::list() const {
    std::lock_guard lock(impl_->registry_mutex);
    return impl_->registry;
}

void LiveRules::drain() {
    std::unique_lock lock(impl_->inbox->mutex);
    const std::uint64_t target = impl_->inbox->enqueued;
    impl_->inbox->changed.wait(lock, [&] { return impl_->inbox->closed || impl_->inbox->done >= target; });
}

LiveRulesStatistics LiveRules::statistics() const {
    LiveRulesStatistics s;
    {
        std::lock_guard lock(impl_->stats_mutex);
        s = impl_->stats;
    }
    std::lock_guard lock(impl_->inbox->mutex);
    s.queue_high_water = impl_->inbox->high_water;
    return s;
}

std::vector<LiveFiring> LiveRules::firings() const {
    std::lock_guard lock(impl_->stats_mutex);
    return {impl_->firings.begin(), impl_->firings.end()};
}

void check_rule_file(const std::filesystem::path& file, const graph::Snapshot& graph) {
    (void)check_groups(parse_text(read_file(file), file.string()), graph);
}

std::string keep_rule_file(const std::filesystem::path& directory, const std::filesystem::path& file,
                           const graph::Snapshot& graph) {
    const ParsedFile f = parse_text(read_file(file), file.string());
    (void)check_groups(f, graph);
    RuleSet set;
    set.id = "rules-" + std::to_string(next_number(directory));
    set.source = file.string();
    set.clock = f.document.value("clock", "source") == "wall" ? RuleClock::wall : RuleClock::source;
    set.definition = {{"clock", to_string(set.clock)}, {"groups", f.document["groups"]}};
    write_kept(directory, set);
    return set.id;
}

void remove_kept_rule_set(const std::filesystem::path& directory, std::string_view id) {
    const std::filesystem::path file = rules_dir(directory) / (std::string(id) + ".json");
    std::error_code ec;
    if (!std::filesystem::remove(file, ec)) {
        std::string known;
        for (const auto& i : kept_rule_sets(directory)) known += (known.empty() ? "" : ", ") + i.id;
        throw RuleFileError("the store " + directory.string() + " keeps no rule set \"" + std::string(id) +
                            "\" (kept: " + (known.empty() ? std::string("none") : known) + ")");
    }
}

std::vector<LiveRuleSetInfo> kept_rule_sets(const std::filesystem::path& directory) {
    std::vector<LiveRuleSetInfo> out;
    for (const auto& [n, file] : kept_files(directory)) {
        json doc;
        try {
            doc = json::parse(read_file(file));
        } catch (const json::exception&) {
            throw RuleFileError(file.string() + ": not a kept rule set (invalid JSON)");
        }
        RuleSet s;
        s.id = doc.value("id", "rules-" + std::to_string(n));
        s.source = doc.value("source", file.string());
        s.clock = doc.value("clock", "source") == "wall" ? RuleClock::wall : RuleClock::source;
        s.definition = {{"clock", to_string(s.clock)}, {"groups", doc.value("groups", json::array())}};
        out.push_back(info_of(s));
    }
    return out;
}

}  // namespace twinsim::models
