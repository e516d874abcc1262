// Small text helpers shared by the parsers (kallsyms, report text, tracefs files).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probeseek/error.h"

namespace probeseek {

std::string_view trim(std::string_view s);
// Calls fn(line) for each line of text, without copying; the last line may lack a newline.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    fn(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
}
std::vector<std::string_view> split_ws(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
std::optional<uint64_t> parse_hex(std::string_view s);
std::optional<int64_t> parse_int(std::string_view s);

// Kernel symbol names: [A-Za-z0-9_.$] only. Checked before a name reaches a file name,
// a tracefs write or generated code.
bool is_kernel_symbol_name(std::string_view s);

// Text from a kernel or a database (comm, file and function names, SQL results) made safe for a
// terminal: every text view prints through this. Control characters (C0, DEL, C1) and bytes
// that are not valid UTF-8 are shown as \xNN, so an escape sequence in a name is visible, not
// active; a backslash is doubled so the escapes cannot be forged; valid UTF-8 passes through.
// With keep_newlines, '\n' stays a line break (for multi-line views such as `tree`).
std::string printable(std::string_view s, bool keep_newlines = false);

// A C identifier ([A-Za-z_][A-Za-z0-9_]*, at most 512 characters) that is not a C keyword:
// what a name from BTF must be before it reaches generated code.
bool is_c_identifier(std::string_view s);

// Text that is safe inside a C block comment and on one terminal line: control and non-ASCII
// bytes become '?', and "*/" and "/*" are broken up ("* /", "/ *"), so a file name or a name
// from kernel data cannot end the comment it is quoted in.
std::string comment_safe(std::string_view s);

// Reads a whole file (also /proc and tracefs files, whose stat size is 0).
Result<std::string> read_whole_file(const std::string& path);
// A whole binary file, gunzipped when it is gzip (decided by content), refused as bad input
// naming the file when it (or what it inflates to) is larger than max_bytes.
Result<std::string> read_binary_file(const std::string& path, size_t max_bytes);

// Writes text to a file, replacing it; errors name the path and the errno text.
Status write_whole_file(const std::string& path, std::string_view text);
// Writes all of `text` to an open fd, retrying short writes and EINTR: 0, or the errno.
int write_all(int fd, std::string_view text);
// Creates an empty file of mode 0600 whatever the umask (it may hold kernel addresses or the
// state of the kernel's tracing); false, not an error, when it exists already.
Result<bool> create_private_file(const std::string& path);

// The current time in UTC as ISO 8601 ("2026-11-26T12:00:00Z"): when a session was imported,
// a scan or a verification ran.
std::string now_utc();

// The running kernel's release (uname -r); "" if uname fails.
std::string running_release();

// The parts with `sep` between them: join({"a", "b"}, ", ") == "a, b".
std::string join(const std::vector<std::string>& parts, std::string_view sep = ", ");

}  // namespace probeseek
