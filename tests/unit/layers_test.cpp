// Issue 12: the layer of a candidate (dispatcher, implementation, siblings) and the hook set,
// on real recordings: tests/data/linux-6.1.0-57-cloud-amd64/read.db.gz (probeseek record in
// the lab: dd of a tmpfs, a procfs and a sysfs file, with the record-time scan of /proc/kcore)
// and curl_v4.dat of 6.1.0-56 (trace-cmd, imported with BTF; no kernel memory read).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "layers.h"
#include "test_support.h"

namespace probeseek {
namespace {

using nlohmann::json;
using test::kernel_61;
using test::run_probeseek;

using test::contains;

// Every reason, better and worse line of a rank candidate or an explanation.
std::vector<std::string> lines_of(const json& j) {
  std::vector<std::string> out;
  for (const char* key : {"reasons", "better", "worse"})
    if (j.contains(key))
      for (auto& r : j[key]) out.push_back(r.get<std::string>());
  return out;
}

class Layers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    read_db_ = dir_->file("read.db");
    std::string gz = test::data_dir() + "/linux-6.1.0-57-cloud-amd64/read.db.gz";
    ASSERT_EQ(std::system(("gzip -dc " + gz + " > " + read_db_).c_str()), 0);
    curl_db_ = dir_->file("curl.db");
    auto r = run_probeseek("import --db " + curl_db_ + " --btf " + kernel_61("vmlinux.btf") +
                           " --kallsyms " + kernel_61("kallsyms.txt.gz") + " " +
                           kernel_61("curl_v4.dat"));
    ASSERT_EQ(r.status, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static json run_json(const std::string& args) {
    auto r = run_probeseek(args + " --json");
    EXPECT_EQ(r.status, 0) << r.err;
    return r.status == 0 ? json::parse(r.out) : json();
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline std::string read_db_, curl_db_;
};

TEST_F(Layers, VfsReadIsTheDispatcherOfReadIterOnTheReadRecording) {
  json ranked = run_json("rank --db " + read_db_ +
                         " --arg 'struct file *' --under __x64_sys_read --complete");
  ASSERT_FALSE(ranked["candidates"].empty());
  const json& top = ranked["candidates"][0];
  EXPECT_EQ(top["function"], "vfs_read") << ranked.dump(1);
  EXPECT_EQ(top["layer"]["kind"], "dispatcher");
  const json& d = top["layer"]["dispatches"][0];
  EXPECT_EQ(d["struct"], "file_operations");
  EXPECT_EQ(d["member"], "read_iter");
  // The three filesystems read, each verified in its table in kernel memory.
  std::string seen = d["implementations"].dump();
  for (const char* f : {"shmem_file_read_iter", "proc_reg_read_iter", "kernfs_fop_read_iter"})
    EXPECT_TRUE(contains(seen, f)) << seen;
  EXPECT_EQ(d["verified"], 3);
  EXPECT_EQ(top["layer"]["shapes"], json::array({"file_operations.read"}));
  for (const std::string& line : lines_of(top)) {
    EXPECT_FALSE(contains(line, "implements")) << line;
    EXPECT_FALSE(contains(line, "no ops table in kernel memory held it")) << line;
  }
  EXPECT_TRUE(contains(top["reasons"].dump(), "dispatcher of file_operations.read_iter"));
  // The hook set of a dispatcher is itself, with what it covers and the way to narrow it.
  EXPECT_EQ(ranked["hook_set"]["functions"], json::array({"vfs_read"}));
  EXPECT_TRUE(contains(ranked["hook_set"]["covers"], "every implementation"));
  EXPECT_TRUE(contains(ranked["hook_set"]["alternative"], "shmem_file_read_iter"));

  json ex = run_json("explain --db " + read_db_ + " vfs_read");
  EXPECT_EQ(ex["layer"]["kind"], "dispatcher");
  for (const std::string& line : lines_of(ex)) {
    EXPECT_FALSE(contains(line, "implements")) << line;
    EXPECT_FALSE(contains(line, "no ops table in kernel memory held it")) << line;
    EXPECT_FALSE(contains(line, "fits no ops-table member")) << line;
  }
}

TEST_F(Layers, AnImplementationListsItsSiblingsFromKernelMemory) {
  json ex = run_json("explain --db " + read_db_ + " shmem_file_read_iter");
  const json& layer = ex["layer"];
  EXPECT_EQ(layer["kind"], "implementation");
  EXPECT_EQ(layer["implements"][0]["member"], "read_iter");
  EXPECT_EQ(layer["implements"][0]["verified"], true);
  EXPECT_TRUE(contains(layer["implements"][0]["tables"].dump(), "shmem_file_operations"));
  EXPECT_TRUE(contains(layer["siblings_source"], "kernel memory"));
  bool kernfs = false;
  for (const json& s : layer["siblings"]) {
    EXPECT_NE(s["function"], "shmem_file_read_iter");
    EXPECT_EQ(s["member"], "read_iter");
    EXPECT_FALSE(s["table"].is_null());
    kernfs |= s["function"] == "kernfs_fop_read_iter" && s["table"] == "kernfs_file_fops" &&
              s["recorded"] == true;
  }
  EXPECT_TRUE(kernfs) << layer["siblings"].dump(1);
}

TEST_F(Layers, TcpV4ConnectStaysAnImplementationAndItsSetHasTcpV6Connect) {
  json ranked = run_json("rank --db " + curl_db_ +
                         " --arg 'struct sock *' --under __x64_sys_connect --complete");
  ASSERT_FALSE(ranked["candidates"].empty());
  const json& top = ranked["candidates"][0];
  EXPECT_EQ(top["function"], "tcp_v4_connect");
  EXPECT_EQ(top["layer"]["kind"], "implementation");
  EXPECT_EQ(top["layer"]["implements"][0]["struct"], "proto");
  EXPECT_EQ(top["layer"]["implements"][0]["member"], "connect");
  // No kernel memory was read for this import: by prototype and name, and said so.
  EXPECT_EQ(top["layer"]["implements"][0]["verified"], false);
  EXPECT_TRUE(contains(top["layer"]["summary"], "no table read from kernel memory"));
  EXPECT_EQ(ranked["hook_set"]["functions"], json::array({"tcp_v4_connect", "tcp_v6_connect"}));
  EXPECT_TRUE(contains(ranked["hook_set"]["why"][1], "BTF"));
  EXPECT_TRUE(contains(ranked["hook_set"]["trade_off"], "unknown"));

  auto text = run_probeseek("explain --db " + curl_db_ + " tcp_v4_connect");
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "layer: implementation")) << text.out;
  EXPECT_TRUE(contains(text.out, "proto.connect = tcp_v6_connect  [same family]")) << text.out;
  EXPECT_TRUE(contains(text.out, "hook set (2 functions): tcp_v4_connect tcp_v6_connect"));
}

TEST(FamilyKey, TakesOutTheAddressFamily) {
  using layers::family_key;
  EXPECT_EQ(family_key("tcp_v4_connect"), "tcp_connect");
  EXPECT_EQ(family_key("tcp_v6_connect"), "tcp_connect");
  EXPECT_EQ(family_key("tcpv6_prot"), "tcp_prot");
  EXPECT_EQ(family_key("tcp_prot"), "tcp_prot");
  EXPECT_EQ(family_key("ip4_datagram_connect"), family_key("ip6_datagram_connect"));
  EXPECT_EQ(family_key("inet6_stream_ops"), "inet_stream_ops");
  EXPECT_EQ(family_key("__ipv6_sock_mc_join"), "__sock_mc_join");
  EXPECT_NE(family_key("mptcp_connect"), family_key("tcp_v4_connect"));
  EXPECT_EQ(family_key("x86_pmu_read"), "x86_pmu_read") << "a digit after a digit stays";
}

}  // namespace
}  // namespace probeseek
