// probeseek gen on the BTF of Debian's 6.1.0-56-cloud-amd64 kernel (the lab's 6.1 kernel):
// what the generated project says, that FUNC is validated, that names the kernel already uses
// are avoided (on BTF built here), and that the projects build with make, clang and bpftool.
#include <gtest/gtest.h>

#include <bpf/btf.h>

#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>

#include "arg_spec.h"
#include "probeseek/compat.h"
#include "probeseek/gen.h"
#include "test_support.h"

namespace probeseek {
namespace {

using test::kernel_61;

const Btf& kernel_btf() {
  static Btf* btf = [] {
    auto b = Btf::load(kernel_61("vmlinux.btf"));
    EXPECT_TRUE(b) << b.error().message();
    return new Btf(std::move(*b));
  }();
  return *btf;
}

GenRequest request(const std::string& function, ProbeType type, const std::string& dir = "") {
  GenRequest r;
  r.functions = {function};
  r.type = type;
  r.btf = &kernel_btf();
  r.btf_source = "vmlinux.btf of 6.1.0-56-cloud-amd64";
  r.out_dir = dir;
  return r;
}

// Runs a shell command, stdout and stderr together.
test::RunResult run_shell(const std::string& command) {
  test::RunResult r;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

const std::string& file(const GenResult& r, const std::string& name) {
  for (const GeneratedFile& f : r.files)
    if (f.name == name) return f.text;
  static const std::string none;
  ADD_FAILURE() << "no file " << name;
  return none;
}

using test::contains;

TEST(Gen, KprobeOnTcpV4ConnectUsesTheRealPrototypeAndDecodesTheSocket) {
  auto r = render_probe(request("tcp_v4_connect", ProbeType::kKprobe));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->app, "tcp_v4_connect");
  std::vector<std::string> names;
  for (auto& f : r->files) names.push_back(f.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"vmlinux.h", "tcp_v4_connect.h", "tcp_v4_connect.bpf.c",
                                      "tcp_v4_connect.c", "Makefile", "README.md"}));
  const std::string& bpf = file(*r, "tcp_v4_connect.bpf.c");
  EXPECT_TRUE(contains(bpf,
                       "SEC(\"kprobe/tcp_v4_connect\")\nint BPF_KPROBE(tcp_v4_connect_entry, "
                       "struct sock *sk, struct sockaddr *uaddr, int addr_len)"))
      << bpf;
  EXPECT_TRUE(contains(bpf, "read_sock(&e->sk, sk);"));
  EXPECT_TRUE(contains(bpf, "read_sockaddr(&e->uaddr, uaddr);"));
  EXPECT_TRUE(contains(bpf, "e->addr_len = addr_len;"));
  EXPECT_TRUE(contains(bpf, "BPF_CORE_READ(sk, __sk_common.skc_num)"));
  EXPECT_TRUE(contains(bpf, "BPF_MAP_TYPE_RINGBUF"));
  EXPECT_TRUE(contains(bpf, "bpf_get_current_comm(e->comm"));
  // At entry the socket has no address yet: the file says so and what to do instead.
  EXPECT_TRUE(contains(bpf, "--type kretprobe or fexit"));
  const std::string& header = file(*r, "tcp_v4_connect.h");
  EXPECT_TRUE(contains(header, "struct tcp_v4_connect_event {"));
  EXPECT_TRUE(contains(header, "struct sock_info sk;"));
  const std::string& loader = file(*r, "tcp_v4_connect.c");
  EXPECT_TRUE(contains(loader, "tcp_v4_connect_bpf__open()"));
  EXPECT_TRUE(contains(loader, "#include \"tcp_v4_connect.skel.h\""));
  EXPECT_TRUE(contains(loader, "sigaction(SIGINT"));
  const std::string& make = file(*r, "Makefile");
  EXPECT_TRUE(contains(make, "-target bpf"));
  EXPECT_TRUE(contains(make, "gen skeleton $< name $(APP)_bpf"));
}

TEST(Gen, VmlinuxHIsTheWholeBtfDumpedAsC) {
  auto r = render_probe(request("tcp_sendmsg", ProbeType::kKprobe));
  ASSERT_TRUE(r) << r.error().message();
  const std::string& h = file(*r, "vmlinux.h");
  EXPECT_EQ(h.rfind("#ifndef __VMLINUX_H__\n", 0), 0u);
  EXPECT_TRUE(contains(h, "preserve_access_index"));
  EXPECT_TRUE(contains(h, "struct sock_common {"));
  EXPECT_TRUE(contains(h, "struct sk_buff {"));
  EXPECT_GT(h.size(), 1'000'000u);  // 2.2 MB for this kernel
}

TEST(Gen, ReturnProbesCarryTheReturnValue) {
  auto kret = render_probe(request("tcp_v4_connect", ProbeType::kKretprobe));
  ASSERT_TRUE(kret) << kret.error().message();
  const std::string& k = file(*kret, "tcp_v4_connect.bpf.c");
  EXPECT_TRUE(contains(k, "int BPF_KRETPROBE(tcp_v4_connect_exit, int ret)"));
  EXPECT_TRUE(contains(k, "bpf_map_update_elem(&inflight, &id, &args, BPF_ANY);"));
  EXPECT_TRUE(contains(k, "read_sock(&e->sk, a->sk);"));
  EXPECT_TRUE(contains(k, "e->ret = ret;"));
  auto fexit = render_probe(request("tcp_v4_connect", ProbeType::kFexit));
  ASSERT_TRUE(fexit) << fexit.error().message();
  const std::string& f = file(*fexit, "tcp_v4_connect.bpf.c");
  EXPECT_TRUE(contains(f,
                       "SEC(\"fexit/tcp_v4_connect\")\nint BPF_PROG(tcp_v4_connect_exit, "
                       "struct sock *sk, struct sockaddr *uaddr, int addr_len, int ret)"))
      << f;
}

// On 6.1 the verifier refuses context reads of pointers to anything but structs, unions,
// integers and void (the lab showed it for vfs_unlink's struct inode **): such a parameter,
// and then the return value, come from bpf_get_func_arg() / bpf_get_func_ret().
TEST(Gen, TrampolinesReadOtherPointersThroughTheHelpers) {
  auto r = render_probe(request("vfs_unlink", ProbeType::kFexit));
  ASSERT_TRUE(r) << r.error().message();
  const std::string& f = file(*r, "vfs_unlink.bpf.c");
  EXPECT_TRUE(contains(f,
                       "int BPF_PROG(vfs_unlink_exit, struct user_namespace *mnt_userns, "
                       "struct inode *dir, struct dentry *dentry)\n"))
      << f;
  EXPECT_TRUE(contains(f, "\tstruct inode **delegated_inode;\n\tint ret;\n"));
  EXPECT_TRUE(
      contains(f, "\tbpf_get_func_arg(ctx, 3, &slot);\n\tdelegated_inode = (void *)slot;\n"));
  EXPECT_TRUE(contains(f, "\tbpf_get_func_ret(ctx, &slot);\n\tret = slot;\n"));
  EXPECT_TRUE(contains(f, "BPF_CORE_READ(dentry, d_name.name)"));
}

TEST(Gen, FunctionNamesAreValidatedBeforeTheyReachFilesOrCode) {
  for (const char* bad : {"tcp_v4_connect;rm", "../etc/passwd", "a b", "", "f\"", "x/y"}) {
    auto r = render_probe(request(bad, ProbeType::kKprobe));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kBadInput);
  }
  auto unknown = render_probe(request("no_such_function_here", ProbeType::kKprobe));
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(contains(unknown.error().what, "no BTF prototype"));
}

TEST(Gen, ClonesAreProbedByTheirOwnNameWithTheOriginalsPrototype) {
  auto r = render_probe(request("tcp_v4_connect.isra.0", ProbeType::kKprobe));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->app, "tcp_v4_connect_isra_0");
  const std::string& bpf = file(*r, "tcp_v4_connect_isra_0.bpf.c");
  EXPECT_TRUE(contains(bpf, "SEC(\"kprobe/tcp_v4_connect.isra.0\")"));
  EXPECT_TRUE(contains(bpf, "BPF_KPROBE(tcp_v4_connect_isra_0_entry, struct sock *sk"));
  ASSERT_FALSE(r->warnings.empty());
  auto fentry = render_probe(request("tcp_v4_connect.isra.0", ProbeType::kFentry));
  ASSERT_FALSE(fentry);  // BTF (and so fentry) only knows the original
  EXPECT_TRUE(contains(fentry.error().hint, "kprobe"));
}

TEST(Gen, ParametersThatDoNotFitARegisterStopTheCapture) {
  // vm_fault_t vmf_insert_pfn_prot(struct vm_area_struct *, unsigned long, unsigned long,
  // pgprot_t): pgprot_t is a struct passed by value.
  auto r = render_probe(request("vmf_insert_pfn_prot", ProbeType::kKprobe));
  ASSERT_TRUE(r) << r.error().message();
  const std::string& bpf = file(*r, "vmf_insert_pfn_prot.bpf.c");
  EXPECT_TRUE(contains(bpf,
                       "int BPF_KPROBE(vmf_insert_pfn_prot_entry, struct vm_area_struct "
                       "*vma, long unsigned int addr, long unsigned int pfn)\n"))
      << bpf;
  EXPECT_TRUE(contains(bpf, "Not every parameter is read: parameter 4 (pgprot_t pgprot)"));
  ASSERT_FALSE(r->warnings.empty());
  // fexit must name every parameter before the return value.
  auto fexit = render_probe(request("vmf_insert_pfn_prot", ProbeType::kFexit));
  ASSERT_FALSE(fexit);
  EXPECT_TRUE(contains(fexit.error().hint, "kretprobe"));
}

// A BTF with one function f(struct sock *sk, int events) whose kernel also uses the names the
// generated code would: an enumerator MAX_COMM and a typedef dropped.
TEST(Gen, NamesTheKernelAlreadyUsesGetThePrefix) {
  struct btf* raw = btf__new_empty();
  int int_id = btf__add_int(raw, "int", 4, BTF_INT_SIGNED);
  int common = btf__add_struct(raw, "sock_common", 4);
  btf__add_field(raw, "skc_family", int_id, 0, 0);
  int sock = btf__add_struct(raw, "sock", 4);
  btf__add_field(raw, "__sk_common", common, 0, 0);
  int sock_ptr = btf__add_ptr(raw, sock);
  int proto = btf__add_func_proto(raw, int_id);
  btf__add_func_param(raw, "sk", sock_ptr);
  btf__add_func_param(raw, "events", int_id);
  btf__add_func(raw, "f", BTF_FUNC_GLOBAL, proto);
  btf__add_enum(raw, "", 4);
  btf__add_enum_value(raw, "MAX_COMM", 16);
  btf__add_typedef(raw, "dropped", int_id);
  Btf btf = Btf::adopt(raw);
  GenRequest req;
  req.functions = {"f"};
  req.btf = &btf;
  auto r = render_probe(req);
  ASSERT_TRUE(r) << r.error().message();
  const std::string& header = file(*r, "f.h");
  EXPECT_TRUE(contains(header, "#define f_MAX_COMM 16")) << header;
  EXPECT_TRUE(contains(header, "char comm[f_MAX_COMM];"));
  const std::string& bpf = file(*r, "f.bpf.c");
  EXPECT_TRUE(contains(bpf, "__u64 f_dropped = 0;")) << bpf;
  EXPECT_TRUE(contains(bpf, "__sync_fetch_and_add(&f_dropped, 1);"));
  // A parameter named like the ring buffer map would hide it from the body: it is renamed.
  EXPECT_TRUE(contains(bpf, "int BPF_KPROBE(f_entry, struct sock *sk, int events_arg)")) << bpf;
  EXPECT_TRUE(contains(bpf, "bpf_ringbuf_reserve(&events"));
  EXPECT_TRUE(contains(bpf, "e->events_arg = events_arg;"));
}

TEST(Gen, GenerateWritesTheFilesIntoTheDirectory) {
  test::TempDir dir;
  auto r = generate_probe(request("tcp_sendmsg", ProbeType::kKprobe, dir.file("out/sub")));
  ASSERT_TRUE(r) << r.error().message();
  for (auto& f : r->files)
    EXPECT_EQ(test::read_file(dir.file("out/sub/" + f.name)), f.text) << f.name;
}

// ---- issue 9: names from BTF and paths never become code; BTF that would make libbpf's dumper
// run away is refused; files are never written through a link, nor left half-written.

// A small BTF: int, struct sock { int x; }, f(struct sock *sk, int NAME).
struct btf* small_btf(const char* param_name) {
  struct btf* raw = btf__new_empty();
  int int_id = btf__add_int(raw, "int", 4, BTF_INT_SIGNED);
  int sock = btf__add_struct(raw, "sock", 4);
  btf__add_field(raw, "x", int_id, 0, 0);
  int sock_ptr = btf__add_ptr(raw, sock);
  int proto = btf__add_func_proto(raw, int_id);
  btf__add_func_param(raw, "sk", sock_ptr);
  btf__add_func_param(raw, param_name, int_id);
  btf__add_func(raw, "f", BTF_FUNC_GLOBAL, proto);
  return raw;
}

GenRequest small_request(const Btf& btf, const std::string& dir = "") {
  GenRequest req;
  req.functions = {"f"};
  req.btf = &btf;
  req.btf_source = "small.btf";
  req.out_dir = dir;
  return req;
}

bool any_file_contains(const GenResult& r, const std::string& part) {
  for (const GeneratedFile& f : r.files)
    if (contains(f.text, part)) return true;
  return false;
}

TEST(GenSafety, AParameterNameThatIsNotAnIdentifierIsRenamed) {
  Btf btf = Btf::adopt(small_btf("x\"); system(\"touch PWNED\"); printf((\""));
  for (ProbeType type :
       {ProbeType::kKprobe, ProbeType::kKretprobe, ProbeType::kFentry, ProbeType::kFexit}) {
    GenRequest req = small_request(btf);
    req.type = type;
    auto r = render_probe(req);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(any_file_contains(*r, "PWNED")) << to_string(type);
    EXPECT_FALSE(any_file_contains(*r, "system(")) << to_string(type);
    EXPECT_TRUE(contains(file(*r, "f.bpf.c"), "struct sock *sk, int arg1")) << file(*r, "f.bpf.c");
    EXPECT_TRUE(contains(file(*r, "f.c"), " arg1=%lld")) << file(*r, "f.c");
  }
}

TEST(GenSafety, CKeywordsAsParameterNamesAreRenamed) {
  Btf btf = Btf::adopt(small_btf("int"));
  auto r = render_probe(small_request(btf));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(contains(file(*r, "f.bpf.c"), "int BPF_KPROBE(f_entry, struct sock *sk, int arg1)"))
      << file(*r, "f.bpf.c");
}

TEST(GenSafety, TheBtfSourceNeverEndsAComment) {
  Btf btf = Btf::adopt(small_btf("n"));
  GenRequest req = small_request(btf);
  req.btf_source = "/tmp/a*/ int pwned; /*\n#include \"/etc/shadow\"\n.btf";
  auto r = render_probe(req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(any_file_contains(*r, "*/ int pwned"));
  EXPECT_FALSE(any_file_contains(*r, "\n#include \"/etc/shadow\""));
  EXPECT_TRUE(contains(file(*r, "f.bpf.c"), "/tmp/a* / int pwned; / *?#include"))
      << file(*r, "f.bpf.c");
}

TEST(GenSafety, TypeNamesThatAreNotIdentifiersAreRefused) {
  struct btf* raw = small_btf("n");
  int int_id = 1;
  int evil = btf__add_struct(raw, "a { int x; }; int pwned; struct b", 4);
  btf__add_field(raw, "x", int_id, 0, 0);
  Btf btf = Btf::adopt(raw);
  auto r = render_probe(small_request(btf));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kBadInput);
  EXPECT_TRUE(contains(r.error().message(), "BTF type " + std::to_string(evil)))
      << r.error().message();
  EXPECT_TRUE(contains(r.error().message(), "small.btf")) << r.error().message();
}

TEST(GenSafety, MemberAndEnumeratorNamesAreChecked) {
  struct btf* raw = small_btf("n");
  btf__add_struct(raw, "s", 4);
  btf__add_field(raw, "x; int pwned", 1, 0, 0);
  Btf a = Btf::adopt(raw);
  EXPECT_FALSE(render_probe(small_request(a)));
  raw = small_btf("n");
  btf__add_enum(raw, "e", 4);
  btf__add_enum_value(raw, "A = 1 }; int pwned; enum z { B", 0);
  Btf b = Btf::adopt(raw);
  EXPECT_FALSE(render_probe(small_request(b)));
}

// The BTF as import --btf would have stored it: its raw bytes, parsed again by libbpf.
Btf reparsed(struct btf* raw) {
  Btf built = Btf::adopt(raw);
  std::string bytes = built.raw_bytes();
  auto b = Btf::from_bytes(bytes, "test");
  EXPECT_TRUE(b) << b.error().message();  // libbpf 1.1 accepts all of these
  return std::move(*b);
}

// Points type `id`'s reference at `to` (libbpf's btf__add_* refuse forward references).
void retarget(struct btf* raw, int id, int to) {
  const_cast<struct btf_type*>(btf__type_by_id(raw, static_cast<__u32>(id)))->type =
      static_cast<__u32>(to);
}

void set_member_type(struct btf* raw, int id, int member, int to) {
  const_cast<struct btf_member*>(btf_members(btf__type_by_id(raw, static_cast<__u32>(id))))[member]
      .type = static_cast<__u32>(to);
}

void expect_refused(const Btf& btf, const std::string& why) {
  auto r = render_probe(small_request(btf));
  ASSERT_FALSE(r) << why;
  EXPECT_EQ(r.error().kind, ErrorKind::kBadInput) << why;
  EXPECT_TRUE(contains(r.error().message(), "BTF type ")) << r.error().message();
  EXPECT_TRUE(contains(r.error().message(), why)) << r.error().message();
}

TEST(GenSafety, APointerToItselfIsRefused) {
  struct btf* raw = small_btf("n");
  int ptr = btf__add_ptr(raw, 1);
  retarget(raw, ptr, ptr);
  expect_refused(reparsed(raw), "cycle");
}

// btf_dump writes the parameter names of a function pointer's prototype into vmlinux.h.
int add_ops_with_callback(struct btf* raw, const char* param_name) {
  int proto = btf__add_func_proto(raw, 1);
  btf__add_func_param(raw, param_name, 1);
  int ptr = btf__add_ptr(raw, proto);
  btf__add_struct(raw, "ops", 8);
  btf__add_field(raw, "cb", ptr, 0, 0);
  return proto;
}

TEST(GenSafety, ParameterNamesOfFunctionPointersMustBeIdentifiers) {
  struct btf* raw = small_btf("n");
  add_ops_with_callback(raw, "x); int pwned; void (*y");
  expect_refused(Btf::adopt(raw), "parameter name");
  raw = small_btf("n");
  add_ops_with_callback(raw, "len");
  Btf good = Btf::adopt(raw);
  auto r = render_probe(small_request(good));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(contains(file(*r, "vmlinux.h"), "int (*cb)(int len);")) << file(*r, "vmlinux.h");
}

// fuzz_btf (regressions/btf/func-pointer-parameter-name-outside-strings): libbpf 1.1 parses a
// parameter name offset past the strings, and its dumper dereferences the NULL name.
TEST(GenSafety, AParameterNameOutsideTheStringsIsRefused) {
  struct btf* raw = small_btf("n");
  int proto = add_ops_with_callback(raw, "len");
  const_cast<struct btf_param*>(btf_params(btf__type_by_id(raw, static_cast<__u32>(proto))))[0]
      .name_off = 0x7fffff;
  expect_refused(reparsed(raw), "parameter name offset 8388607 is outside the string section");
}

// fuzz_btf (regressions/btf/member-of-zero-size-int): libbpf's dumper divides a member's offset
// by its type's alignment, which btf__align_of gives as 0 for a 0-byte int, a function type or a
// forward declaration by value: SIGFPE.
TEST(GenSafety, MembersWithoutAnAlignmentAreRefused) {
  struct btf* raw = small_btf("n");
  int zero = btf__add_int(raw, "short unsigned int", 2, 0);
  btf__add_struct(raw, "s", 4);
  btf__add_field(raw, "a", zero, 0, 0);
  const_cast<struct btf_type*>(btf__type_by_id(raw, static_cast<__u32>(zero)))->size = 0;
  expect_refused(reparsed(raw), "a base type of 0 bytes");

  raw = small_btf("n");
  int proto = btf__add_func_proto(raw, 1);
  int s = btf__add_struct(raw, "s", 8);
  btf__add_field(raw, "a", 1, 0, 0);
  set_member_type(raw, s, 0, proto);  // a function by value
  expect_refused(reparsed(raw), "member 0 has a type without a size or alignment");

  raw = small_btf("n");
  int fwd = btf__add_fwd(raw, "later", BTF_FWD_STRUCT);
  int t = btf__add_typedef(raw, "later_t", fwd);
  int arr = btf__add_array(raw, 1, t, 2);
  btf__add_struct(raw, "s", 8);
  btf__add_field(raw, "a", arr, 0, 0);  // an array of a forward-declared struct, by value
  expect_refused(reparsed(raw), "member 0 has a type without a size or alignment");
}

TEST(GenSafety, ATypedefCycleIsRefused) {
  struct btf* raw = small_btf("n");
  int a = btf__add_typedef(raw, "a_t", 1);
  int b = btf__add_typedef(raw, "b_t", a);
  retarget(raw, a, b);
  expect_refused(reparsed(raw), "cycle");
}

TEST(GenSafety, AStructContainingItselfByValueIsRefused) {
  struct btf* raw = small_btf("n");
  int s = btf__add_struct(raw, "loop", 4);
  btf__add_field(raw, "self", 1, 0, 0);
  set_member_type(raw, s, 0, s);
  expect_refused(reparsed(raw), "cycle");
}

TEST(GenSafety, AnAnonymousStructPointingToItselfIsRefused) {
  struct btf* raw = small_btf("n");
  int s = btf__add_struct(raw, "", 8);
  btf__add_field(raw, "next", 1, 0, 0);
  int ptr = btf__add_ptr(raw, s);
  set_member_type(raw, s, 0, ptr);
  btf__add_struct(raw, "holder", 8);
  btf__add_field(raw, "anon", s, 0, 0);
  expect_refused(reparsed(raw), "cycle");
}

TEST(GenSafety, AReferenceBeyondTheLastTypeIsRefused) {
  struct btf* raw = small_btf("n");
  int s = btf__add_struct(raw, "far", 4);
  btf__add_field(raw, "x", 1, 0, 0);
  set_member_type(raw, s, 0, 100000);
  expect_refused(reparsed(raw), "beyond the last");
}

TEST(GenSafety, AnonymousStructsNestedToBlowUpTheOutputAreRefused) {
  // Each level holds the one below twice: written out inline, 2^40 declarations from 2 KB.
  struct btf* raw = small_btf("n");
  int below = 1;
  for (int level = 0; level < 40; ++level) {
    int s = btf__add_struct(raw, "", 8);
    btf__add_field(raw, "a", below, 0, 0);
    btf__add_field(raw, "b", below, 32, 0);
    below = s;
  }
  btf__add_struct(raw, "top", 8);
  btf__add_field(raw, "t", below, 0, 0);
  expect_refused(reparsed(raw), "declarations");
}

TEST(GenSafety, CyclesThroughPointersToNamedStructsAreFine) {
  // struct node { struct node *next; node_t *prev; }; typedef struct node node_t;
  struct btf* raw = small_btf("n");
  int node = btf__add_struct(raw, "node", 16);
  btf__add_field(raw, "next", 1, 0, 0);
  btf__add_field(raw, "prev", 1, 64, 0);
  int node_ptr = btf__add_ptr(raw, node);
  int node_t = btf__add_typedef(raw, "node_t", node);
  int node_t_ptr = btf__add_ptr(raw, node_t);
  set_member_type(raw, node, 0, node_ptr);
  set_member_type(raw, node, 1, node_t_ptr);
  Btf btf = reparsed(raw);
  auto r = render_probe(small_request(btf));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(contains(file(*r, "vmlinux.h"), "struct node *next;")) << file(*r, "vmlinux.h");
}

TEST(GenSafety, TheKernelsBtfPasses) {
  EXPECT_TRUE(check_c_dumpable(kernel_btf(), "vmlinux.btf"));
}

// An attacker who can write in the output directory plants DIR/Makefile -> a file of theirs
// (or of root's): gen must not write through it, with or without --force.
TEST(GenSafety, GenerateNeverWritesThroughASymlink) {
  Btf btf = Btf::adopt(small_btf("n"));
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("out"));
  { std::ofstream(dir.file("victim")) << "precious\n"; }
  std::filesystem::create_symlink(dir.file("victim"), dir.file("out/Makefile"));
  for (bool force : {false, true}) {
    GenRequest req = small_request(btf, dir.file("out"));
    req.force = force;
    auto r = generate_probe(req);
    ASSERT_FALSE(r) << "force " << force;
    EXPECT_EQ(r.error().kind, ErrorKind::kBadInput);
    EXPECT_TRUE(contains(r.error().message(), "symbolic link")) << r.error().message();
    EXPECT_EQ(test::read_file(dir.file("victim")), "precious\n");
    // Nothing was written: the names are all checked first.
    EXPECT_FALSE(std::filesystem::exists(dir.file("out/vmlinux.h")));
  }
}

TEST(GenSafety, AnOutputDirectoryThatIsASymlinkIsRefused) {
  Btf btf = Btf::adopt(small_btf("n"));
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("elsewhere"));
  std::filesystem::create_directory_symlink(dir.file("elsewhere"), dir.file("out"));
  auto r = generate_probe(small_request(btf, dir.file("out")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kBadInput);
  EXPECT_TRUE(std::filesystem::is_empty(dir.file("elsewhere")));
}

TEST(GenSafety, ExistingFilesAreReplacedOnlyWithForce) {
  Btf btf = Btf::adopt(small_btf("n"));
  test::TempDir dir;
  ASSERT_TRUE(generate_probe(small_request(btf, dir.file("out"))));
  auto again = generate_probe(small_request(btf, dir.file("out")));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kBadInput);
  EXPECT_TRUE(contains(again.error().hint, "--force"));
  GenRequest req = small_request(btf, dir.file("out"));
  req.force = true;
  auto forced = generate_probe(req);
  ASSERT_TRUE(forced) << forced.error().message();
  size_t entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.file("out"))) {
    ++entries;
    EXPECT_NE(e.path().filename().string()[0], '.') << e.path();  // no temporary file left
  }
  EXPECT_EQ(entries, forced->files.size());
}

// A full disk (here: a file size limit) while vmlinux.h is written leaves no file behind.
TEST(GenSafety, AFailedWriteLeavesNoFileBehind) {
  test::TempDir dir;
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 64 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  auto r = generate_probe(request("tcp_sendmsg", ProbeType::kKprobe, dir.file("out")));
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kRuntime);
  EXPECT_TRUE(std::filesystem::is_empty(dir.file("out")));
}

TEST(GenSafety, CommandLineRefusalsExitWith2) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("out"));
  { std::ofstream(dir.file("victim")) << "precious\n"; }
  std::filesystem::create_symlink(dir.file("victim"), dir.file("out/Makefile"));
  auto r = test::run_probeseek("gen tcp_sendmsg --btf " + kernel_61("vmlinux.btf") + " -o " +
                               dir.file("out") + " --force");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(test::read_file(dir.file("victim")), "precious\n");
  { std::ofstream(dir.file("garbage.btf")) << "this is not BTF at all\n"; }
  r = test::run_probeseek("gen tcp_sendmsg --btf " + dir.file("garbage.btf") + " -o " +
                          dir.file("out2"));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "not BTF data (bad magic")) << r.err;
}

// The project as a user would build it: make, with clang -target bpf, bpftool gen skeleton and
// libbpf. Each type, and functions with every decoded kind of argument.
class Builds : public ::testing::TestWithParam<std::pair<const char*, ProbeType>> {};

TEST_P(Builds, WithMakeWithoutWarnings) {
  for (const char* tool : {"clang", "make"})
    if (std::system((std::string("command -v ") + tool + " >/dev/null").c_str()) != 0)
      GTEST_SKIP() << tool << " is not installed (scripts/install-deps installs it)";
  const auto [function, type] = GetParam();
  test::TempDir dir;
  auto r = generate_probe(request(function, type, dir.file("p")));
  ASSERT_TRUE(r) << r.error().message();
  auto out = run_shell("make -C " + dir.file("p") + " 2>&1");
  EXPECT_EQ(out.status, 0) << out.out;
  EXPECT_FALSE(contains(out.out, "warning:")) << out.out;
  EXPECT_TRUE(std::filesystem::exists(dir.file("p/" + r->app))) << out.out;
}

INSTANTIATE_TEST_SUITE_P(
    Gen, Builds,
    ::testing::Values(std::pair{"tcp_v4_connect", ProbeType::kKprobe},
                      std::pair{"tcp_v4_connect", ProbeType::kKretprobe},
                      std::pair{"tcp_v4_connect", ProbeType::kFentry},
                      std::pair{"tcp_v4_connect", ProbeType::kFexit},
                      std::pair{"ip_rcv", ProbeType::kKprobe},          // struct sk_buff *
                      std::pair{"vfs_read", ProbeType::kKretprobe},     // struct file *
                      std::pair{"do_unlinkat", ProbeType::kFentry},     // struct filename *
                      std::pair{"__sys_sendto", ProbeType::kKprobe},    // six parameters
                      std::pair{"inet_csk_accept", ProbeType::kFexit},  // returns struct sock *
                      std::pair{"vfs_unlink", ProbeType::kFexit}),      // struct inode **
    [](const auto& info) {
      return std::string(info.param.first) + "_" + std::string(to_string(info.param.second));
    });

// ---- issue 12: a set of functions, one project: tcp_v4_connect and tcp_v6_connect are "every
// TCP connection" (the connect of tcp_prot and of tcpv6_prot).

GenRequest set_request(std::vector<std::string> functions, ProbeType type,
                       const std::string& dir = "") {
  GenRequest r = request("", type, dir);
  r.functions = std::move(functions);
  return r;
}

const std::vector<std::string> kTcpConnect = {"tcp_v4_connect", "tcp_v6_connect"};

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(GenSet, TcpConnectIsTwoProgramsOneRingBufferOneEvent) {
  auto r = render_probe(set_request({"tcp_v4_connect", "tcp_v6_connect"}, ProbeType::kKprobe));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->app, "tcp_v4_connect_and_1_more");
  std::vector<std::string> names;
  for (auto& f : r->files) names.push_back(f.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"vmlinux.h", "tcp_v4_connect_and_1_more.h",
                                      "tcp_v4_connect_and_1_more.bpf.c",
                                      "tcp_v4_connect_and_1_more.c", "Makefile", "README.md"}));
  EXPECT_EQ(r->functions, (std::vector<std::string>{"tcp_v4_connect", "tcp_v6_connect"}));
  using Programs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(r->programs, (Programs{{"tcp_v4_connect_entry", "tcp_v4_connect"},
                                   {"tcp_v6_connect_entry", "tcp_v6_connect"}}));
  const std::string& bpf = file(*r, "tcp_v4_connect_and_1_more.bpf.c");
  // Two programs, each with its function's own prototype from BTF...
  EXPECT_TRUE(contains(bpf,
                       "SEC(\"kprobe/tcp_v4_connect\")\nint BPF_KPROBE(tcp_v4_connect_entry, "
                       "struct sock *sk, struct sockaddr *uaddr, int addr_len)"))
      << bpf;
  EXPECT_TRUE(contains(bpf,
                       "SEC(\"kprobe/tcp_v6_connect\")\nint BPF_KPROBE(tcp_v6_connect_entry, "
                       "struct sock *sk, struct sockaddr *uaddr, int addr_len)"))
      << bpf;
  // ...one ring buffer, one copy of the decoders, and each event says which function it is.
  EXPECT_EQ(count(bpf, "BPF_MAP_TYPE_RINGBUF"), 1u);
  EXPECT_EQ(count(bpf, "bpf_ringbuf_reserve(&events, sizeof(*e), 0);"), 2u);
  EXPECT_EQ(count(bpf, "static __always_inline void read_sock("), 1u);
  EXPECT_EQ(count(bpf, "__u64 dropped = 0;"), 1u);
  EXPECT_TRUE(contains(bpf,
                       "\te->function = FN_tcp_v4_connect;\n\tread_sock(&e->tcp_v4_connect.sk, "
                       "sk);\n\tread_sockaddr(&e->tcp_v4_connect.uaddr, uaddr);\n"));
  EXPECT_TRUE(contains(bpf,
                       "\te->function = FN_tcp_v6_connect;\n\tread_sock(&e->tcp_v6_connect.sk, "
                       "sk);\n"));
  EXPECT_TRUE(contains(bpf, "kprobes on 2 functions"));
  const std::string& header = file(*r, "tcp_v4_connect_and_1_more.h");
  EXPECT_EQ(count(header, "_event {"), 1u);
  EXPECT_EQ(count(header, "struct sock_info {"), 1u);
  EXPECT_TRUE(contains(header,
                       "enum tcp_v4_connect_and_1_more_function {\n\tFN_tcp_v4_connect = 0,\n"
                       "\tFN_tcp_v6_connect = 1,\n};"))
      << header;
  EXPECT_TRUE(contains(header, "\tunsigned int function;\t\t\t/* enum "));
  EXPECT_TRUE(contains(header, "\t\t\tstruct sock_info sk;\t\t/* struct sock *sk */\n"));
  EXPECT_TRUE(contains(header, "\t\t} tcp_v4_connect;\n\t\tstruct {\n"));
  EXPECT_TRUE(contains(header, "\t\t} tcp_v6_connect;\n\t};\n};"));
  // The loader names the function from a table indexed by the event's enum value.
  const std::string& loader = file(*r, "tcp_v4_connect_and_1_more.c");
  EXPECT_TRUE(contains(loader,
                       "static const char *const function_names[] = {\n"
                       "\t[FN_tcp_v4_connect] = \"tcp_v4_connect\",\n"
                       "\t[FN_tcp_v6_connect] = \"tcp_v6_connect\",\n};"))
      << loader;
  EXPECT_TRUE(contains(loader, "function_names[e->function]"));
  EXPECT_TRUE(
      contains(loader, "e->function >= sizeof(function_names) / sizeof(function_names[0])"));
  EXPECT_TRUE(contains(loader, "\tcase FN_tcp_v6_connect: {\n"));
  EXPECT_TRUE(contains(loader, "&e->tcp_v6_connect.uaddr"));
  EXPECT_TRUE(contains(loader, "one line per call of tcp_v4_connect or tcp_v6_connect"));
  EXPECT_TRUE(contains(file(*r, "README.md"), "- `int tcp_v6_connect(struct sock *sk"));

  // --name: the file stem and the event's name; the programs keep their functions' names.
  GenRequest named = set_request({"tcp_v4_connect", "tcp_v6_connect"}, ProbeType::kKprobe);
  named.name = "tcp_connect";
  auto n = render_probe(named);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(n->app, "tcp_connect");
  EXPECT_TRUE(contains(file(*n, "tcp_connect.h"), "struct tcp_connect_event {"));
  EXPECT_TRUE(contains(file(*n, "tcp_connect.bpf.c"), "BPF_KPROBE(tcp_v6_connect_entry, "));
  EXPECT_TRUE(contains(file(*n, "tcp_connect.c"), "tcp_connect_bpf__open()"));
}

// Each function captures what its own prototype has: the event's union holds a struct per
// function, kretprobes keep one map of saved arguments per function.
TEST(GenSet, EachFunctionKeepsItsOwnArguments) {
  auto r =
      render_probe(set_request({"tcp_v4_connect", "vfs_read", "ip_rcv"}, ProbeType::kKretprobe));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->app, "tcp_v4_connect_and_2_more");
  const std::string& header = file(*r, "tcp_v4_connect_and_2_more.h");
  EXPECT_TRUE(contains(header, "#define MAX_NAME 64\n"));
  EXPECT_TRUE(contains(header, "struct skb_info {"));
  EXPECT_TRUE(contains(header, "\t\t\tchar file[MAX_NAME];"));
  EXPECT_TRUE(contains(header, "\t\t\tstruct skb_info skb;"));
  EXPECT_TRUE(contains(header, "\t\t} vfs_read;\n"));
  const std::string& bpf = file(*r, "tcp_v4_connect_and_2_more.bpf.c");
  for (const char* f : {"tcp_v4_connect", "vfs_read", "ip_rcv"}) {
    const std::string fn = f;
    EXPECT_EQ(count(bpf, "} " + fn + "_inflight SEC(\".maps\");"), 1u) << fn;
    EXPECT_TRUE(contains(bpf, "struct " + fn + "_args {")) << fn;
    EXPECT_TRUE(contains(bpf, "int BPF_KRETPROBE(" + fn + "_exit, ")) << fn;
    EXPECT_TRUE(contains(bpf, "\te->function = FN_" + fn + ";\n")) << fn;
  }
  EXPECT_TRUE(contains(bpf, "BPF_CORE_READ(a->file, f_path.dentry, d_name.name)")) << bpf;
  EXPECT_TRUE(contains(bpf, "e->ip_rcv.skb.len = BPF_CORE_READ(a->skb, len);"));
  EXPECT_TRUE(contains(bpf, "e->vfs_read.ret = ret;"));
  EXPECT_EQ(r->programs.size(), 6u);  // a kprobe and a kretprobe each
}

TEST(GenSet, EveryNameIsCheckedBeforeAnyFileOrCode) {
  auto bad = render_probe(set_request({"tcp_v4_connect", "x;rm -rf"}, ProbeType::kKprobe));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kBadInput);
  EXPECT_EQ(bad.error().object, "x;rm -rf");
  auto twice = render_probe(set_request({"tcp_v4_connect", "tcp_v4_connect"}, ProbeType::kKprobe));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, ErrorKind::kBadInput);
  EXPECT_TRUE(contains(twice.error().what, "named twice")) << twice.error().what;
  // Two kernel symbols, one C identifier.
  auto same = render_probe(set_request({"f.isra.0", "f_isra_0"}, ProbeType::kKprobe));
  ASSERT_FALSE(same);
  EXPECT_TRUE(contains(same.error().what, "the same name in C (f_isra_0)")) << same.error().what;
  for (const char* name : {"1st", "tcp-connect", "a b", "../x", "int"}) {
    GenRequest req = set_request({"tcp_v4_connect", "tcp_v6_connect"}, ProbeType::kKprobe);
    req.name = name;
    auto r = render_probe(req);
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().kind, ErrorKind::kBadInput) << name;
  }
  auto unknown =
      render_probe(set_request({"tcp_v4_connect", "no_such_function_here"}, ProbeType::kKprobe));
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(contains(unknown.error().what, "no BTF prototype for no_such_function_here"));
  auto none = render_probe(set_request({}, ProbeType::kKprobe));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::kBadInput);
}

// One function with --name: the single-function layout, under another stem.
TEST(GenSet, OneFunctionKeepsItsLayoutUnderAnotherName) {
  GenRequest req = request("tcp_v4_connect", ProbeType::kKprobe);
  req.name = "connect4";
  auto r = render_probe(req);
  ASSERT_TRUE(r) << r.error().message();
  const std::string& header = file(*r, "connect4.h");
  EXPECT_TRUE(contains(header, "struct connect4_event {"));
  EXPECT_FALSE(contains(header, "union"));
  EXPECT_FALSE(contains(header, "enum"));
  EXPECT_TRUE(contains(file(*r, "connect4.bpf.c"), "int BPF_KPROBE(tcp_v4_connect_entry, "));
  EXPECT_TRUE(contains(file(*r, "connect4.bpf.c"), "read_sock(&e->sk, sk);"));
}

TEST(GenSet, ASetIsWrittenIntoADirectoryNamedAfterItsProject) {
  test::TempDir dir;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  auto written = generate_probe(set_request(kTcpConnect, ProbeType::kKprobe));
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(written) << written.error().message();
  EXPECT_EQ(written->dir, "tcp_v4_connect_and_1_more");
  EXPECT_TRUE(std::filesystem::exists(
      dir.file("tcp_v4_connect_and_1_more/tcp_v4_connect_and_1_more.bpf.c")));
}

TEST(GenSet, TheCommandTakesSeveralFunctionsAndRefusesBadNames) {
  test::TempDir dir;
  auto r =
      test::run_probeseek("gen tcp_v4_connect tcp_v6_connect --type kretprobe --btf " +
                          kernel_61("vmlinux.btf") + " --name tcp_connect -o " + dir.file("p"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "tcp_connect.bpf.c")) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir.file("p/tcp_connect.c")));
  r = test::run_probeseek("gen tcp_v4_connect tcp_v6_connect --btf " + kernel_61("vmlinux.btf") +
                          " --name 'bad name' -o " + dir.file("q"));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("q")));
  r = test::run_probeseek("gen tcp_v4_connect 'tcp_v6_connect;id' --btf " +
                          kernel_61("vmlinux.btf") + " -o " + dir.file("q"));
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("q")));
}

// Sets as a user builds them: every type, and functions with different kinds of arguments.
class BuildsSet : public ::testing::TestWithParam<std::pair<std::vector<std::string>, ProbeType>> {
};

TEST_P(BuildsSet, WithMakeWithoutWarnings) {
  for (const char* tool : {"clang", "make"})
    if (std::system((std::string("command -v ") + tool + " >/dev/null").c_str()) != 0)
      GTEST_SKIP() << tool << " is not installed (scripts/install-deps installs it)";
  const auto& [functions, type] = GetParam();
  test::TempDir dir;
  auto r = generate_probe(set_request(functions, type, dir.file("p")));
  ASSERT_TRUE(r) << r.error().message();
  auto out = run_shell("make -C " + dir.file("p") + " 2>&1");
  EXPECT_EQ(out.status, 0) << out.out;
  EXPECT_FALSE(contains(out.out, "warning:")) << out.out;
  EXPECT_TRUE(std::filesystem::exists(dir.file("p/" + r->app))) << out.out;
}

INSTANTIATE_TEST_SUITE_P(
    Gen, BuildsSet,
    ::testing::Values(
        std::pair{kTcpConnect, ProbeType::kKprobe}, std::pair{kTcpConnect, ProbeType::kKretprobe},
        std::pair{kTcpConnect, ProbeType::kFentry}, std::pair{kTcpConnect, ProbeType::kFexit},
        // sock + sockaddr, file, sk_buff, filename; six parameters
        std::pair{std::vector<std::string>{"tcp_v4_connect", "vfs_read", "ip_rcv", "__sys_sendto"},
                  ProbeType::kKretprobe},
        // a struct sock * return value, a struct inode ** through the helpers
        std::pair{std::vector<std::string>{"inet_csk_accept", "vfs_unlink"}, ProbeType::kFexit}),
    [](const auto& info) {
      return info.param.first.front() + "_" + std::to_string(info.param.first.size()) + "_" +
             std::string(to_string(info.param.second));
    });

// ---- gen --kernels: libbpf relocates the compiled program against each catalogued kernel.

// A catalogue of the 6.1 and 6.12 kernels of tests/data, and the 6.12 BTF once more with
// struct sock_common's skc_daddr renamed (what a kernel that renamed a member looks like).
std::string relocation_catalogue(const test::TempDir& dir) {
  const std::string path = dir.file("k.db");
  auto db = Database::open(path);
  EXPECT_TRUE(db) << db.error().message();
  auto btf_612 =
      read_btf_file(test::data_dir() + "/linux-6.12.118+deb12-cloud-amd64/vmlinux.btf.gz");
  EXPECT_TRUE(btf_612) << btf_612.error().message();
  std::string renamed = btf_612->btf;
  const std::string from = std::string("\0skc_daddr\0", 11), to = std::string("\0skc_dxddr\0", 11);
  EXPECT_NE(renamed.find(from), std::string::npos);
  renamed.replace(renamed.find(from), from.size(), to);
  test::write_file(dir.file("renamed.btf"), renamed);
  std::vector<std::pair<std::string, std::string>> sources = {
      {"6.1.0-56-cloud-amd64", kernel_61("vmlinux.btf")},
      {"6.12.118+deb12-cloud-amd64",
       test::data_dir() + "/linux-6.12.118+deb12-cloud-amd64/vmlinux.btf.gz"},
      {"6.12.118-renamed", dir.file("renamed.btf")}};
  for (const auto& [name, file] : sources) {
    auto facts = read_btf_file(file);
    EXPECT_TRUE(facts) << facts.error().message();
    facts->release = name;
    auto input = catalog_input(*facts);
    EXPECT_TRUE(input) << input.error().message();
    auto stored = store_catalog_kernel(*db, *input, false);
    EXPECT_TRUE(stored) << stored.error().message();
  }
  return path;
}

TEST(GenKernels, LibbpfRelocatesTheProgramOnEachCataloguedKernel) {
  if (std::system("command -v clang >/dev/null") != 0)
    GTEST_SKIP() << "clang is not installed (scripts/install-deps installs it)";
  test::TempDir dir;
  auto db = Database::open(relocation_catalogue(dir), Database::Mode::kReadOnly);
  ASSERT_TRUE(db) << db.error().message();
  auto project = render_probe(request("tcp_v4_connect", ProbeType::kKprobe));
  ASSERT_TRUE(project) << project.error().message();
  auto checks = check_relocations(*project, *db, {});
  ASSERT_TRUE(checks) << checks.error().message();
  ASSERT_EQ(checks->size(), 3u);
  if (!checks->front().error.empty())
    GTEST_SKIP() << "libbpf relocates only while loading, and this machine refuses BPF: "
                 << checks->front().error;
  const std::vector<std::string> kernels = {"6.1.0-56-cloud-amd64", "6.12.118+deb12-cloud-amd64",
                                            "6.12.118-renamed"};
  for (size_t i = 0; i < 3; ++i) {
    const RelocationCheck& c = (*checks)[i];
    EXPECT_EQ(c.kernel, kernels[i]);
    EXPECT_EQ(c.error, "") << c.kernel;
    // pt_regs for the arguments, struct sock_common and the sockaddrs for the decoders.
    EXPECT_GE(c.relocations, 10u) << c.kernel;
  }
  EXPECT_TRUE((*checks)[0].failed.empty());
  EXPECT_TRUE((*checks)[1].failed.empty());
  EXPECT_EQ((*checks)[2].failed,
            std::vector<std::string>{"struct sock.__sk_common.skc_daddr (byte_off)"});
  EXPECT_EQ((*checks)[0].relocations, (*checks)[2].relocations);

  auto one = check_relocations(*project, *db, {"6.12.118-renamed"});
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_EQ(one->size(), 1u);
  auto unknown = check_relocations(*project, *db, {"9.9.9"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::kBadInput);

  // A set: the decoders are shared, so the renamed member fails in both programs, named once
  // with the functions it fails in.
  auto set = render_probe(set_request(kTcpConnect, ProbeType::kKprobe));
  ASSERT_TRUE(set) << set.error().message();
  auto set_checks = check_relocations(*set, *db, {});
  ASSERT_TRUE(set_checks) << set_checks.error().message();
  ASSERT_EQ(set_checks->size(), 3u);
  EXPECT_TRUE((*set_checks)[0].failed.empty());
  EXPECT_TRUE((*set_checks)[1].failed.empty());
  EXPECT_GE((*set_checks)[0].relocations, 2 * (*checks)[0].relocations - 2);
  EXPECT_EQ((*set_checks)[2].failed,
            std::vector<std::string>{
                "struct sock.__sk_common.skc_daddr (byte_off) in tcp_v4_connect, tcp_v6_connect"});

  // The command: the project is written, then the relocations grouped by kernels.
  auto r = test::run_probeseek("gen tcp_v4_connect --btf " + kernel_61("vmlinux.btf") + " -o " +
                               dir.file("p") + " --db " + dir.file("k.db") + " --kernels");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out,
                       "6.1.0-56-cloud-amd64 .. 6.12.118+deb12-cloud-amd64 (2 kernels): "
                       "all "))
      << r.out;
  EXPECT_TRUE(contains(r.out, "6.12.118-renamed: 1 of ")) << r.out;
  EXPECT_TRUE(contains(r.out, "struct sock.__sk_common.skc_daddr (byte_off)")) << r.out;
}

}  // namespace
}  // namespace probeseek
