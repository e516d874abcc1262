#include "probeseek/transaction.h"

namespace probeseek {

Result<Transaction> Transaction::begin(Database& db) {
  if (auto s = db.exec("BEGIN IMMEDIATE"); !s) return tl::unexpected(s.error());
  return Transaction(db);
}

Transaction::~Transaction() {
  if (db_) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Database* db = db_;
  if (!db) return runtime_error("no transaction to commit", "");
  auto s = db->exec("COMMIT");
  if (s) db_ = nullptr;  // else the destructor rolls back
  return s;
}

}  // namespace probeseek
