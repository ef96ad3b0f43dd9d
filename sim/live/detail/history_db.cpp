// The history database: dictionary-encoded names, WITHOUT ROWID tables keyed
// for (twin, key, time) range reads, the indexer's transaction, queries and
// retention (docs/history.md, "The history database").
#include "twinsim/live/detail/history_db.hpp"

#include <limits>
#include <sqlite3.h>

#include <algorithm>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace twinsim::live::detail {

namespace {

constexpr const char* schema_version = "2";

[[noreturn]] void fail(sqlite3* db, int rc, const std::string& doing) {
    const int primary = rc & 0xff;
    std::string why;
    switch (primary) {
    case SQLITE_FULL: why = "the disk is full"; break;
    case SQLITE_CORRUPT: why = "the file is damaged"; break;
    case SQLITE_NOTADB: why = "the file is not a SQLite database"; break;
    case SQLITE_READONLY: why = "the file is read-only"; break;
    case SQLITE_CANTOPEN: why = "the file cannot be opened"; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: why = "the file is locked by another connection"; break;
    case SQLITE_IOERR: why = "an I/O error occurred"; break;
    default: why = "SQLite failed"; break;
    }
    const std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    throw HistoryError("history: " + doing + ": " + why + " (SQLite: " + detail + ")");
}

struct Stmt {
    sqlite3* db = nullptr;
    sqlite3_stmt* st = nullptr;
    Stmt() = default;
    Stmt(sqlite3* d, const std::string& sql, const std::string& doing) : db(d) {
        const int rc = sqlite3_prepare_v2(d, sql.c_str(), -1, &st, nullptr);
        if (rc != SQLITE_OK) fail(d, rc, doing);
    }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    Stmt(Stmt&& o) noexcept : db(o.db), st(o.st) { o.st = nullptr; }
    Stmt& operator=(Stmt&& o) noexcept {
        std::swap(db, o.db);
        std::swap(st, o.st);
        return *this;
    }
    ~Stmt() { sqlite3_finalize(st); }
    void reset() {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    void bind(int i, std::int64_t v) { sqlite3_bind_int64(st, i, v); }
    void bind_null(int i) { sqlite3_bind_null(st, i); }
    void bind_text(int i, std::string_view v) {
        sqlite3_bind_text64(st, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    /// Steps to completion (a write). Throws HistoryError.
    void run(const std::string& doing) {
        const int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
            reset();
            fail(db, rc, doing);
        }
        reset();  // bindings too: a later row must not inherit this one's values
    }
};

void exec(sqlite3* db, const char* sql, const std::string& doing) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(db, rc, doing);
}

sqlite3* open_db(const std::filesystem::path& file, bool read_only, const std::string& doing) {
    sqlite3* db = nullptr;
    const int flags = (read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) |
                      SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string why = "history: " + doing + " " + file.string() + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        throw HistoryError(why);
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

// Schema version 2 (docs/history.md, "How it is recorded"). Version 1 kept
// twin, key, model, relationship and target in every property-update row and
// a UNIQUE index on the dictionary's text; Impl::migrate_from_1 converts it.
const char* schema_sql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    // The dictionary is looked up in memory (loaded whole at open), so its text needs no index.
    "CREATE TABLE IF NOT EXISTS names(id INTEGER PRIMARY KEY, text TEXT NOT NULL);"
    // A series: the rows of one (twin, key, relationship, target, model); names, 0 for none.
    "CREATE TABLE IF NOT EXISTS series(twin INTEGER NOT NULL, key INTEGER NOT NULL, rel INTEGER NOT NULL,"
    " target INTEGER NOT NULL, model INTEGER NOT NULL, id INTEGER NOT NULL,"
    " PRIMARY KEY(twin, key, rel, target, model)) WITHOUT ROWID;"
    // value: INTEGER/REAL (a number), TEXT (a string), BLOB (other JSON, as text), NULL (a Delete).
    // lag: TimeStamp - SourceTimeStamp in ns (NULL: no source time).
    "CREATE TABLE IF NOT EXISTS property_updates(series INTEGER NOT NULL, time INTEGER NOT NULL,"
    " seq INTEGER NOT NULL, value, lag INTEGER, PRIMARY KEY(series, time, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS twin_lifecycle(twin INTEGER NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " action INTEGER NOT NULL, model INTEGER, PRIMARY KEY(twin, time, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS relationship_lifecycle(source INTEGER NOT NULL, time INTEGER NOT NULL,"
    " seq INTEGER NOT NULL, rel INTEGER NOT NULL, action INTEGER NOT NULL, name INTEGER, target INTEGER,"
    " PRIMARY KEY(source, time, seq, rel)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS telemetry(twin INTEGER NOT NULL, key INTEGER NOT NULL, time INTEGER NOT NULL,"
    " model INTEGER, value, lag INTEGER);"
    "CREATE INDEX IF NOT EXISTS telemetry_by_key ON telemetry(twin, key, time);"
    // cause: ChangeEvent::cause of the change with sequence seq ("rule:<name>"), for the few changes that have one.
    "CREATE TABLE IF NOT EXISTS causes(seq INTEGER PRIMARY KEY, cause INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS twin_state(twin INTEGER PRIMARY KEY, model INTEGER);"
    "CREATE TABLE IF NOT EXISTS relationship_state(source INTEGER NOT NULL, rel INTEGER NOT NULL, target INTEGER,"
    " PRIMARY KEY(source, rel)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO meta VALUES('format', 'twinsim-history');"
    "INSERT OR IGNORE INTO meta VALUES('schema_version', '2');"
    "INSERT OR IGNORE INTO meta VALUES('indexed', '0');";

// Version 1 -> 2, in one transaction: the dictionary without its text index,
// and each distinct (twin, key, model, rel, target) of the old rows a series.
const char* migrate_1_to_2_sql =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE names_v2(id INTEGER PRIMARY KEY, text TEXT NOT NULL);"
    "INSERT INTO names_v2 SELECT id, text FROM names ORDER BY id;"
    "DROP TABLE names;"
    "ALTER TABLE names_v2 RENAME TO names;"
    "DELETE FROM series;"
    "CREATE TEMP TABLE series_v1(id INTEGER PRIMARY KEY, twin INTEGER NOT NULL, key INTEGER NOT NULL,"
    " rel INTEGER NOT NULL, target INTEGER NOT NULL, model INTEGER NOT NULL);"
    "INSERT INTO temp.series_v1(twin, key, rel, target, model) SELECT DISTINCT twin, key, coalesce(rel, 0),"
    " coalesce(target, 0), coalesce(model, 0) FROM property_updates ORDER BY 1, 2, 3, 4, 5;"
    "CREATE UNIQUE INDEX temp.series_v1_by_key ON series_v1(twin, key, rel, target, model);"
    "INSERT INTO series SELECT twin, key, rel, target, model, id FROM temp.series_v1;"
    "CREATE TABLE property_updates_v2(series INTEGER NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL, value,"
    " lag INTEGER, PRIMARY KEY(series, time, seq)) WITHOUT ROWID;"
    "INSERT INTO property_updates_v2 SELECT s.id, p.time, p.seq, p.value, p.lag FROM property_updates p"
    " JOIN temp.series_v1 s ON s.twin = p.twin AND s.key = p.key AND s.rel = coalesce(p.rel, 0)"
    " AND s.target = coalesce(p.target, 0) AND s.model = coalesce(p.model, 0) ORDER BY 1, 2, 3;"
    "DROP TABLE property_updates;"
    "ALTER TABLE property_updates_v2 RENAME TO property_updates;"
    "DROP TABLE temp.series_v1;"
    "UPDATE meta SET value = '2' WHERE key = 'schema_version';"
    "COMMIT;";

void bind_value(Stmt& s, int i, const nlohmann::json* value) {
    if (value == nullptr) return s.bind_null(i);
    if (value->is_number_integer()) {
        if (value->is_number_unsigned() && value->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
            const std::string text = value->dump();
            sqlite3_bind_blob64(s.st, i, text.data(), text.size(), SQLITE_TRANSIENT);
            return;
        }
        return s.bind(i, value->get<std::int64_t>());
    }
    if (value->is_number_float()) {
        sqlite3_bind_double(s.st, i, value->get<double>());
        return;
    }
    if (value->is_string()) return s.bind_text(i, value->get_ref<const std::string&>());
    const std::string text = value->dump();
    sqlite3_bind_blob64(s.st, i, text.data(), text.size(), SQLITE_TRANSIENT);
}

nlohmann::json column_value(sqlite3_stmt* st, int i) {
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return sqlite3_column_int64(st, i);
    case SQLITE_FLOAT: return sqlite3_column_double(st, i);
    case SQLITE_TEXT: {
        const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
        return std::string(t, static_cast<std::size_t>(sqlite3_column_bytes(st, i)));
    }
    case SQLITE_BLOB: {
        const auto* b = static_cast<const char*>(sqlite3_column_blob(st, i));
        const std::string_view text(b, static_cast<std::size_t>(sqlite3_column_bytes(st, i)));
        nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded()) throw HistoryError("history: a stored value is not JSON (the history file is damaged)");
        return j;
    }
    default: return nullptr;
    }
}

std::optional<Timestamp> lag_time(sqlite3_stmt* st, int i, std::int64_t time) {
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return std::nullopt;
    return Timestamp{time - sqlite3_column_int64(st, i)};
}

}  // namespace

// The names of a series (0 for none).
struct SeriesKey {
    std::int64_t twin = 0, key = 0, rel = 0, target = 0, model = 0;
    bool operator==(const SeriesKey&) const = default;
};
struct SeriesKeyHash {
    std::size_t operator()(const SeriesKey& k) const noexcept {
        std::uint64_t h = 0x9e3779b97f4a7c15ULL;
        for (const std::int64_t v : {k.twin, k.key, k.rel, k.target, k.model})
            h = (h ^ static_cast<std::uint64_t>(v)) * 0x100000001b3ULL + (h >> 29U);
        return static_cast<std::size_t>(h);
    }
};
// Series ids looked up recently; bounded (a store of a million twins has a
// million series: past this many the cache starts over).
constexpr std::size_t series_cache_limit = 1U << 16U;

struct HistoryDb::Impl final : HistoryWriter {
    std::filesystem::path file;
    sqlite3* db = nullptr;
    sqlite3* journal = nullptr;
    mutable std::mutex mutex;
    std::uint64_t indexed = 0;
    std::unordered_map<std::string, std::int64_t> ids;
    std::vector<std::string> names{""};  // by id; id 0 unused
    std::int64_t last_series = 0;         // the highest series id in use
    std::unordered_map<SeriesKey, std::int64_t, SeriesKeyHash> series_cache;
    Stmt select_series, insert_series, insert_name, insert_property, insert_twin, insert_rel, upsert_twin_state, delete_twin_state,
        select_twin_state, upsert_rel_state, delete_rel_state, select_rel_state, insert_telemetry, set_indexed,
        read_journal, insert_cause;

    std::int64_t id_of(std::string_view text) {
        auto it = ids.find(std::string(text));
        if (it != ids.end()) return it->second;
        const auto id = static_cast<std::int64_t>(names.size());
        insert_name.bind(1, id);
        insert_name.bind_text(2, text);
        insert_name.run("adding a name to the dictionary");
        names.emplace_back(text);
        ids.emplace(std::string(text), id);
        return id;
    }
    // Lookup without adding; -1 when unknown.
    [[nodiscard]] std::int64_t find(std::string_view text) const {
        auto it = ids.find(std::string(text));
        return it == ids.end() ? -1 : it->second;
    }
    [[nodiscard]] const std::string& name(sqlite3_stmt* st, int i) const {
        static const std::string empty;
        if (sqlite3_column_type(st, i) == SQLITE_NULL) return empty;
        const auto id = sqlite3_column_int64(st, i);
        if (id == 0) return empty;  // a series' "none"
        if (id < 0 || static_cast<std::size_t>(id) >= names.size())
            throw HistoryError("history: a row names dictionary entry " + std::to_string(id) +
                               ", which is missing (the history file is damaged)");
        return names[static_cast<std::size_t>(id)];
    }
    void bind_name(Stmt& s, int i, std::string_view text) {
        if (text.empty()) s.bind_null(i);
        else s.bind(i, id_of(text));
    }
    std::int64_t id_or_zero(std::string_view text) { return text.empty() ? 0 : id_of(text); }

    // Parameters 1-5 of the series statements: twin, key, relationship, target, model.
    static void bind_series_key(Stmt& s, const SeriesKey& k) {
        s.bind(1, k.twin);
        s.bind(2, k.key);
        s.bind(3, k.rel);
        s.bind(4, k.target);
        s.bind(5, k.model);
    }

    // The series of these names, added when new.
    std::int64_t series_of(const SeriesKey& k) {
        if (const auto it = series_cache.find(k); it != series_cache.end()) return it->second;
        Stmt& q = select_series;
        bind_series_key(q, k);
        std::int64_t id = 0;
        const int rc = sqlite3_step(q.st);
        if (rc == SQLITE_ROW) id = sqlite3_column_int64(q.st, 0);
        q.reset();
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail(db, rc, "looking up a series");
        if (id == 0) {
            id = last_series + 1;
            Stmt& ins = insert_series;
            bind_series_key(ins, k);
            ins.bind(6, id);
            ins.run("adding a series");
            last_series = id;
        }
        if (series_cache.size() >= series_cache_limit) series_cache.clear();
        series_cache.emplace(k, id);
        return id;
    }

    // --- HistoryWriter ---------------------------------------------------------
    void property(std::string_view twin, std::string_view key, Timestamp time, std::uint64_t sequence,
                  std::optional<Timestamp> source_time, std::string_view model, const nlohmann::json* value,
                  std::string_view relationship, std::string_view target) override {
        SeriesKey k;
        k.twin = id_of(twin);
        k.key = id_of(key);
        k.model = id_or_zero(model);
        k.rel = id_or_zero(relationship);
        k.target = id_or_zero(target);
        Stmt& s = insert_property;
        s.bind(1, series_of(k));
        s.bind(2, time.ns);
        s.bind(3, static_cast<std::int64_t>(sequence));
        bind_value(s, 4, value);
        if (source_time) s.bind(5, time.ns - source_time->ns);
        s.run("writing a property update");
    }
    void cause(std::uint64_t sequence, std::string_view cause) override {
        insert_cause.bind(1, static_cast<std::int64_t>(sequence));
        insert_cause.bind(2, id_of(cause));
        insert_cause.run("writing the cause of a change");
    }
    void twin(std::string_view twin, Timestamp time, std::uint64_t sequence, bool create, std::string_view model) override {
        Stmt& s = insert_twin;
        const std::int64_t t = id_of(twin);
        s.bind(1, t);
        s.bind(2, time.ns);
        s.bind(3, static_cast<std::int64_t>(sequence));
        s.bind(4, create ? 1 : 0);
        bind_name(s, 5, model);
        s.run("writing a twin lifecycle row");
        if (create) {
            upsert_twin_state.bind(1, t);
            bind_name(upsert_twin_state, 2, model);
            upsert_twin_state.run("recording a twin's model");
        } else {
            delete_twin_state.bind(1, t);
            delete_twin_state.run("forgetting a deleted twin");
        }
    }
    void relationship(std::string_view source, std::string_view relationship, Timestamp time, std::uint64_t sequence,
                      bool create, std::string_view name_text, std::string_view target) override {
        Stmt& s = insert_rel;
        const std::int64_t src = id_of(source);
        const std::int64_t rel = id_of(relationship);
        s.bind(1, src);
        s.bind(2, time.ns);
        s.bind(3, static_cast<std::int64_t>(sequence));
        s.bind(4, rel);
        s.bind(5, create ? 1 : 0);
        bind_name(s, 6, name_text);
        bind_name(s, 7, target);
        s.run("writing a relationship lifecycle row");
        if (create) {
            upsert_rel_state.bind(1, src);
            upsert_rel_state.bind(2, rel);
            bind_name(upsert_rel_state, 3, target);
            upsert_rel_state.run("recording a relationship's target");
        } else {
            delete_rel_state.bind(1, src);
            delete_rel_state.bind(2, rel);
            delete_rel_state.run("forgetting a deleted relationship");
        }
    }
    void set_twin_model(std::string_view twin, std::string_view model) override {
        upsert_twin_state.bind(1, id_of(twin));
        bind_name(upsert_twin_state, 2, model);
        upsert_twin_state.run("recording a twin's model");
    }
    std::string twin_model(std::string_view twin) override {
        const std::int64_t t = find(twin);
        if (t < 0) return {};
        Stmt& s = select_twin_state;
        s.bind(1, t);
        std::string out;
        if (sqlite3_step(s.st) == SQLITE_ROW) out = name(s.st, 0);
        s.reset();
        return out;
    }
    std::string relationship_target(std::string_view source, std::string_view relationship) override {
        const std::int64_t src = find(source);
        const std::int64_t rel = find(relationship);
        if (src < 0 || rel < 0) return {};
        Stmt& s = select_rel_state;
        s.bind(1, src);
        s.bind(2, rel);
        std::string out;
        if (sqlite3_step(s.st) == SQLITE_ROW) out = name(s.st, 0);
        s.reset();
        return out;
    }

    void rollback() noexcept { sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr); }

    void prepare() {
        const std::string doing = "preparing the history database";
        insert_name = Stmt(db, "INSERT INTO names VALUES(?,?)", doing);
        insert_property = Stmt(db, "INSERT OR REPLACE INTO property_updates VALUES(?,?,?,?,?)", doing);
        select_series = Stmt(db, "SELECT id FROM series WHERE twin=? AND key=? AND rel=? AND target=? AND model=?", doing);
        insert_series = Stmt(db, "INSERT INTO series VALUES(?,?,?,?,?,?)", doing);
        insert_twin = Stmt(db, "INSERT OR REPLACE INTO twin_lifecycle VALUES(?,?,?,?,?)", doing);
        insert_rel = Stmt(db, "INSERT OR REPLACE INTO relationship_lifecycle VALUES(?,?,?,?,?,?,?)", doing);
        upsert_twin_state = Stmt(db, "INSERT OR REPLACE INTO twin_state VALUES(?,?)", doing);
        delete_twin_state = Stmt(db, "DELETE FROM twin_state WHERE twin=?", doing);
        select_twin_state = Stmt(db, "SELECT model FROM twin_state WHERE twin=?", doing);
        upsert_rel_state = Stmt(db, "INSERT OR REPLACE INTO relationship_state VALUES(?,?,?)", doing);
        delete_rel_state = Stmt(db, "DELETE FROM relationship_state WHERE source=? AND rel=?", doing);
        select_rel_state = Stmt(db, "SELECT target FROM relationship_state WHERE source=? AND rel=?", doing);
        insert_telemetry = Stmt(db, "INSERT INTO telemetry VALUES(?,?,?,?,?,?)", doing);
        insert_cause = Stmt(db, "INSERT OR REPLACE INTO causes VALUES(?,?)", doing);
        set_indexed = Stmt(db, "UPDATE meta SET value=? WHERE key='indexed'", doing);
        read_journal = Stmt(journal, "SELECT id, payload FROM batches WHERE id > ? ORDER BY id LIMIT ?",
                            "preparing to read the store's journal");
    }

    void load() {
        std::string version;
        {
            Stmt s(db, "SELECT value FROM meta WHERE key='schema_version'", "reading the history's schema version");
            if (sqlite3_step(s.st) == SQLITE_ROW)
                version = std::string(reinterpret_cast<const char*>(sqlite3_column_text(s.st, 0)));
        }
        if (version == "1") {
            // Rows and telemetry are kept: telemetry is not in the journal.
            const int rc = sqlite3_exec(db, migrate_1_to_2_sql, nullptr, nullptr, nullptr);
            if (rc != SQLITE_OK) {
                const std::string why = sqlite3_errmsg(db);
                rollback();
                throw HistoryError("history: " + file.string() + " is in schema version 1 and could not be converted to " +
                                   schema_version + " (SQLite: " + why + ")");
            }
        } else if (version != schema_version) {
            throw HistoryError("history: " + file.string() + " has schema version '" + version + "', which this build (" +
                               schema_version + ") does not read; delete it to rebuild it from the journal");
        }
        {
            Stmt s(db, "SELECT coalesce(max(id), 0) FROM series", "reading the history's series");
            if (sqlite3_step(s.st) == SQLITE_ROW) last_series = sqlite3_column_int64(s.st, 0);
        }
        {
            Stmt s(db, "SELECT value FROM meta WHERE key='indexed'", "reading the history's progress");
            if (sqlite3_step(s.st) == SQLITE_ROW) indexed = std::stoull(reinterpret_cast<const char*>(sqlite3_column_text(s.st, 0)));
        }
        {
            // Sized once: a store of a million twins holds a million names, and
            // growing the map to that size rehashes it about twenty times.
            Stmt count(db, "SELECT coalesce(max(id), 0) FROM names", "reading the history's dictionary");
            if (sqlite3_step(count.st) == SQLITE_ROW) {
                const auto n = static_cast<std::size_t>(std::max<sqlite3_int64>(0, sqlite3_column_int64(count.st, 0)));
                ids.reserve(n + 1);
                names.reserve(n + 1);
            }
        }
        Stmt s(db, "SELECT id, text FROM names ORDER BY id", "reading the history's dictionary");
        int rc = 0;
        while ((rc = sqlite3_step(s.st)) == SQLITE_ROW) {
            const auto id = sqlite3_column_int64(s.st, 0);
            const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s.st, 1));
            std::string text(t, static_cast<std::size_t>(sqlite3_column_bytes(s.st, 1)));
            if (id != static_cast<std::int64_t>(names.size()))
                throw HistoryError("history: the dictionary of " + file.string() + " has a gap at " + std::to_string(id));
            ids.emplace(text, id);
            names.push_back(std::move(text));
        }
        if (rc != SQLITE_DONE) fail(db, rc, "reading the history's dictionary");
    }

    // The history is rebuilt when it is ahead of the journal (a journal that
    // was replaced): its rows describe batches the journal does not hold.
    void check_against_journal() {
        Stmt s(journal, "SELECT coalesce(max(id), 0) FROM batches", "reading the store's journal");
        const int rc = sqlite3_step(s.st);
        if (rc != SQLITE_ROW) fail(journal, rc, "reading the store's journal");
        const auto last = static_cast<std::uint64_t>(sqlite3_column_int64(s.st, 0));
        if (indexed <= last) return;
        exec(db,
             "BEGIN; DELETE FROM property_updates; DELETE FROM series; DELETE FROM twin_lifecycle; DELETE FROM relationship_lifecycle;"
             " DELETE FROM telemetry; DELETE FROM twin_state; DELETE FROM relationship_state; DELETE FROM names;"
             " UPDATE meta SET value='0' WHERE key='indexed'; COMMIT;",
             "clearing a history that is ahead of the journal");
        indexed = 0;
        last_series = 0;
        series_cache.clear();
        ids.clear();
        names.assign(1, "");
    }
};

HistoryDb::HistoryDb(const std::filesystem::path& file, const std::filesystem::path& journal)
    : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.file = file;
    try {
        s.db = open_db(file, false, "cannot open");
        exec(s.db, "PRAGMA journal_mode=WAL", "opening the history database");
        exec(s.db, "PRAGMA synchronous=NORMAL", "opening the history database");
        exec(s.db, schema_sql, "creating the history's tables");
        s.journal = open_db(journal, true, "cannot read the journal");
        s.load();
        s.prepare();
        s.check_against_journal();
    } catch (...) {
        close();
        throw;
    }
}

HistoryDb::~HistoryDb() { close(); }

void HistoryDb::close() noexcept {
    if (!impl_) return;
    std::lock_guard lock(impl_->mutex);
    for (Stmt* s : {&impl_->insert_name, &impl_->insert_property, &impl_->insert_twin, &impl_->insert_rel,
                    &impl_->upsert_twin_state, &impl_->delete_twin_state, &impl_->select_twin_state,
                    &impl_->upsert_rel_state, &impl_->delete_rel_state, &impl_->select_rel_state,
                    &impl_->insert_telemetry, &impl_->set_indexed, &impl_->read_journal, &impl_->insert_cause,
                    &impl_->select_series, &impl_->insert_series}) {
        sqlite3_finalize(s->st);
        s->st = nullptr;
    }
    if (impl_->db) sqlite3_close(impl_->db);
    if (impl_->journal) sqlite3_close(impl_->journal);
    impl_->db = impl_->journal = nullptr;
}

std::uint64_t HistoryDb::indexed() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->indexed;
}

std::uint64_t HistoryDb::index_next(
    std::uint64_t limit, const std::function<void(std::uint64_t, std::string_view, HistoryWriter&)>& batch) {
    Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    if (s.db == nullptr) throw HistoryError("history: the history database is closed");
    const std::size_t names_before = s.names.size();
    const std::int64_t series_before = s.last_series;
    exec(s.db, "BEGIN IMMEDIATE", "starting to index");
    std::uint64_t last = s.indexed;
    try {
        Stmt& r = s.read_journal;
        r.bind(1, static_cast<std::int64_t>(s.indexed));
        r.bind(2, static_cast<std::int64_t>(limit));
        int rc = 0;
        while ((rc = sqlite3_step(r.st)) == SQLITE_ROW) {
            const auto id = static_cast<std::uint64_t>(sqlite3_column_int64(r.st, 0));
            if (id != last + 1)
                throw HistoryError("history: the journal is missing batch " + std::to_string(last + 1) +
                                   " (the next one is " + std::to_string(id) + ")");
            const void* blob = sqlite3_column_blob(r.st, 1);
            const std::string_view payload(static_cast<const char*>(blob),
                                           blob ? static_cast<std::size_t>(sqlite3_column_bytes(r.st, 1)) : 0);
            batch(id, payload, s);
            last = id;
        }
        const int done = rc;
        r.reset();
        if (done != SQLITE_DONE) fail(s.journal, done, "reading the store's journal");
        if (last != s.indexed) {
            s.set_indexed.bind_text(1, std::to_string(last));
            s.set_indexed.run("recording the indexed batch");
        }
        exec(s.db, "COMMIT", "committing indexed batches");
    } catch (...) {
        s.read_journal.reset();
        s.rollback();
        // The dictionary entries added in the rolled-back transaction are gone.
        for (std::size_t i = names_before; i < s.names.size(); ++i) s.ids.erase(s.names[i]);
        s.names.resize(names_before);
        s.last_series = series_before;
        s.series_cache.clear();
        throw;
    }
    s.indexed = last;
    return last;
}

HistorySeries HistoryDb::series(std::string_view twin, std::string_view key, std::optional<Timestamp> start,
                                std::optional<Timestamp> end) {
    Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    if (s.db == nullptr) throw HistoryError("history: the history database is closed");
    HistorySeries out;
    const std::int64_t twin_id = s.find(twin);
    const std::int64_t key_id = s.find(key);
    if (twin_id < 0 || key_id < 0) return out;  // names the history never saw
    // The series of (twin, key) are a range of the series key, and each
    // series' rows in [start, end) one range of the rows' key: usually one
    // series (one model, no relationship), so one range scan.
    Stmt st(s.db,
            "SELECT p.time, p.seq, p.value, p.lag FROM series s CROSS JOIN property_updates p ON p.series = s.id"
            " WHERE s.twin = ?1 AND s.key = ?2 AND p.time >= ?3 AND p.time < ?4"
            " ORDER BY s.rel, s.target, s.model, p.time, p.seq",
            "reading the history");
    sqlite3_bind_int64(st.st, 1, twin_id);
    sqlite3_bind_int64(st.st, 2, key_id);
    sqlite3_bind_int64(st.st, 3, start ? start->ns : INT64_MIN);
    sqlite3_bind_int64(st.st, 4, end ? end->ns : INT64_MAX);
    std::vector<std::int64_t> seqs;
    bool ordered = true;
    int rc = 0;
    while ((rc = sqlite3_step(st.st)) == SQLITE_ROW) {
        const std::int64_t time = sqlite3_column_int64(st.st, 0);
        const std::int64_t seq = sqlite3_column_int64(st.st, 1);
        if (!out.time_ns.empty() && std::pair(time, seq) < std::pair(out.time_ns.back(), seqs.back())) ordered = false;
        out.time_ns.push_back(time);
        seqs.push_back(seq);
        const int type = sqlite3_column_type(st.st, 2);
        out.value.push_back(type == SQLITE_INTEGER || type == SQLITE_FLOAT ? sqlite3_column_double(st.st, 2)
                                                                           : std::numeric_limits<double>::quiet_NaN());
        out.source_time_ns.push_back(sqlite3_column_type(st.st, 3) == SQLITE_NULL ? history_no_time
                                                                                  : time - sqlite3_column_int64(st.st, 3));
    }
    if (rc != SQLITE_DONE) fail(s.db, rc, "reading the history");
    if (!ordered) {
        // Several series (a model change, relationship properties of this key): merged in time order.
        std::vector<std::size_t> order(seqs.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return std::pair(out.time_ns[a], seqs[a]) < std::pair(out.time_ns[b], seqs[b]);
        });
        HistorySeries merged;
        merged.time_ns.reserve(order.size());
        merged.value.reserve(order.size());
        merged.source_time_ns.reserve(order.size());
        for (const std::size_t i : order) {
            merged.time_ns.push_back(out.time_ns[i]);
            merged.value.push_back(out.value[i]);
            merged.source_time_ns.push_back(out.source_time_ns[i]);
        }
        return merged;
    }
    return out;
}

HistoryResult HistoryDb::query(const HistoryQuery& q) {
    Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    if (s.db == nullptr) throw HistoryError("history: the history database is closed");
    HistoryResult out;
    // Names the history never saw match nothing.
    auto id_list = [&](const std::vector<std::string>& texts, bool& none) {
        std::string list;
        none = false;
        if (texts.empty()) return list;
        for (const std::string& t : texts) {
            const std::int64_t id = s.find(t);
            if (id < 0) continue;
            if (!list.empty()) list += ',';
            list += std::to_string(id);
        }
        none = list.empty();
        return list;
    };
    bool no_twin = false;
    bool no_key = false;
    const std::string twins = id_list(q.twins, no_twin);
    const std::string keys = id_list(q.properties, no_key);
    auto where = [&](const char* twin_col, const char* key_col, const char* time_col = "time") {
        std::string w = " WHERE 1";
        if (!twins.empty()) w += std::string(" AND ") + twin_col + " IN (" + twins + ")";
        if (key_col != nullptr && !keys.empty()) w += std::string(" AND ") + key_col + " IN (" + keys + ")";
        if (q.start) w += std::string(" AND ") + time_col + " >= " + std::to_string(q.start->ns);
        if (q.end) w += std::string(" AND ") + time_col + " < " + std::to_string(q.end->ns);
        return w;
    };
    auto each = [&](const std::string& sql, const auto& row) {
        Stmt st(s.db, sql, "reading the history");
        int rc = 0;
        while ((rc = sqlite3_step(st.st)) == SQLITE_ROW) row(st.st);
        if (rc != SQLITE_DONE) fail(s.db, rc, "reading the history");
    };
    if (no_twin) return out;
    if ((q.kinds & history_property_updates) != 0U && !no_key) {
        // Series in key order, each series' rows in time order.
        each("SELECT s.twin, s.key, p.time, p.seq, s.model, p.value, p.lag, s.rel, s.target, c.cause FROM series s"
             " CROSS JOIN property_updates p ON p.series = s.id LEFT JOIN causes c ON c.seq = p.seq" +
                 where("s.twin", "s.key", "p.time") + " ORDER BY s.twin, s.key, s.rel, s.target, s.model, p.time, p.seq",
             [&](sqlite3_stmt* st) {
                 PropertyUpdateRow r;
                 r.id = s.name(st, 0);
                 r.key = s.name(st, 1);
                 r.time = Timestamp{sqlite3_column_int64(st, 2)};
                 r.sequence = static_cast<std::uint64_t>(sqlite3_column_int64(st, 3));
                 r.model_id = s.name(st, 4);
                 const bool deleted = sqlite3_column_type(st, 5) == SQLITE_NULL;
                 if (!deleted) r.value = column_value(st, 5);
                 r.action = deleted ? "Delete" : "Update";
                 r.source_time = lag_time(st, 6, r.time.ns);
                 r.relationship_id = s.name(st, 7);
                 r.relationship_target = s.name(st, 8);
                 r.cause = s.name(st, 9);
                 out.property_updates.push_back(std::move(r));
             });
    }
    if ((q.kinds & history_twin_lifecycle) != 0U) {
        each("SELECT twin, time, l.seq, action, model, c.cause FROM twin_lifecycle l LEFT JOIN causes c ON c.seq = l.seq" +
                 where("twin", nullptr) + " ORDER BY twin, time, l.seq",
             [&](sqlite3_stmt* st) {
                 TwinLifecycleRow r;
                 r.twin_id = s.name(st, 0);
                 r.time = Timestamp{sqlite3_column_int64(st, 1)};
                 r.sequence = static_cast<std::uint64_t>(sqlite3_column_int64(st, 2));
                 r.action = sqlite3_column_int(st, 3) != 0 ? "Create" : "Delete";
                 r.model_id = s.name(st, 4);
                 r.cause = s.name(st, 5);
                 out.twin_lifecycle.push_back(std::move(r));
             });
    }
    if ((q.kinds & history_relationship_lifecycle) != 0U) {
        each("SELECT source, time, l.seq, rel, action, name, target, c.cause FROM relationship_lifecycle l"
             " LEFT JOIN causes c ON c.seq = l.seq" +
                 where("source", nullptr) + " ORDER BY source, time, l.seq",
             [&](sqlite3_stmt* st) {
                 RelationshipLifecycleRow r;
                 r.source = s.name(st, 0);
                 r.time = Timestamp{sqlite3_column_int64(st, 1)};
                 r.sequence = static_cast<std::uint64_t>(sqlite3_column_int64(st, 2));
                 r.relationship_id = s.name(st, 3);
                 r.action = sqlite3_column_int(st, 4) != 0 ? "Create" : "Delete";
                 r.name = s.name(st, 5);
                 r.target = s.name(st, 6);
                 r.cause = s.name(st, 7);
                 out.relationship_lifecycle.push_back(std::move(r));
             });
    }
    if ((q.kinds & history_telemetry) != 0U && !no_key) {
        each("SELECT twin, key, time, model, value, lag FROM telemetry" + where("twin", "key") +
                 " ORDER BY twin, key, time, rowid",
             [&](sqlite3_stmt* st) {
                 TelemetryRow r;
                 r.id = s.name(st, 0);
                 r.key = s.name(st, 1);
                 r.time = Timestamp{sqlite3_column_int64(st, 2)};
                 r.model_id = s.name(st, 3);
                 r.value = column_value(st, 4);
                 r.source_time = lag_time(st, 5, r.time.ns);
                 out.telemetry.push_back(std::move(r));
             });
    }
    // Rows come in dictionary-id order, series by series; callers get them by
    // name, then time and sequence (the series of one twin and key merged).
    auto by_id_key = [](const auto& a, const auto& b) { return std::tie(a.id, a.key) < std::tie(b.id, b.key); };
    auto by_id_key_time = [](const PropertyUpdateRow& a, const PropertyUpdateRow& b) {
        return std::tie(a.id, a.key, a.time.ns, a.sequence) < std::tie(b.id, b.key, b.time.ns, b.sequence);
    };
    if (!std::is_sorted(out.property_updates.begin(), out.property_updates.end(), by_id_key_time))
        std::stable_sort(out.property_updates.begin(), out.property_updates.end(), by_id_key_time);
    if (!std::is_sorted(out.telemetry.begin(), out.telemetry.end(), by_id_key))
        std::stable_sort(out.telemetry.begin(), out.telemetry.end(), by_id_key);
    auto by_twin = [](const TwinLifecycleRow& a, const TwinLifecycleRow& b) { return a.twin_id < b.twin_id; };
    std::stable_sort(out.twin_lifecycle.begin(), out.twin_lifecycle.end(), by_twin);
    auto by_source = [](const RelationshipLifecycleRow& a, const RelationshipLifecycleRow& b) { return a.source < b.source; };
    std::stable_sort(out.relationship_lifecycle.begin(), out.relationship_lifecycle.end(), by_source);
    return out;
}

std::uint64_t HistoryDb::thin(const RetentionPolicy& policy, std::optional<Timestamp> now) {
    if (policy.older_than_ns <= 0) return 0;
    if (policy.interval_ns <= 0)
        throw HistoryError("history: a retention policy that thins rows needs an interval greater than zero");
    Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    if (s.db == nullptr) throw HistoryError("history: the history database is closed");
    std::int64_t reference = 0;
    if (now) {
        reference = now->ns;
    } else {
        Stmt st(s.db, "SELECT max(m) FROM (SELECT max(time) AS m FROM property_updates UNION ALL SELECT max(time) FROM telemetry)",
                "reading the newest history row");
        if (sqlite3_step(st.st) != SQLITE_ROW || sqlite3_column_type(st.st, 0) == SQLITE_NULL) return 0;
        reference = sqlite3_column_int64(st.st, 0);
    }
    const std::int64_t cutoff = reference - policy.older_than_ns;
    const std::string c = std::to_string(cutoff);
    const std::string i = std::to_string(policy.interval_ns);
    exec(s.db, "BEGIN IMMEDIATE", "starting to thin the history");
    try {
        exec(s.db,
             ("DELETE FROM property_updates WHERE (series, time, seq) IN (SELECT series, time, seq FROM ("
              "SELECT p.series, p.time, p.seq, row_number() OVER (PARTITION BY s.twin, s.key, s.rel, p.time / " + i +
              " ORDER BY p.time DESC, p.seq DESC) AS n FROM series s CROSS JOIN property_updates p ON p.series = s.id"
              " WHERE p.time < " + c + ") WHERE n > 1)")
                 .c_str(),
             "thinning property updates");
        std::uint64_t removed = static_cast<std::uint64_t>(sqlite3_changes64(s.db));
        exec(s.db,
             ("DELETE FROM telemetry WHERE rowid IN (SELECT r FROM (SELECT rowid AS r, row_number() OVER (PARTITION BY "
              "twin, key, time / " + i + " ORDER BY time DESC, rowid DESC) AS n FROM telemetry WHERE time < " + c +
              ") WHERE n > 1)")
                 .c_str(),
             "thinning telemetry");
        removed += static_cast<std::uint64_t>(sqlite3_changes64(s.db));
        exec(s.db, "COMMIT", "committing the thinned history");
        return removed;
    } catch (...) {
        s.rollback();
        throw;
    }
}

void HistoryDb::telemetry(std::string_view twin, std::string_view component, std::string_view model,
                          const nlohmann::json& payload, Timestamp time, std::optional<Timestamp> source_time) {
    Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    if (s.db == nullptr) throw HistoryError("history: the history database is closed");
    const std::size_t names_before = s.names.size();
    exec(s.db, "BEGIN IMMEDIATE", "starting to record telemetry");
    try {
        for (auto it = payload.begin(); it != payload.end(); ++it) {
            const std::string key = component.empty() ? it.key() : std::string(component) + "." + it.key();
            Stmt& st = s.insert_telemetry;
            st.bind(1, s.id_of(twin));
            st.bind(2, s.id_of(key));
            st.bind(3, time.ns);
            s.bind_name(st, 4, model);
            bind_value(st, 5, &it.value());
            if (source_time) st.bind(6, time.ns - source_time->ns);
            st.run("writing telemetry");
        }
        exec(s.db, "COMMIT", "committing telemetry");
    } catch (...) {
        s.rollback();
        for (std::size_t i = names_before; i < s.names.size(); ++i) s.ids.erase(s.names[i]);
        s.names.resize(names_before);
        throw;
    }
}

HistoryDb::Counts HistoryDb::counts() {
    Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    Counts c;
    auto one = [&](const char* sql) -> std::uint64_t {
        Stmt st(s.db, sql, "counting history rows");
        if (sqlite3_step(st.st) != SQLITE_ROW) return 0;
        return static_cast<std::uint64_t>(sqlite3_column_int64(st.st, 0));
    };
    c.property_updates = one("SELECT count(*) FROM property_updates");
    c.twin_lifecycle = one("SELECT count(*) FROM twin_lifecycle");
    c.relationship_lifecycle = one("SELECT count(*) FROM relationship_lifecycle");
    c.telemetry = one("SELECT count(*) FROM telemetry");
    c.bytes = (one("PRAGMA page_count") - one("PRAGMA freelist_count")) * one("PRAGMA page_size");
    return c;
}

}  // namespace twinsim::live::detail
