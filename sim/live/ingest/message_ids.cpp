#include "twinsim/live/ingest/message_ids.hpp"

#include <sqlite3.h>

#include <mutex>

namespace twinsim::live::ingest {

namespace {

// ids: the message id, and when it was accepted (ns since 1970 UTC); rowid
// is the acceptance order, which the count bound trims by.
const char* const schema =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO meta VALUES('format', 'twinsim-message-ids');"
    "CREATE TABLE IF NOT EXISTS ids(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, time INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ids_by_time ON ids(time);";

struct Statement {
    sqlite3_stmt* st = nullptr;
    Statement() = default;
    Statement(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) st = nullptr;
    }
    Statement(Statement&& o) noexcept : st(o.st) { o.st = nullptr; }
    Statement& operator=(Statement&& o) noexcept {
        std::swap(st, o.st);
        return *this;
    }
    ~Statement() { sqlite3_finalize(st); }
};

}  // namespace

std::filesystem::path message_ids_file(const std::filesystem::path& store_directory) {
    return store_directory / "message-ids.db";
}

struct MessageIds::Impl {
    std::filesystem::path file;
    MessageIdWindow window;
    sqlite3* db = nullptr;
    std::mutex mutex;
    Statement find, insert, trim_count, trim_age, count;

    [[noreturn]] void fail(const std::string& doing) const {
        throw IoError("the message-id file " + file.string() + ": " + doing + " failed (SQLite: " +
                      (db != nullptr ? sqlite3_errmsg(db) : "cannot open") + ")");
    }
    void exec(const char* sql, const std::string& doing) {
        if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(doing);
    }
    [[nodiscard]] std::int64_t oldest_kept(Timestamp now) const {
        return window.max_age.count() > 0 ? now.ns - static_cast<std::int64_t>(window.max_age.count()) * 1'000'000'000 : INT64_MIN;
    }
};

MessageIds::MessageIds(const std::filesystem::path& file, MessageIdWindow window) : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    s.file = file;
    s.window = window;
    if (sqlite3_open_v2(file.c_str(), &s.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK) {
        const std::string why = s.db != nullptr ? sqlite3_errmsg(s.db) : "out of memory";
        sqlite3_close(s.db);
        s.db = nullptr;
        throw IoError("the message-id file " + file.string() + " cannot be opened (SQLite: " + why + ")");
    }
    try {
        sqlite3_busy_timeout(s.db, 10000);
        s.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", "setting it up");
        s.exec(schema, "creating its tables (is it a message-id file?)");
        {
            Statement format(s.db, "SELECT value FROM meta WHERE key='format'");
            if (format.st == nullptr || sqlite3_step(format.st) != SQLITE_ROW ||
                std::string(reinterpret_cast<const char*>(sqlite3_column_text(format.st, 0))) != "twinsim-message-ids")
                throw IoError("the message-id file " + file.string() + " is not one (its format is not twinsim-message-ids)");
        }
        s.find = Statement(s.db, "SELECT time FROM ids WHERE id=?");
        s.insert = Statement(s.db, "INSERT OR REPLACE INTO ids(id, time) VALUES(?, ?)");
        s.trim_count = Statement(s.db, "DELETE FROM ids WHERE seq <= (SELECT max(seq) FROM ids) - ?");
        s.trim_age = Statement(s.db, "DELETE FROM ids WHERE time < ?");
        s.count = Statement(s.db, "SELECT count(*) FROM ids");
        if (s.find.st == nullptr || s.insert.st == nullptr || s.trim_count.st == nullptr || s.trim_age.st == nullptr ||
            s.count.st == nullptr)
            s.fail("preparing its statements");
    } catch (...) {
        s.find = {};
        s.insert = {};
        s.trim_count = {};
        s.trim_age = {};
        s.count = {};
        sqlite3_close(s.db);
        s.db = nullptr;
        throw;
    }
}

MessageIds::~MessageIds() {
    impl_->find = {};
    impl_->insert = {};
    impl_->trim_count = {};
    impl_->trim_age = {};
    impl_->count = {};
    sqlite3_close(impl_->db);
}

MessageIdWindow MessageIds::window() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->window;
}

void MessageIds::set_window(MessageIdWindow window) {
    std::lock_guard lock(impl_->mutex);
    impl_->window = window;
}

bool MessageIds::contains(std::string_view id, Timestamp now) {
    Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    if (s.window.max_ids == 0) return false;
    sqlite3_reset(s.find.st);
    sqlite3_bind_text(s.find.st, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
    const int rc = sqlite3_step(s.find.st);
    if (rc == SQLITE_DONE) return false;
    if (rc != SQLITE_ROW) s.fail("looking up a message id");
    return sqlite3_column_int64(s.find.st, 0) >= s.oldest_kept(now);
}

void MessageIds::remember(const std::vector<std::string>& ids, Timestamp now) {
    Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    if (ids.empty() || s.window.max_ids == 0) return;
    s.exec("BEGIN IMMEDIATE", "starting a transaction");
    try {
        for (const std::string& id : ids) {
            sqlite3_reset(s.insert.st);
            sqlite3_bind_text(s.insert.st, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
            sqlite3_bind_int64(s.insert.st, 2, now.ns);
            if (sqlite3_step(s.insert.st) != SQLITE_DONE) s.fail("remembering a message id");
        }
        sqlite3_reset(s.trim_count.st);
        sqlite3_bind_int64(s.trim_count.st, 1, static_cast<sqlite3_int64>(s.window.max_ids));
        if (sqlite3_step(s.trim_count.st) != SQLITE_DONE) s.fail("forgetting the oldest message ids");
        if (s.window.max_age.count() > 0) {
            sqlite3_reset(s.trim_age.st);
            sqlite3_bind_int64(s.trim_age.st, 1, s.oldest_kept(now));
            if (sqlite3_step(s.trim_age.st) != SQLITE_DONE) s.fail("forgetting expired message ids");
        }
        s.exec("COMMIT", "committing message ids");
    } catch (...) {
        sqlite3_exec(s.db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

std::size_t MessageIds::size() {
    Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    sqlite3_reset(s.count.st);
    if (sqlite3_step(s.count.st) != SQLITE_ROW) s.fail("counting message ids");
    return static_cast<std::size_t>(sqlite3_column_int64(s.count.st, 0));
}

}  // namespace twinsim::live::ingest
