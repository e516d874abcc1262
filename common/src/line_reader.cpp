#include "probeseek/line_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace probeseek {

struct LineReader::Impl {
  gzFile file = nullptr;  // owned; gzread passes plain files through unchanged
  std::vector<char> buf = std::vector<char>(1 << 16);
  size_t begin = 0;
  size_t end = 0;
  bool eof = false;
  std::string carry;  // a line longer than the buffer, assembled here
  ~Impl() {
    if (file) gzclose(file);
  }
};

Result<LineReader> LineReader::open(const std::string& path) {
  LineReader r;
  r.path_ = path;
  r.impl_ = std::make_unique<Impl>();
  errno = 0;
  r.impl_->file = gzopen(path.c_str(), "rb");
  if (!r.impl_->file)
    return runtime_error("cannot open", path, errno ? errno : ENOMEM,
                         "check the path and that you may read it");
  gzbuffer(r.impl_->file, 1 << 17);
  return r;
}

LineReader::LineReader(LineReader&&) noexcept = default;
LineReader& LineReader::operator=(LineReader&&) noexcept = default;
LineReader::~LineReader() = default;

bool LineReader::next(std::string_view& line) {
  Impl& s = *impl_;
  if (line_too_long_) return false;
  ++line_number_;
  s.carry.clear();
  bool using_carry = false;
  for (;;) {
    if (s.begin < s.end) {
      const char* start = s.buf.data() + s.begin;
      const void* nl = std::memchr(start, '\n', s.end - s.begin);
      if (nl) {
        size_t len = static_cast<const char*>(nl) - start;
        if (!saw_nul_ && std::memchr(start, '\0', len)) saw_nul_ = true;
        if (using_carry) {
          if (s.carry.size() + len > kMaxLineBytes) return too_long();
          s.carry.append(start, len);
          line = s.carry;
        } else {
          line = std::string_view(start, len);
        }
        s.begin += len + 1;
        return true;
      }
      // No newline in what is buffered: keep the partial line and read more.
      if (!saw_nul_ && std::memchr(start, '\0', s.end - s.begin)) saw_nul_ = true;
      if (s.carry.size() + (s.end - s.begin) > kMaxLineBytes) return too_long();
      s.carry.append(start, s.end - s.begin);
      using_carry = true;
      s.begin = s.end = 0;
    }
    if (s.eof) break;
    int n = gzread(s.file, s.buf.data(), static_cast<unsigned>(s.buf.size()));
    if (n < 0) {
      int errnum = 0;
      const char* msg = gzerror(s.file, &errnum);
      error_ = msg ? msg : "read error";
      if (errnum == Z_ERRNO) error_ = std::strerror(errno);
      s.eof = true;
      break;
    }
    if (n == 0) {
      // gzread returns 0 both at a clean end and at a truncated gzip member.
      int errnum = 0;
      const char* msg = gzerror(s.file, &errnum);
      if (errnum != Z_OK && errnum != Z_BUF_ERROR) error_ = msg ? msg : "read error";
      if (errnum == Z_BUF_ERROR) error_ = "unexpected end of file (truncated gzip stream)";
      s.eof = true;
      continue;
    }
    s.begin = 0;
    s.end = static_cast<size_t>(n);
  }
  if (using_carry && !s.carry.empty()) {
    line = s.carry;
    return true;
  }
  --line_number_;
  return false;
}

bool LineReader::too_long() {
  line_too_long_ = true;
  impl_->carry.clear();
  impl_->carry.shrink_to_fit();
  error_ = "line " + std::to_string(line_number_) + " is longer than " +
           std::to_string(kMaxLineBytes >> 20) + " MiB";
  return false;
}

Result<std::string> read_text_file(const std::string& path) {
  auto reader = LineReader::open(path);
  if (!reader) return tl::unexpected(reader.error());
  std::string out;
  std::string_view line;
  while (reader->next(line)) {
    if (out.size() + line.size() + 1 > kMaxTextFileBytes)
      return bad_input("text file larger than " + std::to_string(kMaxTextFileBytes >> 20) +
                           " MiB (at line " + std::to_string(reader->line_number()) + ")",
                       path, "pass the kernel's own file, not a copy of something else");
    out.append(line);
    out.push_back('\n');
  }
  if (reader->error_is_content())
    return bad_input("cannot read a text file: " + reader->error(), path,
                     "pass the kernel's own file, not a copy of something else");
  if (!reader->error().empty()) return runtime_error("cannot read", path + ": " + reader->error());
  return out;
}

}  // namespace probeseek
