// One write transaction, rolled back unless committed: whatever fails inside it (a full disk, a
// bad row, an early return) leaves the database as it was. Every write path runs in one of
// these (SessionWriter's spans the writer's life); BEGIN/COMMIT/ROLLBACK are spelled only in
// transaction.cpp.
#pragma once

#include "probeseek/database.h"
#include "probeseek/error.h"

namespace probeseek {

class Transaction {
 public:
  // BEGIN IMMEDIATE: the write lock is taken up front, so a second writer waits (busy
  // timeout) or fails here, never half way through.
  static Result<Transaction> begin(Database& db);
  Transaction(Transaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();  // ROLLBACK unless commit() succeeded

  // COMMIT; on failure the transaction is rolled back and the error returned.
  Status commit();

 private:
  explicit Transaction(Database& db) : db_(&db) {}
  Database* db_;  // borrowed; null once committed or moved from
};

}  // namespace probeseek
