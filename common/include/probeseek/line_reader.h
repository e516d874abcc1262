// Streams a text file line by line, gzip-compressed or plain (decided by content), so a
// 300k-line report or a kallsyms.gz is never held in memory whole.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "probeseek/error.h"

namespace probeseek {

class LineReader {
 public:
  static Result<LineReader> open(const std::string& path);
  LineReader(LineReader&&) noexcept;
  LineReader& operator=(LineReader&&) noexcept;
  ~LineReader();

  // Next line without its newline; false at end of file. A read error is reported by error().
  bool next(std::string_view& line);
  const std::string& path() const { return path_; }
  // Non-empty after a read error (truncated gzip stream, I/O error).
  const std::string& error() const { return error_; }
  // Bytes of (decompressed) text consumed so far, and whether a NUL byte was seen: text
  // parsers use it to reject binary garbage early.
  bool saw_nul() const { return saw_nul_; }

 private:
  LineReader() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  std::string error_;
  bool saw_nul_ = false;
};

// Whole file, decompressed when it is gzip.
Result<std::string> read_text_file(const std::string& path);

}  // namespace probeseek
