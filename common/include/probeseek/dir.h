// Directory listing: the entry names of a directory, "." and ".." left out, in the order the
// file system gives them; the DIR* is closed inside, on every path.
#pragma once

#include <string>
#include <vector>

#include "probeseek/error.h"

namespace probeseek {

Result<std::vector<std::string>> list_directory(const std::string& path);
// The same for a directory the caller holds open (an O_DIRECTORY fd, not consumed: opened
// without following links, so what is listed is what was opened).
Result<std::vector<std::string>> list_directory_fd(int dir_fd, const std::string& path);

}  // namespace probeseek
