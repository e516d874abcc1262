// The export's output file: a temporary file beside the target, renamed into place once
// complete (the way attach/gen writes generated files), gzip through zlib for ".gz".
#include "probeseek/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>

#include "probeseek/text.h"

namespace probeseek {

namespace {

constexpr size_t kBufferBytes = 1 << 18;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

struct OutputFile::Gzip {
  z_stream z{};
  bool initialised = false;
  ~Gzip() {
    if (initialised) deflateEnd(&z);
  }
};

Result<std::unique_ptr<OutputFile>> OutputFile::create(const std::string& path, bool replace) {
  std::unique_ptr<OutputFile> f(new OutputFile());
  f->replace_ = replace;
  f->buffer_.reserve(kBufferBytes);
  if (path.empty() || path == "-") {
    f->path_ = "-";
    f->is_stdout_ = true;
    return f;
  }
  f->path_ = path;
  if (ends_with(path, "/"))
    return bad_input("the output names a directory", path, "pass -o DIR/NAME");
  const size_t slash = path.rfind('/');
  f->dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  f->name_ = slash == std::string::npos ? path : path.substr(slash + 1);
  if (f->name_ == "." || f->name_ == "..")
    return bad_input("the output names a directory", path, "pass -o DIR/NAME");
  f->dir_fd_ = Fd(::open(f->dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!f->dir_fd_) {
    // A directory that is not there is the command line's mistake (status 2).
    return probeseek::fail(
        errno == ENOENT || errno == ENOTDIR ? ErrorKind::kBadInput : ErrorKind::kRuntime,
        "cannot open the output's directory", f->dir_, errno,
        "create the directory first, or pass -o with another path");
  }
  // The target, if it exists, must be a regular file we may replace: never written through.
  struct stat st {};
  if (::fstatat(f->dir_fd_.get(), f->name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode))
      return bad_input("will not write through a symbolic link", path,
                       "remove the link, or pass another -o FILE");
    if (!S_ISREG(st.st_mode))
      return bad_input("is in the way and not a regular file", path, "pass another -o FILE");
    if (!replace)
      return bad_input("already exists", path, "pass --force to replace it, or another -o FILE");
  } else if (errno != ENOENT) {
    return runtime_error("cannot check", path, errno);
  }
  for (int attempt = 0; attempt < 100 && !f->fd_; ++attempt) {
    f->tmp_ = "." + f->name_ + ".tmp" + std::to_string(::getpid()) + "_" + std::to_string(attempt);
    f->fd_ = Fd(::openat(f->dir_fd_.get(), f->tmp_.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!f->fd_ && errno != EEXIST) {
      int err = errno;
      f->tmp_.clear();
      return runtime_error("cannot create", path, err,
                           "check that the directory is writable, or pass -o with another path");
    }
  }
  if (!f->fd_) {
    f->tmp_.clear();
    return runtime_error("cannot create a temporary file for", path, EEXIST);
  }
  if (ends_with(path, ".gz")) {
    f->gzip_ = std::make_unique<Gzip>();
    // windowBits 15 + 16: a gzip header and trailer rather than zlib's.
    if (deflateInit2(&f->gzip_->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
      return runtime_error("cannot start gzip compression (zlib)", path, ENOMEM);
    f->gzip_->initialised = true;
  }
  return f;
}

OutputFile::~OutputFile() {
  if (!committed_ && !tmp_.empty()) ::unlinkat(dir_fd_.get(), tmp_.c_str(), 0);
}

Status OutputFile::fail(int err, const std::string& what) {
  if (!tmp_.empty()) {
    ::unlinkat(dir_fd_.get(), tmp_.c_str(), 0);
    tmp_.clear();
  }
  return runtime_error(what, is_stdout_ ? "standard output" : path_, err,
                       is_stdout_ ? "" : "check the free space of the output's filesystem");
}

Status OutputFile::write(std::string_view bytes) {
  if (committed_) return runtime_error("write after commit", path_);
  buffer_.append(bytes);
  if (buffer_.size() >= kBufferBytes) return flush();
  return {};
}

Status OutputFile::deflate_into(std::string_view bytes, bool finish) {
  z_stream& z = gzip_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  char out[1 << 16];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = sizeof out;
    int rc = deflate(&z, finish ? Z_FINISH : Z_NO_FLUSH);
    if (rc == Z_STREAM_ERROR) return fail(EIO, "gzip compression failed");
    size_t produced = sizeof out - z.avail_out;
    if (produced > 0) {
      if (int e = write_all(fd_.get(), std::string_view(out, produced)); e != 0)
        return fail(e, "cannot write");
    }
    if (finish ? rc == Z_STREAM_END : z.avail_in == 0 && z.avail_out != 0) return {};
  }
}

Status OutputFile::flush() {
  if (buffer_.empty()) return {};
  Status s;
  if (gzip_) {
    s = deflate_into(buffer_, false);
  } else if (int e = write_all(is_stdout_ ? STDOUT_FILENO : fd_.get(), buffer_); e != 0) {
    s = fail(e, "cannot write");
  }
  buffer_.clear();
  return s;
}

Status OutputFile::commit() {
  if (committed_) return {};
  if (auto s = flush(); !s) return s;
  if (is_stdout_) {
    committed_ = true;
    return {};
  }
  if (gzip_) {
    if (auto s = deflate_into({}, true); !s) return s;
  }
  if (fd_.close() != 0) return fail(errno, "cannot write");
  // Without --force the name must still be free: RENAME_NOREPLACE, or link(2) where the
  // filesystem does not have it. rename(2) replaces a link itself, never what it points to.
  const int dir = dir_fd_.get();
  if (replace_) {
    if (::renameat(dir, tmp_.c_str(), dir, name_.c_str()) != 0)
      return fail(errno, "cannot rename into place");
  } else if (::renameat2(dir, tmp_.c_str(), dir, name_.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) {
      (void)fail(EEXIST, "");
      return bad_input("already exists", path_, "pass --force to replace it, or another -o FILE");
    }
    if (errno != EINVAL && errno != ENOSYS) return fail(errno, "cannot rename into place");
    if (::linkat(dir, tmp_.c_str(), dir, name_.c_str(), 0) != 0) {
      if (errno == EEXIST) {
        (void)fail(EEXIST, "");
        return bad_input("already exists", path_, "pass --force to replace it, or another -o FILE");
      }
      return fail(errno, "cannot link into place");
    }
    ::unlinkat(dir, tmp_.c_str(), 0);
  }
  tmp_.clear();
  committed_ = true;
  return {};
}

}  // namespace probeseek
