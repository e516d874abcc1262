#include "probeseek/dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace probeseek {

namespace {

struct DirClose {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

Result<std::vector<std::string>> names_in(DIR* raw, const std::string& path) {
  std::unique_ptr<DIR, DirClose> dir(raw);
  if (!dir) return runtime_error("cannot list", path, errno);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(dir.get())) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      names.emplace_back(e->d_name);
    errno = 0;
  }
  if (errno != 0) return runtime_error("cannot list", path, errno);
  return names;
}

}  // namespace

Result<std::vector<std::string>> list_directory(const std::string& path) {
  return names_in(::opendir(path.c_str()), path);
}

Result<std::vector<std::string>> list_directory_fd(int dir_fd, const std::string& path) {
  const int own = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return runtime_error("cannot list", path, errno);
  DIR* dir = ::fdopendir(own);
  if (!dir) {
    const int e = errno;
    ::close(own);
    return runtime_error("cannot list", path, e);
  }
  // A duplicate shares the original's position: start from the beginning.
  ::rewinddir(dir);
  return names_in(dir, path);
}

}  // namespace probeseek
