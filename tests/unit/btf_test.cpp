// Tests for discover/: BTF prototypes, type queries and the ops-table index.
// Two sources: a small BTF built here with libbpf's btf__add_* (every case is visible in the
// test), and the real vmlinux BTF of Debian's 6.1 kernel in tests/data (see test_data_dir()).
#include <bpf/btf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "probeseek/btf.h"
#include "probeseek/ops_index.h"

namespace probeseek {
namespace {

using ::testing::Test;

// ---------------------------------------------------------------------------------------------
// A toy kernel:
//   struct sock { int sk_state; };            typedef struct sock sock_t;
//   typedef sock_t *sock_ptr_t;                struct msghdr;  (forward only)
//   typedef unsigned long size_t;             typedef void (*close_fn_t)(struct sock *);
//   struct toy_proto { int (*sendmsg)(struct sock *, struct msghdr *, size_t);
//                      close_fn_t close; int flags; };
//   struct toy_ops { void (*release)(struct sock *);
//                    union { void (*shutdown)(struct sock *); }; };
//   int  toy_sendmsg(sock_ptr_t sk, struct msghdr *msg, size_t len);      global
//   void toy_close(const sock_t *sk);                                     static
//   int  toy_log(const char *fmt, ...);
//   int  toy_register(int (*cb)(struct sock *, int), size_t n);
//   void toy_name(char (*name)[16]);
class ToyBtf : public Test {
 protected:
  void SetUp() override {
    struct btf* b = btf__new_empty();
    ASSERT_NE(b, nullptr);
    // btf__add_<type> returns the new type id, btf__add_field/_func_param 0; both <0 on error.
    auto add = [&](int id) {
      EXPECT_GT(id, 0);
      return id;
    };
    auto ok = [&](int err) { EXPECT_EQ(err, 0); };
    const int int_t = add(btf__add_int(b, "int", 4, BTF_INT_SIGNED));
    const int ulong_t = add(btf__add_int(b, "long unsigned int", 8, 0));
    const int char_t = add(btf__add_int(b, "char", 1, BTF_INT_SIGNED));
    const int size_t_t = add(btf__add_typedef(b, "size_t", ulong_t));

    const int sock = add(btf__add_struct(b, "sock", 4));
    ok(btf__add_field(b, "sk_state", int_t, 0, 0));
    const int sock_t = add(btf__add_typedef(b, "sock_t", sock));
    const int sock_t_ptr = add(btf__add_ptr(b, sock_t));
    const int sock_ptr_t = add(btf__add_typedef(b, "sock_ptr_t", sock_t_ptr));
    const int sock_ptr = add(btf__add_ptr(b, sock));
    const int const_char = add(btf__add_const(b, char_t));
    const int const_char_ptr = add(btf__add_ptr(b, const_char));
    const int msghdr = add(btf__add_fwd(b, "msghdr", BTF_FWD_STRUCT));
    const int msghdr_ptr = add(btf__add_ptr(b, msghdr));

    // Member prototypes carry no parameter names, as in kernel BTF.
    const int sendmsg_proto = add(btf__add_func_proto(b, int_t));
    ok(btf__add_func_param(b, "", sock_ptr));
    ok(btf__add_func_param(b, "", msghdr_ptr));
    ok(btf__add_func_param(b, "", size_t_t));
    const int close_proto = add(btf__add_func_proto(b, 0));
    ok(btf__add_func_param(b, "", sock_ptr));
    const int sendmsg_ptr = add(btf__add_ptr(b, sendmsg_proto));
    const int close_ptr = add(btf__add_ptr(b, close_proto));
    const int close_fn_t = add(btf__add_typedef(b, "close_fn_t", close_ptr));

    add(btf__add_struct(b, "toy_proto", 24));
    ok(btf__add_field(b, "sendmsg", sendmsg_ptr, 0, 0));
    ok(btf__add_field(b, "close", close_fn_t, 64, 0));
    ok(btf__add_field(b, "flags", int_t, 128, 0));
    const int shutdown_union = add(btf__add_union(b, nullptr, 8));
    ok(btf__add_field(b, "shutdown", close_ptr, 0, 0));
    add(btf__add_struct(b, "toy_ops", 16));
    ok(btf__add_field(b, "release", close_ptr, 0, 0));
    ok(btf__add_field(b, nullptr, shutdown_union, 64, 0));

    const int toy_sendmsg = add(btf__add_func_proto(b, int_t));
    ok(btf__add_func_param(b, "sk", sock_ptr_t));
    ok(btf__add_func_param(b, "msg", msghdr_ptr));
    ok(btf__add_func_param(b, "len", size_t_t));
    add(btf__add_func(b, "toy_sendmsg", BTF_FUNC_GLOBAL, toy_sendmsg));

    const int const_sock_t = add(btf__add_const(b, sock_t));
    const int const_sock_t_ptr = add(btf__add_ptr(b, const_sock_t));
    const int toy_close = add(btf__add_func_proto(b, 0));
    ok(btf__add_func_param(b, "sk", const_sock_t_ptr));
    add(btf__add_func(b, "toy_close", BTF_FUNC_STATIC, toy_close));

    const int toy_log = add(btf__add_func_proto(b, int_t));
    ok(btf__add_func_param(b, "fmt", const_char_ptr));
    ok(btf__add_func_param(b, nullptr, 0));  // "..."
    add(btf__add_func(b, "toy_log", BTF_FUNC_GLOBAL, toy_log));

    const int callback_proto = add(btf__add_func_proto(b, int_t));
    ok(btf__add_func_param(b, "", sock_ptr));
    ok(btf__add_func_param(b, "", int_t));
    const int callback_ptr = add(btf__add_ptr(b, callback_proto));
    const int toy_register = add(btf__add_func_proto(b, int_t));
    ok(btf__add_func_param(b, "cb", callback_ptr));
    ok(btf__add_func_param(b, "n", size_t_t));
    add(btf__add_func(b, "toy_register", BTF_FUNC_GLOBAL, toy_register));

    const int name_array = add(btf__add_array(b, int_t, char_t, 16));
    const int name_array_ptr = add(btf__add_ptr(b, name_array));
    const int toy_name = add(btf__add_func_proto(b, 0));
    ok(btf__add_func_param(b, "name", name_array_ptr));
    add(btf__add_func(b, "toy_name", BTF_FUNC_EXTERN, toy_name));

    btf_.emplace(Btf::adopt(b));
    ops_.emplace(OpsIndex::build(*btf_));
  }

  FunctionPrototype prototype(std::string_view name) {
    auto p = btf_->prototype(name);
    EXPECT_TRUE(p.has_value()) << name;
    return p.value_or(FunctionPrototype{});
  }

  TypeQuery query(std::string_view text) {
    auto q = TypeQuery::parse(text);
    EXPECT_TRUE(q.has_value()) << text << ": " << (q ? "" : q.error().message());
    return q ? *q : TypeQuery{};
  }

  std::optional<Btf> btf_;
  std::optional<OpsIndex> ops_;
};

TEST_F(ToyBtf, RendersPrototypesAsC) {
  auto sendmsg = prototype("toy_sendmsg");
  EXPECT_EQ(sendmsg.to_string(), "int toy_sendmsg(sock_ptr_t sk, struct msghdr *msg, size_t len)");
  EXPECT_EQ(sendmsg.linkage, Linkage::kGlobal);
  EXPECT_EQ(sendmsg.return_type, "int");
  ASSERT_EQ(sendmsg.params.size(), 3u);
  EXPECT_EQ(sendmsg.params[0].name, "sk");
  EXPECT_EQ(sendmsg.params[0].type, "sock_ptr_t");
  EXPECT_EQ(sendmsg.params[1].type, "struct msghdr *");
  EXPECT_FALSE(sendmsg.variadic);

  auto close = prototype("toy_close");
  EXPECT_EQ(close.to_string(), "void toy_close(const sock_t *sk)");
  EXPECT_EQ(close.linkage, Linkage::kStatic);

  auto log = prototype("toy_log");
  EXPECT_EQ(log.to_string(), "int toy_log(const char *fmt, ...)");
  EXPECT_TRUE(log.variadic);
  EXPECT_EQ(log.params.size(), 1u);

  auto reg = prototype("toy_register");
  EXPECT_EQ(reg.params[0].type, "int (*)(struct sock *, int)");
  EXPECT_EQ(reg.to_string(), "int toy_register(int (*cb)(struct sock *, int), size_t n)");

  auto name = prototype("toy_name");
  EXPECT_EQ(name.params[0].type, "char (*)[16]");
  EXPECT_EQ(name.to_string(), "void toy_name(char (*name)[16])");
  EXPECT_EQ(name.linkage, Linkage::kExtern);
  EXPECT_EQ(to_string(name.linkage), "extern");
}

TEST_F(ToyBtf, UnknownFunctionsAndClonesHaveNoPrototype) {
  EXPECT_FALSE(btf_->prototype("toy_missing").has_value());
  EXPECT_FALSE(btf_->prototype("toy_sendmsg.isra.0").has_value());
  auto original = btf_->prototype(strip_clone_suffix("toy_sendmsg.isra.0"));
  ASSERT_TRUE(original.has_value());
  EXPECT_EQ(original->name, "toy_sendmsg");
  EXPECT_EQ(btf_->function_count(), 5u);
}

TEST_F(ToyBtf, MatchesParametersThroughTypedefsAndQualifiers) {
  auto sendmsg = prototype("toy_sendmsg");
  auto close = prototype("toy_close");
  // sock_ptr_t -> sock_t * -> struct sock *, and const sock_t * -> struct sock *.
  EXPECT_EQ(btf_->matching_params(sendmsg, query("struct sock *")), std::vector<int>{0});
  EXPECT_EQ(btf_->matching_params(close, query("struct sock *")), std::vector<int>{0});
  EXPECT_EQ(btf_->matching_params(close, query("sock")), std::vector<int>{0});
  EXPECT_EQ(btf_->matching_params(close, query("const sock_t *")), std::vector<int>{0});
  EXPECT_EQ(btf_->matching_params(sendmsg, query("'struct msghdr *'")), std::vector<int>{1});
  EXPECT_EQ(btf_->matching_params(sendmsg, query("size_t")), std::vector<int>{2});
  EXPECT_EQ(btf_->matching_params(sendmsg, query("unsigned long")), std::vector<int>{2});
  EXPECT_TRUE(btf_->matching_params(sendmsg, query("int")).empty());
  EXPECT_TRUE(btf_->matching_params(sendmsg, query("struct sock")).empty());  // not a pointer
  EXPECT_TRUE(btf_->matching_params(sendmsg, query("struct sock **")).empty());
  // Qualifiers are ignored at every level.
  EXPECT_EQ(btf_->matching_params(prototype("toy_log"), query("char *")), std::vector<int>{0});
  EXPECT_EQ(btf_->matching_params(prototype("toy_register"), query("size_t")), std::vector<int>{1});
}

TEST_F(ToyBtf, MatchQualityPrefersTheQueriedSpelling) {
  auto sendmsg = prototype("toy_sendmsg");
  const uint32_t sk = sendmsg.params[0].type_id;
  const uint32_t len = sendmsg.params[2].type_id;
  EXPECT_EQ(btf_->match_quality(len, query("size_t")), MatchQuality::kExact);
  EXPECT_EQ(btf_->match_quality(len, query("unsigned long")), MatchQuality::kThroughTypedef);
  EXPECT_EQ(btf_->match_quality(sk, query("sock_ptr_t")), MatchQuality::kExact);
  EXPECT_EQ(btf_->match_quality(sk, query("struct sock *")), MatchQuality::kThroughTypedef);
  EXPECT_EQ(btf_->match_quality(sk, query("int")), MatchQuality::kNone);
  EXPECT_TRUE(btf_->type_matches(sk, query("sock_t *")));
}

TEST_F(ToyBtf, CheckReportsTypesTheBtfDoesNotHave) {
  EXPECT_TRUE(btf_->check(query("struct sock *")).has_value());
  EXPECT_TRUE(btf_->check(query("sock")).has_value());
  EXPECT_TRUE(btf_->check(query("size_t")).has_value());
  EXPECT_TRUE(btf_->check(query("struct msghdr *")).has_value());  // a forward declaration counts
  EXPECT_TRUE(btf_->check(query("unsigned long")).has_value());
  for (const char* missing : {"struct sokc *", "u32", "union sock *", "nosuch"}) {
    auto status = btf_->check(query(missing));
    ASSERT_FALSE(status.has_value()) << missing;
    EXPECT_EQ(status.error().kind, ErrorKind::kBadInput);
    EXPECT_FALSE(status.error().hint.empty());
  }
}

TEST_F(ToyBtf, IndexesFunctionPointerMembers) {
  EXPECT_EQ(ops_->table_count(), 2u);
  EXPECT_EQ(ops_->member_count(), 4u);
  const auto& proto = ops_->members_of("toy_proto");
  ASSERT_EQ(proto.size(), 2u);
  EXPECT_EQ(proto[0].name, "sendmsg");
  EXPECT_EQ(proto[0].offset, 0u);
  EXPECT_EQ(proto[1].name, "close");  // through the close_fn_t typedef
  EXPECT_EQ(proto[1].offset, 8u);
  const auto& ops = ops_->members_of("toy_ops");
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].name, "release");
  EXPECT_EQ(ops[1].name, "shutdown");  // from the anonymous union
  EXPECT_EQ(ops[1].offset, 8u);
  EXPECT_TRUE(ops_->members_of("sock").empty());
  EXPECT_TRUE(ops_->members_of("nosuch").empty());

  EXPECT_EQ(btf_->struct_size("toy_proto"), 24u);
  EXPECT_EQ(btf_->struct_size("sock"), 4u);
  EXPECT_FALSE(btf_->struct_size("msghdr").has_value());  // only declared
  EXPECT_FALSE(btf_->struct_size("size_t").has_value());
}

TEST_F(ToyBtf, FitsCompareStructurallyAndRankByName) {
  // The typedef'd, differently named parameters of toy_sendmsg still equal the member's.
  auto sendmsg = ops_->fits(*btf_, "toy_sendmsg");
  ASSERT_EQ(sendmsg.size(), 1u);
  EXPECT_EQ(sendmsg[0].struct_name, "toy_proto");
  EXPECT_EQ(sendmsg[0].member, "sendmsg");
  EXPECT_EQ(sendmsg[0].offset, 0u);
  EXPECT_EQ(sendmsg[0].affinity, NameAffinity::kExactSuffix);
  EXPECT_EQ(sendmsg[0].members_with_same_signature, 1u);
  EXPECT_EQ(sendmsg[0].strength, OpsStrength::kStrong);
  EXPECT_EQ(sendmsg[0].explanation,
            "prototype matches struct toy_proto member sendmsg; name ends in _sendmsg; no other "
            "member has this prototype");

  // void (struct sock *) is shared by three members in two tables; the const on toy_close's
  // parameter does not matter, and the name picks close.
  auto close = ops_->fits(*btf_, "toy_close");
  ASSERT_EQ(close.size(), 3u);
  EXPECT_EQ(close[0].struct_name, "toy_proto");
  EXPECT_EQ(close[0].member, "close");
  EXPECT_EQ(close[0].offset, 8u);
  EXPECT_EQ(close[0].affinity, NameAffinity::kExactSuffix);
  EXPECT_EQ(close[0].strength, OpsStrength::kStrong);
  EXPECT_EQ(close[1].struct_name, "toy_ops");
  EXPECT_EQ(close[1].member, "release");
  EXPECT_EQ(close[2].member, "shutdown");
  for (const auto& fit : close) {
    EXPECT_EQ(fit.members_with_same_signature, 3u);
    if (fit.member != "close") {
      EXPECT_EQ(fit.affinity, NameAffinity::kNone);
      EXPECT_EQ(fit.strength, OpsStrength::kWeak);
    }
  }

  EXPECT_TRUE(ops_->fits(*btf_, "toy_log").empty());
  EXPECT_TRUE(ops_->fits(*btf_, "toy_register").empty());
  EXPECT_TRUE(ops_->fits(*btf_, "toy_missing").empty());
}

TEST_F(ToyBtf, MovedBtfKeepsWorking) {
  ASSERT_TRUE(btf_->prototype("toy_close").has_value());  // index built before the move
  Btf moved = std::move(*btf_);
  btf_.reset();
  EXPECT_EQ(moved.prototype("toy_close")->to_string(), "void toy_close(const sock_t *sk)");
  EXPECT_EQ(ops_->fits(moved, "toy_sendmsg").size(), 1u);
}

TEST(StripCloneSuffix, MapsClonesBackToTheOriginal) {
  EXPECT_EQ(strip_clone_suffix("foo.isra.0"), "foo");
  EXPECT_EQ(strip_clone_suffix("tcp_v4_connect.constprop.0"), "tcp_v4_connect");
  EXPECT_EQ(strip_clone_suffix("foo.constprop.0.isra.0"), "foo");
  EXPECT_EQ(strip_clone_suffix("foo.part.12"), "foo");
  EXPECT_EQ(strip_clone_suffix("foo.cold"), "foo");
  EXPECT_EQ(strip_clone_suffix("foo.part.0.cold"), "foo");
  EXPECT_EQ(strip_clone_suffix("foo.cold.3"), "foo");
  EXPECT_EQ(strip_clone_suffix("foo.llvm.8147429581723611532"), "foo");
  EXPECT_EQ(strip_clone_suffix("foo.lto_priv.0"), "foo");
  EXPECT_EQ(strip_clone_suffix("foo.localalias"), "foo");
  // Not clone suffixes: unchanged.
  EXPECT_EQ(strip_clone_suffix("foo"), "foo");
  EXPECT_EQ(strip_clone_suffix("foo.isra"), "foo.isra");
  EXPECT_EQ(strip_clone_suffix("__func__.12"), "__func__.12");
  EXPECT_EQ(strip_clone_suffix("foo.bar.0"), "foo.bar.0");
  EXPECT_EQ(strip_clone_suffix(".isra.0"), ".isra.0");
  EXPECT_EQ(strip_clone_suffix(""), "");
}

TEST(NameAffinity, ComparesUnderscoreSeparatedWords) {
  EXPECT_EQ(name_affinity("tcp_sendmsg", "sendmsg"), NameAffinity::kExactSuffix);
  EXPECT_EQ(name_affinity("tcp_v4_connect", "connect"), NameAffinity::kExactSuffix);
  EXPECT_EQ(name_affinity("inet_stream_connect", "connect"), NameAffinity::kExactSuffix);
  EXPECT_EQ(name_affinity("ext4_file_read_iter", "read_iter"), NameAffinity::kExactSuffix);
  EXPECT_EQ(name_affinity("connect", "connect"), NameAffinity::kExactSuffix);
  EXPECT_EQ(name_affinity("tcp_sendmsg_locked", "sendmsg"), NameAffinity::kToken);
  EXPECT_EQ(name_affinity("ext4_read_iter_checked", "read_iter"), NameAffinity::kToken);
  EXPECT_EQ(name_affinity("sock_def_readable", "sk_data_ready"), NameAffinity::kNone);
  EXPECT_EQ(name_affinity("tcp_reconnect", "connect"), NameAffinity::kNone);
  EXPECT_EQ(name_affinity("tcp_read", "read_iter"), NameAffinity::kNone);
  EXPECT_EQ(to_string(NameAffinity::kExactSuffix), "exact-suffix");
}

TEST(TypeQuery, AcceptsCTypesAndTheStructShorthand) {
  struct Case {
    const char* input;
    const char* text;
  };
  for (const Case& c : std::vector<Case>{
           {"struct sock *", "struct sock *"},
           {"'struct sk_buff *'", "struct sk_buff *"},
           {"\"struct sk_buff*\"", "struct sk_buff *"},
           {"  const char *  ", "char *"},
           {"char const * const", "char *"},
           {"struct filename *", "struct filename *"},
           {"u32", "u32"},
           {"int", "int"},
           {"long unsigned int", "unsigned long"},
           {"unsigned", "unsigned int"},
           {"signed char", "signed char"},
           {"void *", "void *"},
           {"union bpf_attr *", "union bpf_attr *"},
           {"enum sock_type", "enum sock_type"},
           {"struct page **", "struct page **"},
           {"sock", "sock"},
       }) {
    auto q = TypeQuery::parse(c.input);
    ASSERT_TRUE(q.has_value()) << c.input << ": " << q.error().message();
    EXPECT_EQ(q->text(), c.text) << c.input;
  }
}

TEST(TypeQuery, RejectsGarbage) {
  for (const char* garbage :
       {"", "   ", "struct", "struct *", "**", "*", "int int", "foo bar", "sock;", "struct sock &",
        "unsigned struct sock", "long long long", "signed unsigned", "short char", "'struct sock *",
        "struct struct sock", "const", "int[4]"}) {
    auto q = TypeQuery::parse(garbage);
    ASSERT_FALSE(q.has_value()) << "accepted '" << garbage << "' as " << q->text();
    EXPECT_EQ(q.error().kind, ErrorKind::kBadInput) << garbage;
    EXPECT_FALSE(q.error().hint.empty());
    EXPECT_EQ(q.error().object, garbage);
  }
}

TEST(BtfLoad, MissingFileNamesPathErrnoAndHint) {
  auto btf = Btf::load("/nonexistent/vmlinux.btf");
  ASSERT_FALSE(btf.has_value());
  EXPECT_EQ(btf.error().object, "/nonexistent/vmlinux.btf");
  EXPECT_EQ(btf.error().err_no, ENOENT);
  EXPECT_NE(btf.error().message().find("/nonexistent/vmlinux.btf"), std::string::npos);
  EXPECT_NE(btf.error().hint.find("--btf"), std::string::npos);
}

TEST(BtfLoad, FileThatIsNotBtfIsAnError) {
  const std::string path = std::filesystem::temp_directory_path() /
                           ("probeseek_btf_test_" + std::to_string(getpid()) + ".txt");
  std::ofstream(path) << "this is not BTF\n";
  auto btf = Btf::load(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(btf.has_value());
  EXPECT_EQ(btf.error().object, path);
  EXPECT_FALSE(btf.error().hint.empty());
  // Issue 9: libbpf's errno said "Unknown error 4001"; what is wrong is the magic.
  EXPECT_EQ(btf.error().kind, ErrorKind::kBadInput);
  EXPECT_NE(btf.error().message().find("not BTF data (bad magic 0x7468)"), std::string::npos)
      << btf.error().message();
  EXPECT_EQ(btf.error().message().find("Unknown error"), std::string::npos);
}

// Issue 9: an ELF without .BTF read "No such file or directory" although the file is there.
TEST(BtfLoad, AnElfWithoutBtfSaysSo) {
  auto btf = Btf::load("/bin/true");
  ASSERT_FALSE(btf.has_value());
  EXPECT_EQ(btf.error().message(), "no .BTF section in ELF: /bin/true") << btf.error().message();
  EXPECT_NE(btf.error().hint.find("CONFIG_DEBUG_INFO_BTF"), std::string::npos);
}

std::string test_data_dir();  // below

TEST(BtfLoad, EmptyAndTruncatedFilesSayWhat) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("probeseek_btf_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  { std::ofstream(dir + "/empty"); }
  std::ifstream in(test_data_dir() + "/linux-6.1.0-56-cloud-amd64/vmlinux.btf", std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  { std::ofstream(dir + "/truncated", std::ios::binary) << head; }
  auto empty = Btf::load(dir + "/empty");
  auto truncated = Btf::load(dir + "/truncated");
  auto bytes = Btf::from_bytes(head, "session 3");
  auto garbage = Btf::from_bytes("\x01\x02\x03\x04", "session 4");
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message().find("empty file, not BTF"), std::string::npos);
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().message().find("malformed BTF data"), std::string::npos)
      << truncated.error().message();
  ASSERT_FALSE(bytes);
  EXPECT_NE(bytes.error().message().find("malformed BTF data"), std::string::npos);
  EXPECT_NE(bytes.error().message().find("session 3"), std::string::npos);
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message().find("not BTF data (bad magic 0x0102)"), std::string::npos)
      << garbage.error().message();
}

// ---------------------------------------------------------------------------------------------
// The real BTF of linux-image-6.1.0-56-cloud-amd64.

// $PROBESEEK_TEST_DATA, else the PROBESEEK_TEST_DATA definition tests/CMakeLists.txt's
// probeseek_test() passes, else tests/data beside this file (a plain add_executable build).
std::string test_data_dir() {
  if (const char* dir = std::getenv("PROBESEEK_TEST_DATA"); dir != nullptr && *dir != '\0') {
    return dir;
  }
#ifdef PROBESEEK_TEST_DATA
  return PROBESEEK_TEST_DATA;
#else
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "data").string();
#endif
}

class VmlinuxBtf : public Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = test_data_dir() + "/linux-6.1.0-56-cloud-amd64/vmlinux.btf";
    auto loaded = Btf::load(path);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
    btf_ = std::make_unique<Btf>(std::move(*loaded));
    ops_ = std::make_unique<OpsIndex>(OpsIndex::build(*btf_));
  }
  static void TearDownTestSuite() {
    ops_.reset();
    btf_.reset();
  }
  void SetUp() override { ASSERT_NE(btf_, nullptr) << "vmlinux.btf did not load"; }

  static bool fits(std::string_view function, std::string_view table, std::string_view member,
                   NameAffinity affinity) {
    for (const auto& fit : ops_->fits(*btf_, function)) {
      if (fit.struct_name == table && fit.member == member && fit.affinity == affinity) {
        return true;
      }
    }
    return false;
  }

  static inline std::unique_ptr<Btf> btf_;
  static inline std::unique_ptr<OpsIndex> ops_;
};

TEST_F(VmlinuxBtf, RendersTcpV4Connect) {
  auto p = btf_->prototype("tcp_v4_connect");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->to_string(),
            "int tcp_v4_connect(struct sock *sk, struct sockaddr *uaddr, int addr_len)");
  EXPECT_EQ(btf_->prototype("tcp_sendmsg")->to_string(),
            "int tcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)");
  EXPECT_GT(btf_->function_count(), 40000u);
}

TEST_F(VmlinuxBtf, ArgumentQueries) {
  auto p = *btf_->prototype("tcp_v4_connect");
  EXPECT_EQ(btf_->matching_params(p, *TypeQuery::parse("sock")), std::vector<int>{0});
  EXPECT_EQ(btf_->matching_params(p, *TypeQuery::parse("struct sock *")), std::vector<int>{0});
  EXPECT_EQ(btf_->matching_params(p, *TypeQuery::parse("struct sockaddr *")), std::vector<int>{1});
  EXPECT_EQ(btf_->matching_params(p, *TypeQuery::parse("int")), std::vector<int>{2});
  auto sendmsg = *btf_->prototype("tcp_sendmsg");
  EXPECT_EQ(btf_->matching_params(sendmsg, *TypeQuery::parse("size_t")), std::vector<int>{2});
  EXPECT_EQ(btf_->matching_params(sendmsg, *TypeQuery::parse("unsigned long")),
            std::vector<int>{2});
  auto rcv = *btf_->prototype("tcp_v4_rcv");
  EXPECT_EQ(btf_->matching_params(rcv, *TypeQuery::parse("'struct sk_buff *'")),
            std::vector<int>{0});
  EXPECT_EQ(btf_->matching_params(rcv, *TypeQuery::parse("sk_buff")), std::vector<int>{0});
  EXPECT_TRUE(btf_->check(*TypeQuery::parse("u32")).has_value());
  EXPECT_TRUE(btf_->check(*TypeQuery::parse("struct filename *")).has_value());
  EXPECT_FALSE(btf_->check(*TypeQuery::parse("struct sokc *")).has_value());
}

TEST_F(VmlinuxBtf, FitsOpsTables) {
  EXPECT_TRUE(fits("tcp_v4_connect", "proto", "connect", NameAffinity::kExactSuffix));
  EXPECT_TRUE(fits("tcp_sendmsg", "proto", "sendmsg", NameAffinity::kExactSuffix));
  EXPECT_TRUE(fits("inet_stream_connect", "proto_ops", "connect", NameAffinity::kExactSuffix));

  auto connect = ops_->fits(*btf_, "tcp_v4_connect");
  ASSERT_FALSE(connect.empty());
  EXPECT_EQ(connect[0].struct_name, "proto");  // the name-matching fit ranks first
  EXPECT_EQ(connect[0].member, "connect");
  EXPECT_EQ(connect[0].strength, OpsStrength::kStrong);
  EXPECT_EQ(connect[0].explanation.rfind(
                "prototype matches struct proto member connect; name ends in _connect", 0),
            0u);

  // The offsets are the kernel's (they will be used to read tables from kernel memory).
  bool found = false;
  for (const auto& member : ops_->members_of("proto")) {
    if (member.name == "connect") {
      found = true;
      EXPECT_EQ(member.offset, connect[0].offset);
    }
  }
  EXPECT_TRUE(found);
  auto proto_size = btf_->struct_size("proto");
  ASSERT_TRUE(proto_size.has_value());
  EXPECT_GT(*proto_size, connect[0].offset);
  EXPECT_GT(ops_->table_count(), 500u);
}

TEST_F(VmlinuxBtf, FunctionsWithoutBtf) {
  EXPECT_FALSE(btf_->prototype("no_such_function_in_btf").has_value());
  EXPECT_FALSE(btf_->prototype("tcp_v4_connect.isra.0").has_value());
  EXPECT_TRUE(btf_->prototype(strip_clone_suffix("tcp_v4_connect.isra.0")).has_value());
  EXPECT_TRUE(ops_->fits(*btf_, "no_such_function_in_btf").empty());
}

TEST_F(VmlinuxBtf, QueriesRejectGarbage) {
  for (const char* garbage : {"struct", "**"}) {
    auto q = TypeQuery::parse(garbage);
    ASSERT_FALSE(q.has_value()) << garbage;
    EXPECT_EQ(q.error().kind, ErrorKind::kBadInput);
  }
}

// A module's split BTF: its types refer to vmlinux ids. Written to a file the way
// /sys/kernel/btf/MODULE is, then loaded on top of the vmlinux Btf.
TEST_F(VmlinuxBtf, ModuleSplitBtf) {
  const struct btf* base = btf_->raw();
  const int sock = btf__find_by_name_kind(base, "sock", BTF_KIND_STRUCT);
  const int sockaddr = btf__find_by_name_kind(base, "sockaddr", BTF_KIND_STRUCT);
  const int int_t = btf__find_by_name_kind(base, "int", BTF_KIND_INT);
  ASSERT_GT(sock, 0);
  ASSERT_GT(sockaddr, 0);
  ASSERT_GT(int_t, 0);
  ASSERT_TRUE(btf_->prototype("tcp_v4_connect").has_value());  // name index built
  // Adding strings to a split BTF makes libbpf re-lay out the base's strings; the Btf's name
  // index must survive that (it once held pointers into them: a use-after-free under ASan).
  struct btf* module = btf__new_empty_split(const_cast<struct btf*>(base));
  ASSERT_NE(module, nullptr);
  const int sock_ptr = btf__add_ptr(module, sock);
  const int sockaddr_ptr = btf__add_ptr(module, sockaddr);
  const int proto = btf__add_func_proto(module, int_t);
  btf__add_func_param(module, "sk", sock_ptr);
  btf__add_func_param(module, "addr", sockaddr_ptr);
  btf__add_func_param(module, "len", int_t);
  ASSERT_GT(btf__add_func(module, "toymod_connect", BTF_FUNC_STATIC, proto), 0);
  uint32_t size = 0;
  const void* data = btf__raw_data(module, &size);
  ASSERT_NE(data, nullptr);
  const std::string path = std::filesystem::temp_directory_path() /
                           ("probeseek_btf_test_" + std::to_string(getpid()) + ".btf");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(static_cast<const char*>(data), size);
  }
  btf__free(module);
  EXPECT_EQ(btf_->prototype("tcp_v4_connect")->to_string(),
            "int tcp_v4_connect(struct sock *sk, struct sockaddr *uaddr, int addr_len)");
  EXPECT_EQ(btf_->struct_size("sock"), btf__resolve_size(base, sock));

  auto loaded = Btf::load_split(path, *btf_);
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  auto p = loaded->prototype("toymod_connect");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->to_string(), "int toymod_connect(struct sock *sk, struct sockaddr *addr, int len)");
  // The vmlinux index answers for module functions: prototypes compare by structure.
  auto fits = ops_->fits(*loaded, *p);
  ASSERT_FALSE(fits.empty());
  EXPECT_EQ(fits[0].struct_name, "proto");
  EXPECT_EQ(fits[0].member, "connect");
  EXPECT_TRUE(loaded->prototype("tcp_v4_connect").has_value());  // base functions are visible

  auto missing = Btf::load_split("/nonexistent/module.btf", *btf_);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().err_no, ENOENT);
}

}  // namespace
}  // namespace probeseek
