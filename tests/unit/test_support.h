// Helpers shared by the tests: fixture paths, temporary directories, running the binary.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace probeseek::test {

inline std::string data_dir() {
  const char* env = std::getenv("PROBESEEK_TEST_DATA");
  return env ? env : PROBESEEK_TEST_DATA;
}
inline std::string kernel_61(const std::string& file) {
  return data_dir() + "/linux-6.1.0-56-cloud-amd64/" + file;
}

// A directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "probeseek-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs the probeseek binary with a shell command line; stdout and stderr captured apart.
inline RunResult run_probeseek(const std::string& args) {
  static int counter = 0;
  std::string err_file =
      (std::filesystem::temp_directory_path() /
       ("probeseek-stderr-" + std::to_string(getpid()) + "-" + std::to_string(counter++)))
          .string();
  std::string cmd = std::string(PROBESEEK_BINARY) + " " + args + " 2>" + err_file;
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 65536> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream f(err_file);
  std::stringstream ss;
  ss << f.rdbuf();
  r.err = ss.str();
  std::filesystem::remove(err_file);
  return r;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

}  // namespace probeseek::test
