// Streams a text file line by line, gzip-compressed or plain (decided by content), so a
// 300k-line report or a kallsyms.gz is never held in memory whole. A line longer than
// kMaxLineBytes ends the reading with an error naming the line: every text probeseek reads has
// short lines, and a gzip of one endless line (or /dev/zero) must not fill the memory.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "probeseek/error.h"

namespace probeseek {

class LineReader {
 public:
  static constexpr size_t kMaxLineBytes = size_t{1} << 20;

  static Result<LineReader> open(const std::string& path);
  LineReader(LineReader&&) noexcept;
  LineReader& operator=(LineReader&&) noexcept;
  ~LineReader();

  // Next line without its newline; false at end of file. A read error is reported by error().
  bool next(std::string_view& line);
  const std::string& path() const { return path_; }
  // Non-empty after a read error (truncated gzip stream, I/O error, a line too long).
  const std::string& error() const { return error_; }
  // The error is the content's fault (a line too long), not the system's.
  bool error_is_content() const { return line_too_long_; }
  // Lines returned so far (the current line's number).
  uint64_t line_number() const { return line_number_; }
  // Bytes of (decompressed) text consumed so far, and whether a NUL byte was seen: text
  // parsers use it to reject binary garbage early.
  bool saw_nul() const { return saw_nul_; }

 private:
  bool too_long();  // records the error; returns false
  LineReader() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  std::string error_;
  bool saw_nul_ = false;
  bool line_too_long_ = false;
  uint64_t line_number_ = 0;
};

// Whole file, decompressed when it is gzip; at most kMaxTextFileBytes (a kallsyms is tens of
// MB): more, or a line too long, is bad input naming the file.
constexpr size_t kMaxTextFileBytes = size_t{256} << 20;
Result<std::string> read_text_file(const std::string& path);

}  // namespace probeseek
