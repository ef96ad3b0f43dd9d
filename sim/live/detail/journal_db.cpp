#include "twinsim/live/detail/journal_db.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace twinsim::live::detail {

namespace {

constexpr int schema_version = 1;

std::string errno_text(int err) { return std::strerror(err); }

// Our words for what a SQLite result code means for the store.
[[noreturn]] void fail(sqlite3* db, int rc, const std::string& doing) {
    const int primary = rc & 0xff;
    std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    std::string why;
    bool corrupt = false;
    bool sync = false;
    switch (primary) {
    case SQLITE_FULL: why = "the disk is full"; break;
    case SQLITE_CORRUPT: why = "the journal file is damaged"; corrupt = true; break;
    case SQLITE_NOTADB: why = "the journal file is not a SQLite database"; corrupt = true; break;
    case SQLITE_READONLY: why = "the journal file is read-only"; break;
    case SQLITE_CANTOPEN: why = "the journal file cannot be opened"; break;
    case SQLITE_PERM: why = "permission denied"; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: why = "the journal is locked by another connection"; break;
    case SQLITE_IOERR:
        if (rc == SQLITE_IOERR_FSYNC || rc == SQLITE_IOERR_DIR_FSYNC) {
            why = "syncing the journal to disk failed";
            sync = true;
        } else {
            why = "an I/O error occurred";
        }
        if (db != nullptr) {
            const int err = sqlite3_system_errno(db);
            if (err == ENOSPC) why = "the disk is full";
            if (err != 0) detail += "; " + errno_text(err);
        }
        break;
    default: why = "SQLite failed"; break;
    }
    throw JournalFailure(doing + ": " + why, "SQLite: " + detail, corrupt, sync);
}

struct Statement {
    sqlite3_stmt* stmt = nullptr;
    ~Statement() { sqlite3_finalize(stmt); }
};

void exec(sqlite3* db, const char* sql, const std::string& doing) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(db, rc, doing);
}

sqlite3* open_connection(const std::filesystem::path& file, bool create, bool full_sync) {
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
    const int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        try {
            fail(db, rc, "opening the journal");
        } catch (...) {
            sqlite3_close(db);
            throw;
        }
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 10000);
    int off = 0;
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &off);
    try {
        // journal_mode=WAL must read the file: a damaged or foreign file fails here.
        sqlite3_stmt* st = nullptr;
        int r = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, nullptr);
        if (r != SQLITE_OK) fail(db, r, "opening the journal");
        Statement guard{st};
        r = sqlite3_step(st);
        if (r != SQLITE_ROW) fail(db, r, "opening the journal");
        const char* mode = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        if (mode == nullptr || std::strcmp(mode, "wal") != 0)
            throw JournalFailure("opening the journal: it cannot be switched to write-ahead logging", "", false, false);
        exec(db, full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", "opening the journal");
        exec(db, "PRAGMA wal_autocheckpoint=0", "opening the journal");
        int one = 1;
        sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
    } catch (...) {
        sqlite3_close(db);
        throw;
    }
    return db;
}

}  // namespace

struct JournalDb::Impl {
    sqlite3* db = nullptr;          // the writer's connection
    sqlite3* maintenance = nullptr;  // WAL checkpoints (synchronous=FULL)
    sqlite3_stmt* insert = nullptr;
    int wal_fd = -1;
    std::filesystem::path file;
};

JournalDb::JournalDb(const std::filesystem::path& file, bool sync_each_commit) : impl_(std::make_unique<Impl>()) {
    impl_->file = file;
    try {
        impl_->db = open_connection(file, true, sync_each_commit);
        exec(impl_->db,
             "CREATE TABLE IF NOT EXISTS store_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
             "CREATE TABLE IF NOT EXISTS batches("
             " id INTEGER PRIMARY KEY,"
             " first_sequence INTEGER NOT NULL,"
             " last_sequence INTEGER NOT NULL,"
             " committed_at INTEGER NOT NULL,"
             " events INTEGER NOT NULL,"
             " model_changes INTEGER NOT NULL,"
             " payload BLOB NOT NULL);"
             "INSERT OR IGNORE INTO store_meta VALUES('format', 'twinsim-store');"
             "INSERT OR IGNORE INTO store_meta VALUES('schema_version', '1');",
             "creating the journal's tables");
        {
            Statement st;
            int rc = sqlite3_prepare_v2(impl_->db, "SELECT value FROM store_meta WHERE key='schema_version'", -1, &st.stmt,
                                        nullptr);
            if (rc != SQLITE_OK) fail(impl_->db, rc, "reading the journal's schema version");
            rc = sqlite3_step(st.stmt);
            if (rc != SQLITE_ROW) fail(impl_->db, rc, "reading the journal's schema version");
            const char* v = reinterpret_cast<const char*>(sqlite3_column_text(st.stmt, 0));
            if (v == nullptr || std::string(v) != std::to_string(schema_version))
                throw JournalFailure("the journal has schema version " + std::string(v ? v : "?") +
                                         ", this build reads version " + std::to_string(schema_version),
                                     "", true, false);
        }
        const int rc = sqlite3_prepare_v3(impl_->db, "INSERT INTO batches VALUES(?,?,?,?,?,?,?)", -1,
                                          SQLITE_PREPARE_PERSISTENT, &impl_->insert, nullptr);
        if (rc != SQLITE_OK) fail(impl_->db, rc, "preparing the journal");
        impl_->maintenance = open_connection(file, false, true);
        const char* wal = sqlite3_filename_wal(sqlite3_db_filename(impl_->db, "main"));
        impl_->wal_fd = ::open(wal, O_RDONLY | O_CLOEXEC);
        if (impl_->wal_fd < 0) {
            const int err = errno;
            throw JournalFailure("opening the journal's write-ahead log " + std::string(wal) + " failed", errno_text(err),
                                 false, false);
        }
    } catch (...) {
        close();
        throw;
    }
}

JournalDb::~JournalDb() { close(); }

void JournalDb::close() noexcept {
    if (!impl_) return;
    if (impl_->insert != nullptr) sqlite3_finalize(impl_->insert);
    impl_->insert = nullptr;
    if (impl_->maintenance != nullptr) sqlite3_close(impl_->maintenance);
    impl_->maintenance = nullptr;
    if (impl_->db != nullptr) sqlite3_close(impl_->db);
    impl_->db = nullptr;
    if (impl_->wal_fd >= 0) ::close(impl_->wal_fd);
    impl_->wal_fd = -1;
}

void JournalDb::append(std::uint64_t batch, std::uint64_t first_sequence, std::uint64_t last_sequence,
                       std::int64_t time_ns, std::uint64_t events, std::uint64_t model_changes,
                       std::string_view payload) {
    sqlite3_stmt* st = impl_->insert;
    if (st == nullptr) throw JournalFailure("the journal is closed", "", false, false);
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(batch));
    sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(first_sequence));
    sqlite3_bind_int64(st, 3, static_cast<sqlite3_int64>(last_sequence));
    sqlite3_bind_int64(st, 4, time_ns);
    sqlite3_bind_int64(st, 5, static_cast<sqlite3_int64>(events));
    sqlite3_bind_int64(st, 6, static_cast<sqlite3_int64>(model_changes));
    if (sqlite3_bind_blob64(st, 7, payload.data(), payload.size(), SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_clear_bindings(st);
        throw JournalFailure("batch " + std::to_string(batch) + " is too large for the journal (" +
                                 std::to_string(payload.size()) + " bytes; the limit is " +
                                 std::to_string(sqlite3_limit(impl_->db, SQLITE_LIMIT_LENGTH, -1)) + ")",
                             "", false, false);
    }
    const int rc = sqlite3_step(st);
    sqlite3_clear_bindings(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) fail(impl_->db, rc, "writing batch " + std::to_string(batch) + " to the journal");
}

void JournalDb::append_all(const std::vector<PendingRow>& rows) {
    if (rows.empty()) return;
    if (impl_->db == nullptr) throw JournalFailure("the journal is closed", "", false, false);
    if (rows.size() == 1) {
        const PendingRow& r = rows.front();
        append(r.batch, r.first_sequence, r.last_sequence, r.time_ns, r.events, r.model_changes, r.payload);
        return;
    }
    exec(impl_->db, "BEGIN IMMEDIATE", "writing batches " + std::to_string(rows.front().batch) + " to " +
                                           std::to_string(rows.back().batch) + " to the journal");
    try {
        for (const PendingRow& r : rows)
            append(r.batch, r.first_sequence, r.last_sequence, r.time_ns, r.events, r.model_changes, r.payload);
        exec(impl_->db, "COMMIT", "committing batches " + std::to_string(rows.front().batch) + " to " +
                                      std::to_string(rows.back().batch) + " to the journal");
    } catch (...) {
        sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void JournalDb::read_after(std::uint64_t after, const std::function<void(const JournalRow&)>& row) {
    Statement st;
    int rc = sqlite3_prepare_v2(impl_->db, "SELECT id, payload FROM batches WHERE id > ? ORDER BY id", -1, &st.stmt,
                                nullptr);
    if (rc != SQLITE_OK) fail(impl_->db, rc, "reading the journal");
    sqlite3_bind_int64(st.stmt, 1, static_cast<sqlite3_int64>(after));
    while ((rc = sqlite3_step(st.stmt)) == SQLITE_ROW) {
        JournalRow r;
        r.batch = static_cast<std::uint64_t>(sqlite3_column_int64(st.stmt, 0));
        const void* blob = sqlite3_column_blob(st.stmt, 1);
        const int size = sqlite3_column_bytes(st.stmt, 1);
        r.payload = std::string_view(static_cast<const char*>(blob), blob != nullptr ? static_cast<std::size_t>(size) : 0);
        row(r);
    }
    if (rc != SQLITE_DONE) fail(impl_->db, rc, "reading the journal");
}

std::uint64_t JournalDb::last_batch() {
    Statement st;
    int rc = sqlite3_prepare_v2(impl_->db, "SELECT coalesce(max(id), 0) FROM batches", -1, &st.stmt, nullptr);
    if (rc != SQLITE_OK) fail(impl_->db, rc, "reading the journal");
    rc = sqlite3_step(st.stmt);
    if (rc != SQLITE_ROW) fail(impl_->db, rc, "reading the journal");
    return static_cast<std::uint64_t>(sqlite3_column_int64(st.stmt, 0));
}

void JournalDb::sync_wal() {
    if (impl_->wal_fd < 0) throw JournalFailure("the journal is closed", "", false, true);
    // fdatasync: the WAL's data and its size, without its times (as SQLite syncs it itself on Linux).
    if (::fdatasync(impl_->wal_fd) != 0) {
        const int err = errno;
        throw JournalFailure(err == ENOSPC ? "syncing the journal to disk failed: the disk is full"
                                           : "syncing the journal to disk failed",
                             errno_text(err), false, true);
    }
}

void JournalDb::checkpoint_wal() {
    if (impl_->maintenance == nullptr) return;
    const int rc = sqlite3_wal_checkpoint_v2(impl_->maintenance, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) fail(impl_->maintenance, rc, "copying the journal's log into its database");
}

}  // namespace twinsim::live::detail
