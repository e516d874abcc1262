// Module BTF (split BTF over vmlinux's) in import, rank and explain. The real 6.1 fixtures hold
// no module function (their kallsyms has no "[module]" line), so the kernel and module are
// built here with libbpf: a base with struct sock and an ops table struct proto, and module
// "mymod" whose functions take struct sock * (a base type) and its own struct mymod_priv *.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <bpf/btf.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "probeseek/explain.h"
#include "probeseek/module_btf.h"
#include "probeseek/rank.h"
#include "test_support.h"

namespace probeseek {
namespace {

using nlohmann::json;
using test::run_probeseek;

std::string raw_of(const struct btf* btf) {
  __u32 size = 0;
  const void* data = btf__raw_data(btf, &size);
  return std::string(static_cast<const char*>(data), size);
}

struct BtfDeleter {
  void operator()(struct btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<struct btf, BtfDeleter>;

// Writes DIR/vmlinux and DIR/mymod (the layout of /sys/kernel/btf). `variant` changes the
// module's bytes (an extra type) without changing what the tests look at.
void write_kernel_btf(const std::string& dir, int variant = 0) {
  std::filesystem::create_directories(dir);
  BtfPtr base(btf__new_empty());
  struct btf* b = base.get();
  const int int_id = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
  const int sock = btf__add_struct(b, "sock", 4);
  btf__add_field(b, "family", int_id, 0, 0);
  const int sock_ptr = btf__add_ptr(b, sock);
  const int connect_proto = btf__add_func_proto(b, int_id);
  btf__add_func_param(b, "sk", sock_ptr);
  btf__add_func_param(b, "len", int_id);
  const int connect_ptr = btf__add_ptr(b, connect_proto);
  const int proto = btf__add_struct(b, "proto", 8);
  btf__add_field(b, "connect", connect_ptr, 0, 0);
  const int entry_proto = btf__add_func_proto(b, int_id);
  btf__add_func_param(b, "sk", sock_ptr);
  btf__add_func(b, "vm_entry", BTF_FUNC_GLOBAL, entry_proto);
  ASSERT_GT(proto, 0);
  test::write_file(dir + "/vmlinux", raw_of(b));

  BtfPtr split(btf__new_empty_split(b));
  struct btf* m = split.get();
  const int priv = btf__add_struct(m, "mymod_priv", 4);
  btf__add_field(m, "n", int_id, 0, 0);
  const int priv_ptr = btf__add_ptr(m, priv);
  // Its own FUNC_PROTO, spelled like struct proto's connect: fits compare structure, not ids.
  const int mod_connect_proto = btf__add_func_proto(m, int_id);
  btf__add_func_param(m, "sk", sock_ptr);
  btf__add_func_param(m, "addr_len", int_id);
  btf__add_func(m, "mymod_connect", BTF_FUNC_STATIC, mod_connect_proto);
  const int helper_proto = btf__add_func_proto(m, int_id);
  btf__add_func_param(m, "p", priv_ptr);
  btf__add_func_param(m, "sk", sock_ptr);
  btf__add_func(m, "mymod_helper", BTF_FUNC_STATIC, helper_proto);
  // An ops table only the module has.
  const int helper_ptr = btf__add_ptr(m, helper_proto);
  btf__add_struct(m, "mymod_ops", 8);
  btf__add_field(m, "helper", helper_ptr, 0, 0);
  if (variant != 0) btf__add_int(m, "mymod_variant", 4, 0);
  test::write_file(dir + "/mymod", raw_of(m));
}

constexpr const char* kKallsyms =
    "ffffffff81000000 T vm_entry\n"
    "ffffffffc0001000 t mymod_connect\t[mymod]\n"
    "ffffffffc0001100 t mymod_helper\t[mymod]\n"
    "ffffffffc0002000 t other_fn\t[othermod]\n";

constexpr const char* kTrace = R"(cpus=1
             app-100   [000]    10.000000: funcgraph_entry:                   |  vm_entry() {
             app-100   [000]    10.000001: funcgraph_entry:                   |    mymod_connect() {
             app-100   [000]    10.000002: funcgraph_entry:        1.000 us   |      mymod_helper();
             app-100   [000]    10.000004: funcgraph_exit:         3.000 us   |    }
             app-100   [000]    10.000005: funcgraph_entry:        1.000 us   |    other_fn();
             app-100   [000]    10.000007: funcgraph_exit:         7.000 us   |  }
)";

class ModuleBtf : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_ = dir_.file("btf");
    write_kernel_btf(kernel_);
    test::write_file(dir_.file("kallsyms.txt"), kKallsyms);
    trace_ = dir_.file("app.report.txt");
    test::write_file(trace_, kTrace);
    db_ = dir_.file("m.db");
  }
  test::RunResult import(const std::string& args) {
    return run_probeseek("import --db " + db_ + " --kallsyms " + dir_.file("kallsyms.txt") + " " +
                         args);
  }
  json rank_json(const std::string& args, std::string* err = nullptr) {
    auto r = run_probeseek("rank --db " + db_ + " --json --limit 0 " + args);
    EXPECT_EQ(r.status, 0) << r.err;
    if (err) *err = r.err;
    return json::parse(r.out);
  }
  static const json* find(const json& ranked, const std::string& function) {
    for (auto& c : ranked)
      if (c["function"] == function) return &c;
    return nullptr;
  }
  int64_t count(const std::string& table) {
    auto db = Database::open(db_, Database::Mode::kReadOnly);
    EXPECT_TRUE(db);
    auto st = db->prepare("SELECT count(*) FROM " + table);
    EXPECT_TRUE(st);
    EXPECT_TRUE(st->step().value_or(false));
    return st->int_at(0);
  }
  test::TempDir dir_;
  std::string kernel_, trace_, db_;
};

TEST_F(ModuleBtf, RankFindsModuleFunctionsByArgumentTypeInTheBase) {
  auto r = import("--btf " + kernel_ + "/vmlinux --module-btf " + kernel_ + " " + trace_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("stored BTF of 1 module(s)"), std::string::npos) << r.err;
  // othermod has functions in the session but no file in the directory.
  EXPECT_NE(r.err.find("othermod"), std::string::npos) << r.err;

  std::string err;
  json ranked = rank_json("--arg 'struct sock *'", &err);
  const json* helper = find(ranked, "mymod_helper");
  ASSERT_NE(helper, nullptr) << ranked.dump(1);
  EXPECT_EQ((*helper)["arg_positions"], json::array({1}));
  EXPECT_EQ((*helper)["prototype"], "int mymod_helper(struct mymod_priv *p, struct sock *sk)");
  EXPECT_EQ((*helper)["module"], "mymod");
  EXPECT_EQ((*helper)["prototype_source"], "BTF of module mymod (stored with the session)");
  // The module's own ops table is known, as are vmlinux's.
  ASSERT_FALSE((*helper)["ops"].empty());
  EXPECT_EQ((*helper)["ops"][0]["struct"], "mymod_ops");

  const json* connect = find(ranked, "mymod_connect");
  ASSERT_NE(connect, nullptr) << ranked.dump(1);
  EXPECT_EQ((*connect)["arg_positions"], json::array({0}));
  ASSERT_FALSE((*connect)["ops"].empty()) << connect->dump(1);
  EXPECT_EQ((*connect)["ops"][0]["struct"], "proto");
  EXPECT_EQ((*connect)["ops"][0]["member"], "connect");
  EXPECT_EQ((*connect)["ops"][0]["strength"], "strong");

  const json* entry = find(ranked, "vm_entry");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ((*entry)["module"], nullptr);
  // other_fn has no prototype, so --arg cannot keep it; the warning says why and what to do.
  EXPECT_EQ(find(ranked, "other_fn"), nullptr);
  EXPECT_NE(err.find("othermod without BTF"), std::string::npos) << err;
  EXPECT_NE(err.find("--module-btf"), std::string::npos) << err;

  // A type only the module has is accepted as well.
  json priv = rank_json("--arg 'struct mymod_priv *'");
  EXPECT_NE(find(priv, "mymod_helper"), nullptr) << priv.dump(1);
}

TEST_F(ModuleBtf, RankReasonsNameAModuleWithoutBtf) {
  ASSERT_EQ(import("--btf " + kernel_ + "/vmlinux --module-btf " + kernel_ + " " + trace_).status,
            0);
  json ranked = rank_json("");
  const json* other = find(ranked, "other_fn");
  ASSERT_NE(other, nullptr) << ranked.dump(1);
  EXPECT_EQ((*other)["prototype"], nullptr);
  EXPECT_EQ((*other)["module"], "othermod");
  bool said = false;
  for (auto& reason : (*other)["reasons"]) {
    std::string text = reason;
    said |= text.find("in module othermod") != std::string::npos &&
            text.find("--module-btf") != std::string::npos;
  }
  EXPECT_TRUE(said) << other->dump(1);
}

TEST_F(ModuleBtf, ExplainSaysWhereTheModulePrototypeCameFrom) {
  ASSERT_EQ(import("--btf " + kernel_ + "/vmlinux --module-btf " + kernel_ + " " + trace_).status,
            0);
  auto r = run_probeseek("explain --db " + db_ + " --json mymod_helper");
  ASSERT_EQ(r.status, 0) << r.err;
  json ex = json::parse(r.out);
  EXPECT_EQ(ex["prototype"], "int mymod_helper(struct mymod_priv *p, struct sock *sk)");
  EXPECT_EQ(ex["module"], "mymod");
  EXPECT_NE(ex["btf"].get<std::string>().find("BTF of module mymod (stored with the session)"),
            std::string::npos)
      << ex["btf"];
  ASSERT_FALSE(ex["ops"].empty());
  EXPECT_EQ(ex["ops"][0]["struct"], "mymod_ops");

  auto text = run_probeseek("explain --db " + db_ + " mymod_connect");
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("int mymod_connect(struct sock *sk, int addr_len)"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("module: mymod"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("struct proto member connect"), std::string::npos) << text.out;

  auto other = run_probeseek("explain --db " + db_ + " other_fn");
  ASSERT_EQ(other.status, 0) << other.err;
  EXPECT_NE(other.err.find("other_fn is in module othermod"), std::string::npos) << other.err;
  EXPECT_NE(other.err.find("--module-btf"), std::string::npos) << other.err;
}

TEST_F(ModuleBtf, LiveModuleBtfIsReadNextToTheLiveVmlinux) {
  // No stored BTF at all: the running kernel's (here: a directory standing in for
  // /sys/kernel/btf) is used, and module BTF is read from the same directory.
  ASSERT_EQ(import(trace_).status, 0);
  auto db = Database::open(db_, Database::Mode::kReadOnly);
  ASSERT_TRUE(db);
  RankRequest req;
  req.live.btf = kernel_ + "/vmlinux";
  req.arg = "struct sock *";
  req.limit = 0;
  auto ranked = rank(*db, req);
  ASSERT_TRUE(ranked) << ranked.error().message();
  const Candidate* helper = nullptr;
  for (auto& c : ranked->candidates)
    if (c.function == "mymod_helper") helper = &c;
  ASSERT_NE(helper, nullptr);
  EXPECT_EQ(helper->arg_positions, std::vector<int>{1});
  EXPECT_EQ(helper->prototype_source, "BTF of module mymod (" + kernel_ + "/mymod)");

  ExplainRequest ereq;
  ereq.function = "mymod_connect";
  ereq.live.btf = kernel_ + "/vmlinux";
  auto ex = explain(*db, ereq);
  ASSERT_TRUE(ex) << ex.error().message();
  ASSERT_TRUE(ex->prototype);
  EXPECT_EQ(ex->prototype->to_string(), "int mymod_connect(struct sock *sk, int addr_len)");
  EXPECT_NE(ex->btf_source.find("(" + kernel_ + "/mymod)"), std::string::npos) << ex->btf_source;
  bool missing = false;
  for (auto& w : ex->warnings) missing |= w.find("othermod") != std::string::npos;
  EXPECT_FALSE(missing) << "only other_fn's module lacks BTF, and it is not explained here";

  ereq.function = "other_fn";
  auto other = explain(*db, ereq);
  ASSERT_TRUE(other) << other.error().message();
  bool said = false;
  for (auto& w : other->warnings)
    said |= w.find(kernel_ + "/othermod does not exist") != std::string::npos;
  EXPECT_TRUE(said);
}

TEST_F(ModuleBtf, ModuleBtfIsStoredOncePerBaseAndModule) {
  ASSERT_EQ(import("--btf " + kernel_ + "/vmlinux --module-btf " + kernel_ + " --name a " + trace_)
                .status,
            0);
  ASSERT_EQ(import("--btf " + kernel_ + "/vmlinux --module-btf " + kernel_ + " --name b " + trace_)
                .status,
            0);
  EXPECT_EQ(count("btfs"), 1);
  EXPECT_EQ(count("module_btfs"), 1);

  auto db = Database::open(db_);
  ASSERT_TRUE(db);
  auto base = find_btf(*db, test::read_file(kernel_ + "/vmlinux"));
  ASSERT_TRUE(base && *base);
  std::string bytes = test::read_file(kernel_ + "/mymod");
  ASSERT_TRUE(db->exec("BEGIN"));
  auto again = store_module_btf(*db, **base, "mymod", bytes, "again");
  ASSERT_TRUE(again);
  // Other bytes for the same module of the same kernel: the newer copy replaces the old one.
  write_kernel_btf(dir_.file("v1"), 1);
  std::string changed = test::read_file(dir_.file("v1") + "/mymod");
  ASSERT_NE(changed, bytes);
  auto replaced = store_module_btf(*db, **base, "mymod", changed, "changed");
  ASSERT_TRUE(replaced);
  EXPECT_EQ(*replaced, *again);
  ASSERT_TRUE(db->exec("COMMIT"));
  auto loaded = load_module_btf(*db, **base, "mymod");
  ASSERT_TRUE(loaded && *loaded);
  EXPECT_EQ((*loaded)->bytes, changed);
  EXPECT_EQ((*loaded)->source, "changed");
  auto names = stored_module_btfs(*db, **base);
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, std::vector<std::string>{"mymod"});
  EXPECT_EQ(count("module_btfs"), 1);
}

TEST_F(ModuleBtf, ADatabaseFromBeforeModuleBtfStillWorks) {
  ASSERT_EQ(import("--btf " + kernel_ + "/vmlinux " + trace_).status, 0);
  {
    // As written by a probeseek without module BTF: same schema version, no table.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &raw), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(raw, "DROP TABLE module_btfs", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
  }
  std::string err;
  json ranked = rank_json("--arg 'struct sock *'", &err);
  EXPECT_NE(find(ranked, "vm_entry"), nullptr) << ranked.dump(1);
  EXPECT_EQ(find(ranked, "mymod_helper"), nullptr);
  EXPECT_NE(err.find("mymod"), std::string::npos) << err;
  auto ex = run_probeseek("explain --db " + db_ + " mymod_helper");
  EXPECT_EQ(ex.status, 0) << ex.err;
  EXPECT_NE(ex.err.find("--module-btf"), std::string::npos) << ex.err;

  // Adding module BTF afterwards (no FILE: for the sessions already there) creates the table.
  auto added = run_probeseek("import --db " + db_ + " --module-btf " + kernel_);
  ASSERT_EQ(added.status, 0) << added.err;
  EXPECT_NE(added.err.find("stored BTF of 1 module(s) from " + kernel_ + ": mymod"),
            std::string::npos)
      << added.err;
  json now = rank_json("--arg 'struct sock *'");
  const json* helper = find(now, "mymod_helper");
  ASSERT_NE(helper, nullptr) << now.dump(1);
  EXPECT_EQ((*helper)["arg_positions"], json::array({1}));
}

TEST_F(ModuleBtf, ImportModuleBtfNeedsItsBase) {
  auto r = import("--module-btf " + kernel_ + " " + trace_);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--btf"), std::string::npos) << r.err;
  auto not_dir =
      import("--btf " + kernel_ + "/vmlinux --module-btf " + kernel_ + "/mymod " + trace_);
  EXPECT_EQ(not_dir.status, 2);
  EXPECT_NE(not_dir.err.find("directory"), std::string::npos) << not_dir.err;
}

TEST_F(ModuleBtf, SessionModulesComeFromTheSessionsKallsyms) {
  ASSERT_EQ(import(trace_).status, 0);
  auto db = Database::open(db_, Database::Mode::kReadOnly);
  ASSERT_TRUE(db);
  auto session = Store(*db).session("");
  ASSERT_TRUE(session);
  auto modules = session_modules(*db, session->id);
  ASSERT_TRUE(modules);
  EXPECT_EQ(*modules, (std::vector<std::string>{"mymod", "othermod"}));
}

}  // namespace
}  // namespace probeseek
