#include "twinsim/live/detail/journal_reader.hpp"

#include <sqlite3.h>

#include <string>

namespace twinsim::live::detail {

namespace {

[[noreturn]] void fail(sqlite3* db, int rc, const std::string& doing) {
    const int primary = rc & 0xff;
    const bool corrupt = primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
    std::string why = corrupt ? "the journal file is damaged or not a journal" : "SQLite failed";
    if (primary == SQLITE_CANTOPEN) why = "the journal file cannot be opened";
    if (primary == SQLITE_IOERR) why = "an I/O error occurred";
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) why = "the journal is locked by another connection";
    throw JournalFailure(doing + ": " + why, std::string("SQLite: ") + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)),
                         corrupt, false);
}

}  // namespace

struct JournalReader::Impl {
    sqlite3* db = nullptr;
    sqlite3_stmt* time_of = nullptr;
    ~Impl() {
        sqlite3_finalize(time_of);
        sqlite3_close(db);
    }
};

JournalReader::JournalReader(const std::filesystem::path& file) : impl_(std::make_unique<Impl>()) {
    const int rc = sqlite3_open_v2(file.c_str(), &impl_->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) fail(impl_->db, rc, "opening the journal for reading");
    sqlite3_extended_result_codes(impl_->db, 1);
    sqlite3_busy_timeout(impl_->db, 10000);
    const int prc = sqlite3_prepare_v2(impl_->db, "SELECT committed_at FROM batches WHERE id = ?", -1, &impl_->time_of, nullptr);
    if (prc != SQLITE_OK) fail(impl_->db, prc, "reading the journal");
}

JournalReader::~JournalReader() = default;

std::int64_t JournalReader::committed_at(std::uint64_t batch) {
    sqlite3_stmt* st = impl_->time_of;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(batch));
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        throw JournalFailure("reading the journal: batch " + std::to_string(batch) + " is missing", "", true, false);
    if (rc != SQLITE_ROW) fail(impl_->db, rc, "reading the journal");
    const std::int64_t t = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return t;
}

void JournalReader::read_range(std::uint64_t after, std::uint64_t last, const std::function<void(const JournalRow&)>& row) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(impl_->db, "SELECT id, payload FROM batches WHERE id > ? AND id <= ? ORDER BY id", -1, &st,
                                nullptr);
    if (rc != SQLITE_OK) fail(impl_->db, rc, "reading the journal");
    struct Finalize {
        sqlite3_stmt* s;
        ~Finalize() { sqlite3_finalize(s); }
    } guard{st};
    sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(after));
    sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(last));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        JournalRow r;
        r.batch = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
        const void* blob = sqlite3_column_blob(st, 1);
        const int size = sqlite3_column_bytes(st, 1);
        r.payload = std::string_view(static_cast<const char*>(blob), blob != nullptr ? static_cast<std::size_t>(size) : 0);
        row(r);
    }
    if (rc != SQLITE_DONE) fail(impl_->db, rc, "reading the journal");
}

}  // namespace twinsim::live::detail
