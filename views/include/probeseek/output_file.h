// An export's output: stdout, or a file written so that a failure never leaves half of it
// behind. The bytes go to a new temporary file beside the target (O_EXCL, O_NOFOLLOW), which
// commit() renames into place; without commit() (an error, an exception) it is removed. An
// existing target is replaced only with `replace`, and never through a symbolic link.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "probeseek/export.h"
#include "probeseek/fd.h"

namespace probeseek {

class OutputFile : public ExportOutput {
 public:
  // "-" or "": stdout. A name ending in ".gz" is written gzip-compressed.
  static Result<std::unique_ptr<OutputFile>> create(const std::string& path, bool replace);
  ~OutputFile() override;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  Status write(std::string_view bytes) override;
  // Flushes (and ends the gzip stream), closes, renames into place.
  Status commit();
  const std::string& path() const { return path_; }  // "-" for stdout
  bool gzip() const { return gzip_ != nullptr; }

 private:
  OutputFile() = default;
  Status flush();
  Status deflate_into(std::string_view bytes, bool finish);
  Status fail(int err, const std::string& what);

  std::string path_, dir_, name_, tmp_;
  Fd dir_fd_;
  Fd fd_;  // the temporary file, or a duplicate of stdout
  bool is_stdout_ = false;
  bool replace_ = false;
  bool committed_ = false;
  std::string buffer_;
  struct Gzip;  // zlib's stream, kept out of this header
  std::unique_ptr<Gzip> gzip_;
};

}  // namespace probeseek
