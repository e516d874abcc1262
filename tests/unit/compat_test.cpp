// compat on two real kernels: Debian 12's 6.1.0-56 and 6.12.118 cloud kernels, as booted in
// the lab (tests/data: BTF, /proc/kallsyms, available_filter_functions, kprobe blacklist).
#include <gtest/gtest.h>

#include <map>

#include "probeseek/compat.h"
#include "test_support.h"

namespace probeseek {
namespace {

using test::data_dir;
using test::kernel_61;

std::string kernel_612(const std::string& file) {
  return data_dir() + "/linux-6.12.118+deb12-cloud-amd64/" + file;
}

KernelFiles files_61() {
  KernelFiles f;
  f.release = "6.1.0-56-cloud-amd64";
  f.btf = kernel_61("vmlinux.btf");
  f.symbols = kernel_61("kallsyms.txt.gz");
  f.notes = "";
  f.filter_functions = kernel_61("available_filter_functions.txt.gz");
  f.blacklist = kernel_61("kprobes_blacklist.txt");
  return f;
}

KernelFiles files_612() {
  KernelFiles f;
  f.release = "6.12.118+deb12-cloud-amd64";
  f.btf = kernel_612("vmlinux.btf.gz");
  f.symbols = kernel_612("kallsyms.txt.gz");
  f.notes = kernel_612("notes.bin");
  f.filter_functions = kernel_612("available_filter_functions.txt.gz");
  f.blacklist = kernel_612("kprobes_blacklist.txt");
  return f;
}

class CompatTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    auto db = Database::open(dir_->file("k.db"));
    ASSERT_TRUE(db) << db.error().message();
    for (const auto& [files, source] : {std::pair{files_61(), std::string("tests/data 6.1")},
                                        std::pair{files_612(), std::string("tests/data 6.12")}}) {
      auto facts = read_kernel_files(files, source);
      ASSERT_TRUE(facts) << facts.error().message();
      auto input = catalog_input(*facts);
      ASSERT_TRUE(input) << input.error().message();
      auto stored = store_catalog_kernel(*db, *input, false);
      ASSERT_TRUE(stored) << stored.error().message();
    }
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string db_path() { return dir_->file("k.db"); }
  static test::TempDir* dir_;
};
test::TempDir* CompatTest::dir_ = nullptr;

TEST_F(CompatTest, Explore) {
  auto db = Database::open(db_path());
  ASSERT_TRUE(db);
  auto kernels = list_catalog_kernels(*db);
  ASSERT_TRUE(kernels);
  for (auto& k : *kernels)
    std::printf("%s build=%s symbols=%ld functions=%ld traceable=%ld blacklisted=%ld\n",
                k.name.c_str(), k.build_id.c_str(), (long)k.symbols, (long)k.functions,
                (long)k.traceable.value_or(-1), (long)k.blacklisted.value_or(-1));
  // Functions of 6.1 (traceable) whose status on 6.12 is not ok.
  auto fresh = catalog_new_functions(*db, (*kernels)[0].id, (*kernels)[1].id);  // in 6.1 not 6.12
  ASSERT_TRUE(fresh);
  std::printf("in 6.1 not in 6.12: %zu\n", fresh->size());
  std::vector<std::string> names;
  for (auto& f : *fresh)
    if ((f.flags & kCatalogTraceable) && !f.signature.empty()) names.push_back(f.name);
  std::printf("traceable with BTF: %zu\n", names.size());
  if (names.size() > 400) names.resize(400);
  CompatRequest req;
  req.functions = names;
  req.reference = "6.1.0-56-cloud-amd64";
  auto r = compat(*db, req);
  ASSERT_TRUE(r) << r.error().message();
  std::map<std::string, int> counts;
  for (auto& e : r->entries) {
    if (e.kernel == req.reference) continue;
    counts[e.status]++;
    if (!e.replacements.empty() || e.status != "absent")
      std::printf("%s: %s clones=%zu repl=%s %s\n", e.function.c_str(), e.status.c_str(),
                  e.clones.size(),
                  e.replacements.empty() ? "" : e.replacements[0].function.c_str(),
                  e.replacements.empty() ? "" : e.replacements[0].why.c_str());
  }
  for (auto& [s, n] : counts) std::printf("%s %d\n", s.c_str(), n);
  for (auto& m : r->members)
    std::printf("member %s %s.%s %s %s\n", m.kernel.c_str(), m.type.c_str(), m.member.c_str(),
                m.status.c_str(), m.member_type.c_str());
}

}  // namespace
}  // namespace probeseek
