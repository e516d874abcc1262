#include "probeseek/text.h"

#include <sys/utsname.h>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <memory>

#include "probeseek/fd.h"

namespace probeseek {

std::string_view trim(std::string_view s) {
  size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  size_t e = s.size();
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
    --e;
  return s.substr(b, e - b);
}

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::optional<uint64_t> parse_hex(std::string_view s) {
  if (starts_with(s, "0x") || starts_with(s, "0X")) s.remove_prefix(2);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<int64_t> parse_int(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool is_kernel_symbol_name(std::string_view s) {
  if (s.empty() || s.size() > 512) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '$';
    if (!ok) return false;
  }
  return true;
}

namespace {

// The length of the valid UTF-8 sequence at s[i] (2 to 4), or 0 when it is not one: overlong
// forms, surrogates and code points past U+10FFFF are invalid (RFC 3629).
size_t utf8_sequence(std::string_view s, size_t i, uint32_t& code_point) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  unsigned char c = b(0);
  if (c >= 0xc2 && c <= 0xdf && cont(1)) {
    code_point = ((c & 0x1fu) << 6) | (b(1) & 0x3fu);
    return 2;
  }
  if (c >= 0xe0 && c <= 0xef && cont(1) && cont(2)) {
    code_point = ((c & 0x0fu) << 12) | ((b(1) & 0x3fu) << 6) | (b(2) & 0x3fu);
    if (code_point < 0x800 || (code_point >= 0xd800 && code_point <= 0xdfff)) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4 && cont(1) && cont(2) && cont(3)) {
    code_point =
        ((c & 0x07u) << 18) | ((b(1) & 0x3fu) << 12) | ((b(2) & 0x3fu) << 6) | (b(3) & 0x3fu);
    if (code_point < 0x10000 || code_point > 0x10ffff) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

std::string printable(std::string_view s, bool keep_newlines) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  auto escape = [&](unsigned char c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  };
  // Runs of bytes kept as they are (printable ASCII but '\\') are appended at once: a tree
  // of 20,000 lines goes through here whole.
  auto plain = [keep_newlines](unsigned char c) {
    return (c >= 0x20 && c < 0x7f && c != '\\') || (keep_newlines && c == '\n');
  };
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (plain(c)) {
      size_t end = i + 1;
      while (end < s.size() && plain(static_cast<unsigned char>(s[end]))) ++end;
      out.append(s.data() + i, end - i);
      i = end;
      continue;
    }
    if (c < 0x80) {
      if (c == '\\')
        out += "\\\\";
      else if ((c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f)
        escape(c);
      else
        out += static_cast<char>(c);
      ++i;
      continue;
    }
    uint32_t code_point = 0;
    size_t n = utf8_sequence(s, i, code_point);
    if (n == 0 || (code_point >= 0x80 && code_point <= 0x9f)) {  // invalid, or a C1 control
      for (size_t k = 0; k < std::max<size_t>(n, 1); ++k)
        escape(static_cast<unsigned char>(s[i + k]));
      i += std::max<size_t>(n, 1);
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

bool is_c_identifier(std::string_view s) {
  if (s.empty() || s.size() > 512) return false;
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!letter(s[0])) return false;
  for (char c : s)
    if (!letter(c) && !(c >= '0' && c <= '9')) return false;
  // C11 keywords (and C23's that are not kernel type names: bool and true/false are typedefs
  // and enumerators in the kernel's own headers, so they stay allowed).
  static constexpr std::string_view kKeywords[] = {
      "auto",       "break",     "case",           "char",
      "const",      "continue",  "default",        "do",
      "double",     "else",      "enum",           "extern",
      "float",      "for",       "goto",           "if",
      "inline",     "int",       "long",           "register",
      "restrict",   "return",    "short",          "signed",
      "sizeof",     "static",    "struct",         "switch",
      "typedef",    "union",     "unsigned",       "void",
      "volatile",   "while",     "_Alignas",       "_Alignof",
      "_Atomic",    "_Bool",     "_Complex",       "_Generic",
      "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local",
      "typeof",     "asm",       "__asm__",        "__attribute__"};
  for (std::string_view k : kKeywords)
    if (s == k) return false;
  return true;
}

std::string comment_safe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      out += '?';
    } else if ((c == '/' && !out.empty() && out.back() == '*') ||
               (c == '*' && !out.empty() && out.back() == '/')) {
      out += ' ';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::string> read_whole_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return runtime_error("cannot open", path, errno);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return runtime_error("cannot read", path, e);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<std::string> read_binary_file(const std::string& path, size_t max_bytes) {
  struct GzClose {
    void operator()(gzFile f) const { gzclose(f); }
  };
  errno = 0;
  // gzread passes a file that is not gzip through unchanged.
  std::unique_ptr<gzFile_s, GzClose> file(gzopen(path.c_str(), "rb"));
  if (!file) return runtime_error("cannot open", path, errno ? errno : ENOMEM);
  gzbuffer(file.get(), 1 << 17);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(file.get(), buf, sizeof buf);
    if (n < 0) {
      int errnum = 0;
      const char* msg = gzerror(file.get(), &errnum);
      if (errnum == Z_ERRNO) return runtime_error("cannot read", path, errno);
      return bad_input(std::string("damaged gzip data: ") + (msg ? msg : "?"), path,
                       "pass the file as the kernel or package wrote it");
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes)
      return bad_input("file larger than " + std::to_string(max_bytes >> 20) + " MiB", path,
                       "pass the kernel's own file, not something else");
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

int write_all(int fd, std::string_view text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    done += static_cast<size_t>(n);
  }
  return 0;
}

Status write_whole_file(const std::string& path, std::string_view text) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return runtime_error("cannot open for writing", path, errno);
  if (const int e = write_all(fd.get(), text); e != 0)
    return runtime_error("cannot write", path, e);
  if (fd.close() != 0) return runtime_error("cannot write", path, errno);
  return {};
}

Result<bool> create_private_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) {
    if (errno == EEXIST) return false;
    return runtime_error("cannot create", path, errno);
  }
  return true;
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string running_release() {
  struct utsname u {};
  return ::uname(&u) == 0 ? u.release : "";
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

}  // namespace probeseek
