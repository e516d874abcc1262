// attach and verify on the host. What needs a kernel that probes runs in the lab
// (tests/lab/probe-*.sh); here: which argument kinds BTF yields (on the 6.1 lab kernel's BTF and
// on BTF built in the test), how values are printed, the refusals (deny list, kprobe
// blacklist, notrace, inlined, unknown and clone names, played with small kernel tables written
// by the test), and, on a kernel without kprobes or fentry such as this build machine, that
// attach and verify fail fast and say why and what works instead.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <bpf/btf.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "arg_spec.h"
#include "event_decoder.h"
#include "probeseek/attach.h"
#include "probeseek/verification_store.h"
#include "probeseek/verify.h"
#include "test_support.h"

namespace probeseek {
namespace {

using internal::ArgSpec;
using internal::ScalarKind;
using nlohmann::json;
using test::kernel_61;
using test::run_probeseek;

const Btf& kernel_btf() {
  static Btf* btf = [] {
    auto b = Btf::load(kernel_61("vmlinux.btf"));
    EXPECT_TRUE(b) << b.error().message();
    return new Btf(std::move(*b));
  }();
  return *btf;
}

internal::PrototypeSpec spec_of(const std::string& function) {
  auto p = kernel_btf().prototype(function);
  EXPECT_TRUE(p) << function;
  return p ? internal::describe_prototype(kernel_btf(), *p) : internal::PrototypeSpec{};
}

using test::contains;

bool kernel_can_probe() {
  return access("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0;
}

// ---- argument kinds from BTF

TEST(ArgSpec, TcpV4ConnectHasASocketAnAddressAndAnInt) {
  auto s = spec_of("tcp_v4_connect");
  ASSERT_EQ(s.args.size(), 3u);
  EXPECT_EQ(s.args[0].kind, PROBE_VALUE_SOCK);
  EXPECT_EQ(s.args[0].name, "sk");
  EXPECT_EQ(s.args[0].type, "struct sock *");
  EXPECT_EQ(s.args[1].kind, PROBE_VALUE_SOCKADDR);
  EXPECT_EQ(s.args[2].kind, PROBE_VALUE_RAW);
  EXPECT_EQ(s.args[2].scalar, ScalarKind::kSigned);
  EXPECT_EQ(s.args[2].size, 4u);
  ASSERT_TRUE(s.ret);
  EXPECT_EQ(s.ret->scalar, ScalarKind::kSigned);
  EXPECT_TRUE(s.has_sock());
}

TEST(ArgSpec, WellKnownKernelTypesOfThe61Kernel) {
  EXPECT_EQ(spec_of("ip_rcv").args[0].kind, PROBE_VALUE_SKB);
  EXPECT_EQ(spec_of("vfs_read").args[0].kind, PROBE_VALUE_FILE);
  EXPECT_EQ(spec_of("do_unlinkat").args[1].kind, PROBE_VALUE_FILENAME);
  EXPECT_EQ(spec_of("vfs_unlink").args[2].kind, PROBE_VALUE_DENTRY);
  EXPECT_EQ(spec_of("inet_release").args[0].kind, PROBE_VALUE_SOCKET);
  // Socket types that are not struct sock but start with it (or with struct sock_common).
  EXPECT_EQ(spec_of("tcp_init_cwnd").args[0].kind, PROBE_VALUE_SOCK);  // struct tcp_sock *
  EXPECT_EQ(spec_of("inet_twsk_put").args[0].kind, PROBE_VALUE_SOCK);  // inet_timewait_sock *
  EXPECT_EQ(spec_of("inet_csk_accept").ret->kind, PROBE_VALUE_SOCK);
  EXPECT_FALSE(spec_of("vfs_read").has_sock());
}

TEST(ArgSpec, StructsPassedByValueEndTheCapturedParameters) {
  auto s = spec_of("vmf_insert_pfn_prot");  // (vma, addr, pfn, pgprot_t pgprot)
  EXPECT_EQ(s.total_params, 4u);
  EXPECT_EQ(s.args.size(), 3u);
  EXPECT_TRUE(contains(s.not_captured_why, "pgprot_t pgprot")) << s.not_captured_why;
}

// The socket rule on BTF written down here: a struct is a socket when its first member, at
// offset 0, is struct sock_common or such a struct, through typedefs and const.
TEST(ArgSpec, SocketsAreRecognisedByLayoutNotByName) {
  struct btf* raw = btf__new_empty();
  int int_id = btf__add_int(raw, "int", 4, BTF_INT_SIGNED);
  int common = btf__add_struct(raw, "sock_common", 8);
  btf__add_field(raw, "skc_family", int_id, 0, 0);
  int sock = btf__add_struct(raw, "sock", 8);
  btf__add_field(raw, "__sk_common", common, 0, 0);
  int my_sock = btf__add_struct(raw, "my_proto_sock", 16);
  btf__add_field(raw, "sk", sock, 0, 0);
  btf__add_field(raw, "extra", int_id, 64, 0);
  int not_sock = btf__add_struct(raw, "not_a_sock", 12);
  btf__add_field(raw, "x", int_id, 0, 0);
  btf__add_field(raw, "c", common, 32, 0);
  int const_my = btf__add_const(raw, my_sock);
  int typedef_my = btf__add_typedef(raw, "my_sock_t", const_my);
  int p_my = btf__add_ptr(raw, typedef_my);
  int p_not = btf__add_ptr(raw, not_sock);
  int in = btf__add_struct(raw, "sockaddr_in", 4);
  btf__add_field(raw, "sin_family", int_id, 0, 0);
  int p_in = btf__add_ptr(raw, in);
  int e = btf__add_enum(raw, "color", 4);
  btf__add_enum_value(raw, "RED", 0);
  btf__add_enum_value(raw, "GREEN", 1);
  int b = btf__add_int(raw, "_Bool", 1, BTF_INT_BOOL);
  Btf btf = Btf::adopt(raw);
  EXPECT_EQ(internal::describe_type(btf, p_my, "s").kind, PROBE_VALUE_SOCK);
  EXPECT_EQ(internal::describe_type(btf, p_not, "n").kind, PROBE_VALUE_RAW);
  EXPECT_EQ(internal::describe_type(btf, p_in, "a").kind, PROBE_VALUE_SOCKADDR);
  ArgSpec color = internal::describe_type(btf, e, "c");
  EXPECT_EQ(color.scalar, ScalarKind::kEnum);
  EXPECT_EQ(internal::format_scalar(color, 1, false), "GREEN");
  EXPECT_EQ(internal::format_scalar(color, 7, false), "7");
  EXPECT_EQ(internal::format_scalar(internal::describe_type(btf, b, "b"), 0x100, false), "false");
}

TEST(ArgSpec, ScalarsArePrintedAsTheirTypeSays) {
  auto s = spec_of("tcp_v4_connect");
  // An int in a 64-bit register: the upper half is garbage, the sign is bit 31.
  EXPECT_EQ(internal::format_scalar(s.args[2], 0xdeadbeef00000010ull, false), "16");
  EXPECT_EQ(internal::format_scalar(*s.ret, 0xffffff92ull, true), "-110 (-ETIMEDOUT)");
  EXPECT_EQ(internal::format_scalar(s.args[0], 0, false), "NULL");
  EXPECT_EQ(internal::format_scalar(s.args[0], 0xffff888003a1c000ull, false), "0xffff888003a1c000");
  auto accept = spec_of("inet_csk_accept");
  EXPECT_EQ(internal::format_scalar(*accept.ret, static_cast<uint64_t>(-11), true),
            "ERR_PTR(-EAGAIN)");
}

// ---- events as printed

TEST(FormatEvent, OneLineWithNamesTypesAndDecodedSockets) {
  Event e;
  e.function = "tcp_v4_connect";
  e.comm = "curl";
  e.pid = 312;
  e.tid = 313;
  e.returned = true;
  e.duration_ns = 45'000;
  Value sk;
  sk.name = "sk";
  sk.type = "struct sock *";
  sk.text = "0xffff888003a1c000";
  sk.sock = SockValue{2, "AF_INET", "127.0.0.1", "127.0.0.1", 40212, 8080, "SYN_SENT", "tcp"};
  Value len;
  len.name = "addr_len";
  len.type = "int";
  len.text = "16";
  e.args = {sk, len};
  Value ret;
  ret.type = "int";
  ret.text = "0";
  e.ret = ret;
  std::string line = format_event(e);
  EXPECT_TRUE(contains(line,
                       " curl 312/313 tcp_v4_connect(struct sock *sk=0xffff888003a1c000 {AF_INET "
                       "127.0.0.1:40212 -> 127.0.0.1:8080 tcp SYN_SENT}, int addr_len=16) = 0 "
                       "(45.0 us)"))
      << line;
  Value v6;
  v6.sockaddr = SockaddrValue{10, "AF_INET6", "::1", 443};
  EXPECT_EQ(v6.detail(), "AF_INET6 [::1]:443");
  Value unreadable;
  unreadable.read_error = "cannot read the sock: Bad address";
  EXPECT_EQ(unreadable.detail(), "(cannot read the sock: Bad address)");
}

// The ring buffer's records as the probe writes them (bpf/include/probeseek/probe_event.h),
// decoded with the 6.1 kernel's prototype of tcp_v4_connect into the line attach prints. One
// Event is reused from record to record: nothing of a record may show in the next.
TEST(EventDecoder, RecordsIntoEventsReusingOneEvent) {
  internal::EventDecoder decoder(0);
  decoder.set_probe(1, "tcp_v4_connect", spec_of("tcp_v4_connect"));
  probe_event r{};
  r.ts_ns = 1'000'000'000ull * 3600 + 5'000;  // wall offset 0: 01:00:00.000005 UTC
  r.duration_ns = 45'000;
  r.probe_id = 1;
  r.flags = PROBE_EVENT_RETURNED;
  r.tgid = 312;
  r.tid = 313;
  std::memcpy(r.comm, "curl", 5);
  r.args[0] = 0xffff888003a1c000ull;
  r.args[1] = 0xffffc90000123e40ull;
  r.args[2] = 16;
  r.ret = static_cast<uint64_t>(-111);
  r.decoded[0].sock = {2, 40212, htons(8080), 2, 6, {127, 0, 0, 1}, {127, 0, 0, 1}};
  r.decoded[1].sockaddr = {2, htons(8080), {127, 0, 0, 1}};
  Event e;
  ASSERT_TRUE(decoder.decode(&r, sizeof r, e));
  EXPECT_EQ(e.function, "tcp_v4_connect");
  EXPECT_EQ(e.probe, 1u);
  EXPECT_EQ(e.wall_time_ns, r.ts_ns);
  std::string line = format_event(e);
  EXPECT_TRUE(contains(line,
                       ".000005 curl 312/313 tcp_v4_connect(struct sock *sk=0xffff888003a1c000 "
                       "{AF_INET 127.0.0.1:40212 -> 127.0.0.1:8080 tcp SYN_SENT}, struct sockaddr "
                       "*uaddr=0xffffc90000123e40 {AF_INET 127.0.0.1:8080}, int addr_len=16) = "
                       "-111 (-ECONNREFUSED) (45.0 us)"))
      << line;

  // Addresses printed without inet_ntop for IPv4: every width of a byte.
  r.decoded[0].sock = {2, 0, htons(65535), 1, 17, {10, 0, 100, 9}, {255, 255, 255, 0}};
  r.decoded[1].sockaddr = {2, htons(1), {0, 0, 0, 0}};
  ASSERT_TRUE(decoder.decode(&r, sizeof r, e));
  EXPECT_EQ(e.args[0].detail(), "AF_INET 10.0.100.9:0 -> 255.255.255.0:65535 udp ESTABLISHED");
  EXPECT_EQ(e.args[1].detail(), "AF_INET 0.0.0.0:1");

  // The next record: the socket unreadable, no sockaddr pointer, an entry event.
  r.flags = 0;
  r.duration_ns = 0;
  r.args[1] = 0;
  r.decoded[0].status = -14;
  std::memcpy(r.comm, "a\x1b[2J", sizeof "a\x1b[2J");
  ASSERT_TRUE(decoder.decode(&r, sizeof r, e));
  line = format_event(e);
  EXPECT_TRUE(contains(line,
                       " a\\x1b[2J 312/313 tcp_v4_connect(struct sock *sk=0xffff888003a1c000 "
                       "{(cannot read the sock: Bad address)}, struct sockaddr *uaddr=NULL, int "
                       "addr_len=16)"))
      << line;
  EXPECT_FALSE(e.args[0].sock);
  EXPECT_FALSE(e.args[1].sockaddr);
  EXPECT_FALSE(e.ret);
  EXPECT_EQ(line.find(" = "), std::string::npos) << line;

  // A read status that is no -errno (INT_MIN: negating it overflowed) is said as a number.
  r.decoded[0].status = INT32_MIN;
  ASSERT_TRUE(decoder.decode(&r, sizeof r, e));
  EXPECT_EQ(e.args[0].read_error, "cannot read the sock: status -2147483648");

  // Too short, or naming a probe that was never set: undecodable, counted by the caller.
  EXPECT_FALSE(decoder.decode(&r, sizeof r - 1, e));
  r.probe_id = 0;
  EXPECT_FALSE(decoder.decode(&r, sizeof r, e));
  r.probe_id = 7;
  EXPECT_FALSE(decoder.decode(&r, sizeof r, e));
}

TEST(ProbeType, ParsesTheFourTypes) {
  for (const char* t : {"kprobe", "kretprobe", "fentry", "fexit"}) {
    auto p = parse_probe_type(t);
    ASSERT_TRUE(p) << t;
    EXPECT_EQ(to_string(*p), t);
  }
  auto bad = parse_probe_type("uprobe");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kBadInput);
}

TEST(Verify, PortsComeFromTheCommandLine) {
  EXPECT_EQ(ports_in_command({"curl", "-s", "http://127.0.0.1:8080/"}),
            (std::vector<uint16_t>{8080}));
  EXPECT_EQ(ports_in_command({"tcp-keepwriter", "127.0.0.1", "9000", "50"}),
            (std::vector<uint16_t>{9000, 50}));
  EXPECT_EQ(ports_in_command({"nc", "[::1]:443"}), (std::vector<uint16_t>{443}));
  EXPECT_TRUE(ports_in_command({"true"}).empty());
  EXPECT_TRUE(ports_in_command({"sleep", "70000"}).empty());
}

// ---- refusals, on kernel tables written by the test

class Refusals : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_file(dir_.file("kallsyms"),
                     "ffffffff81000000 T tcp_v4_connect\n"
                     "ffffffff81000100 T sched_clock\n"
                     "ffffffff81000200 T exc_page_fault\n"
                     "ffffffff81000300 T bpf_prog_load\n"
                     "ffffffff81000400 t tcp_sendmsg.isra.0\n"
                     "ffffffff81000500 T tcp_sendmsg_locked\n");
    // A tracefs of its own: available_filter_functions, and no kprobe_events.
    test::write_file(dir_.file("available_filter_functions"),
                     "tcp_v4_connect\nbpf_prog_load\ntcp_sendmsg.isra.0\ntcp_sendmsg_locked\n");
    test::write_file(dir_.file("blacklist"),
                     "0xffffffff81000200-0xffffffff81000300\texc_page_fault\n");
    paths_.btf = kernel_61("vmlinux.btf");
    paths_.kallsyms = dir_.file("kallsyms");
    paths_.tracing_dir = dir_.path();
    paths_.kprobe_blacklist = dir_.file("blacklist");
    // A kernel without kprobes, without a config to say why.
    paths_.kprobe_pmu = dir_.file("no-kprobe-pmu");
    paths_.kernel_config = dir_.file("no-config");
    paths_.lockdown = dir_.file("no-lockdown");
  }
  Result<const AttachedProbe*> attach(const std::string& function,
                                      std::optional<ProbeType> type = std::nullopt,
                                      bool unsafe = false) {
    TracerOptions options;
    options.paths = paths_;
    auto tracer = Tracer::open(options);
    if (!tracer) return tl::unexpected(tracer.error());
    tracer_ = std::move(*tracer);
    return tracer_->attach({function, type, unsafe});
  }
  Result<std::vector<const AttachedProbe*>> attach_set(const std::vector<std::string>& functions,
                                                       std::optional<ProbeType> type = {}) {
    TracerOptions options;
    options.paths = paths_;
    auto tracer = Tracer::open(options);
    if (!tracer) return tl::unexpected(tracer.error());
    tracer_ = std::move(*tracer);
    std::vector<ProbeRequest> requests;
    for (const std::string& f : functions) requests.push_back({f, type, false});
    return tracer_->attach_set(requests);
  }
  void skip_without_bpf() {
    TracerOptions options;
    options.paths = paths_;
    if (auto t = Tracer::open(options); !t)
      GTEST_SKIP() << "no BPF here (" << t.error().message() << ")";
  }
  test::TempDir dir_;
  KernelPaths paths_;
  std::unique_ptr<Tracer> tracer_;
};

TEST_F(Refusals, BadNamesNeverReachTheKernel) {
  skip_without_bpf();
  auto r = attach("tcp_v4_connect;reboot");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kBadInput);
  EXPECT_TRUE(contains(r.error().what, "not a kernel function name"));
}

TEST_F(Refusals, DenyListedFunctionsNeedUnsafe) {
  skip_without_bpf();
  auto r = attach("bpf_prog_load");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kBadInput);
  EXPECT_TRUE(contains(r.error().what, "refusing to attach to bpf_prog_load: deny list"))
      << r.error().what;
  EXPECT_TRUE(contains(r.error().hint, "--unsafe"));
  // With --unsafe the refusal goes; what is left is this kernel having no kprobes.
  auto unsafe = attach("bpf_prog_load", ProbeType::kKprobe, true);
  ASSERT_FALSE(unsafe);
  EXPECT_TRUE(contains(unsafe.error().what, "kprobe: kernel built without kprobes"))
      << unsafe.error().what;
}

TEST_F(Refusals, BlacklistedAndNotraceFunctionsAreRefusedWithTheReason) {
  skip_without_bpf();
  auto black = attach("exc_page_fault");
  ASSERT_FALSE(black);
  EXPECT_TRUE(contains(black.error().what, "in the kprobe blacklist")) << black.error().what;
  auto notrace = attach("sched_clock");
  ASSERT_FALSE(notrace);
  EXPECT_TRUE(contains(notrace.error().what, "not in available_filter_functions"))
      << notrace.error().what;
}

TEST_F(Refusals, UnknownAndInlinedFunctions) {
  skip_without_bpf();
  auto unknown = attach("no_such_function");
  ASSERT_FALSE(unknown);
  EXPECT_TRUE(contains(unknown.error().what, "no such kernel function"));
  // In BTF but not in (this) kallsyms: every call was inlined.
  auto inlined = attach("tcp_close");
  ASSERT_FALSE(inlined);
  EXPECT_TRUE(contains(inlined.error().what, "inlined")) << inlined.error().what;
  // A clone name kallsyms does not have; the hint names what it has.
  auto clone = attach("tcp_v4_connect.isra.0");
  ASSERT_FALSE(clone);
  EXPECT_TRUE(contains(clone.error().hint, "kallsyms has: tcp_v4_connect")) << clone.error().hint;
}

TEST_F(Refusals, AFunctionOnlyItsCloneHasIsAttachedThroughTheClone) {
  skip_without_bpf();
  // kallsyms has tcp_sendmsg.isra.0 only: a kprobe goes to the clone, fentry cannot (BTF only
  // knows tcp_sendmsg), and without kprobes here both reasons are given.
  auto r = attach("tcp_sendmsg");
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().what, "cannot attach to tcp_sendmsg.isra.0")) << r.error().what;
  auto f = attach("tcp_sendmsg", ProbeType::kFentry);
  ASSERT_FALSE(f);
  EXPECT_TRUE(contains(f.error().what, "not its clone tcp_sendmsg.isra.0")) << f.error().what;
}

// Issue 12: a set is attached all or none. Every function is checked first; the refusals of
// all of them come back together, and nothing is attached.
TEST_F(Refusals, ASetIsRefusedWholeWithEveryReason) {
  skip_without_bpf();
  auto r = attach_set({"tcp_v4_connect", "bpf_prog_load", "exc_page_fault"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kBadInput);
  EXPECT_TRUE(contains(r.error().what, "refusing the set of 3 functions, nothing attached: "))
      << r.error().what;
  EXPECT_TRUE(contains(r.error().what, "refusing to attach to bpf_prog_load: deny list"))
      << r.error().what;
  EXPECT_TRUE(contains(r.error().what, "exc_page_fault")) << r.error().what;
  EXPECT_TRUE(contains(r.error().what, "in the kprobe blacklist")) << r.error().what;
  EXPECT_FALSE(contains(r.error().what, "tcp_v4_connect")) << r.error().what;
  EXPECT_TRUE(contains(r.error().hint, "--unsafe"));
  EXPECT_TRUE(tracer_->probes().empty());

  auto twice = attach_set({"tcp_v4_connect", "tcp_v4_connect"});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, ErrorKind::kBadInput);
  EXPECT_TRUE(contains(twice.error().what, "tcp_v4_connect is named twice")) << twice.error().what;
  auto bad = attach_set({"tcp_v4_connect", "x;reboot"});
  ASSERT_FALSE(bad);
  EXPECT_TRUE(contains(bad.error().what, "not a kernel function name: x;reboot"))
      << bad.error().what;
  EXPECT_FALSE(attach_set({}));
}

TEST_F(Refusals, ASetTheKernelCannotAttachLeavesNothingAttached) {
  skip_without_bpf();
  // Both pass the checks; this kernel (the test's tables) has no kprobes.
  auto r = attach_set({"tcp_v4_connect", "tcp_sendmsg_locked"}, ProbeType::kKprobe);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kRuntime);
  EXPECT_TRUE(contains(r.error().what,
                       "cannot attach to tcp_v4_connect: kprobe: kernel built "
                       "without kprobes"))
      << r.error().what;
  EXPECT_TRUE(tracer_->probes().empty());
}

// ---- this machine

TEST(AttachHere, FailsFastSayingWhyAndWhatWorksInstead) {
  if (kernel_can_probe()) GTEST_SKIP() << "this kernel has kprobes: the lab tests cover attach";
  auto start = std::chrono::steady_clock::now();
  auto r = run_probeseek("attach tcp_v4_connect --duration 5");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (contains(r.err, "cannot create a BPF ring buffer")) GTEST_SKIP() << r.err;
  if (r.status == 0) GTEST_SKIP() << "fentry works on this kernel: " << r.err;
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_LT(seconds, 3.0) << "attach must fail fast";
  EXPECT_TRUE(r.out.empty());
  // Exactly why: no kprobes in the kernel, and fentry refused.
  EXPECT_TRUE(contains(r.err,
                       "error: cannot attach to tcp_v4_connect: kprobe: kernel built "
                       "without kprobes"))
      << r.err;
  EXPECT_TRUE(contains(r.err, "fentry: refused by the kernel")) << r.err;
  EXPECT_TRUE(contains(r.err, "Operation not permitted")) << r.err;
  // And what would work instead.
  EXPECT_TRUE(contains(r.err, "hint: "));
  EXPECT_TRUE(contains(r.err, "tests/lab/lab run")) << r.err;
  EXPECT_TRUE(contains(r.err, "probeseek gen tcp_v4_connect")) << r.err;
}

// Issue 9: doctor said fentry works where attach --type fentry got EPERM. Both now ask the
// kernel the same way (trampoline_support loads a program), so they agree on any kernel; on
// this build machine both say it is refused.
TEST(AttachHere, DoctorAndAttachAgreeOnFentry) {
  if (::geteuid() != 0) GTEST_SKIP() << "loading BPF needs root";
  TrampolineSupport t = trampoline_support(KernelPaths{});
  auto doctor = run_probeseek("doctor --json");
  ASSERT_EQ(doctor.status, 0) << doctor.err;
  auto checks = nlohmann::json::parse(doctor.out);
  std::string status, detail;
  for (auto& c : checks)
    if (c["feature"] == "fentry (BPF trampolines)") {
      status = c["status"];
      detail = c["detail"];
    }
  auto attach = run_probeseek("attach vfs_read --type fentry --duration 0.2");
  if (contains(attach.err, "cannot create a BPF ring buffer")) GTEST_SKIP() << attach.err;
  const bool attach_works = attach.status == 0;
  EXPECT_EQ(t.available, attach_works) << t.why_not << "\n" << attach.err;
  EXPECT_EQ(status == "ok", attach_works) << detail << "\n" << attach.err;
  if (!attach_works) {
    // The same sentence in both.
    EXPECT_TRUE(contains(attach.err, detail)) << detail << "\n" << attach.err;
    EXPECT_EQ(t.why_not, detail);
  }
}

TEST(AttachHere, UsageErrorsAreBadInput) {
  EXPECT_EQ(run_probeseek("attach tcp_v4_connect --type uprobe").status, 2);
  EXPECT_EQ(run_probeseek("attach 'tcp_v4_connect;ls'").status, 2);
  auto denied = run_probeseek("attach rcu_note_context_switch");
  if (contains(denied.err, "cannot create a BPF ring buffer")) GTEST_SKIP() << denied.err;
  EXPECT_EQ(denied.status, 2) << denied.err;
  EXPECT_TRUE(contains(denied.err, "deny list: RCU internals")) << denied.err;
}

TEST(AttachHere, SeveralFunctionsAreOneCommand) {
  // Names are checked before anything else, the first bad one named.
  auto bad = run_probeseek("attach tcp_v4_connect 'tcp_v6_connect;ls' --duration 1");
  EXPECT_EQ(bad.status, 2) << bad.err;
  EXPECT_TRUE(contains(bad.err, "tcp_v6_connect;ls")) << bad.err;
  auto refused = run_probeseek("attach tcp_v4_connect rcu_note_context_switch tcp_v4_connect");
  if (contains(refused.err, "cannot create a BPF ring buffer")) GTEST_SKIP() << refused.err;
  EXPECT_EQ(refused.status, 2) << refused.err;
  EXPECT_TRUE(contains(refused.err, "refusing the set of 3 functions, nothing attached"))
      << refused.err;
  EXPECT_TRUE(contains(refused.err, "deny list: RCU internals")) << refused.err;
  EXPECT_TRUE(contains(refused.err, "tcp_v4_connect is named twice")) << refused.err;
  if (kernel_can_probe()) return;  // the lab attaches sets
  auto set = run_probeseek("attach tcp_v4_connect tcp_v6_connect --duration 5");
  if (set.status == 0) GTEST_SKIP() << "fentry works on this kernel: " << set.err;
  EXPECT_EQ(set.status, 1) << set.err;
  EXPECT_TRUE(contains(set.err, "error: cannot attach to tcp_v4_connect: ")) << set.err;
  EXPECT_TRUE(set.out.empty());
}

TEST(Verify, ASetIsSummedUpPerFunctionAndAsAWhole) {
  VerifyResult r;
  r.is_set = true;
  r.candidates.resize(2);
  r.candidates[0].function = "tcp_v4_connect";
  r.candidates[1].function = "tcp_v6_connect";
  EXPECT_EQ(r.set_summary(), "the set did not fire: tcp_v4_connect 0, tcp_v6_connect 0");
  r.candidates[1].events = 1;
  EXPECT_EQ(r.set_summary(), "the set fired 1 time: tcp_v4_connect 0, tcp_v6_connect 1");
  r.candidates[0].events = 1;
  EXPECT_EQ(r.set_summary(), "the set fired 2 times: tcp_v4_connect 1, tcp_v6_connect 1");
  EXPECT_EQ(r.events(), 2u);
}

// verify on this machine: the same explanation, and nothing stored; a stored verification (as
// the lab's verify writes it) is shown by rank.
class VerifyHere : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    db_ = dir_->file("verify.db");
    auto r =
        run_probeseek("import --db " + db_ + " --btf " + kernel_61("vmlinux.btf") + " --kallsyms " +
                      kernel_61("kallsyms.txt.gz") + " " + kernel_61("curl_v4.dat"));
    ASSERT_EQ(r.status, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static inline test::TempDir* dir_ = nullptr;
  static inline std::string db_;
};

TEST_F(VerifyHere, FailsFastWithoutKprobesAndStoresNothing) {
  if (kernel_can_probe()) GTEST_SKIP() << "this kernel has kprobes: the lab tests cover verify";
  auto r = run_probeseek("verify --db " + db_ +
                         " --top 3 --arg 'struct sock *' --under __x64_sys_connect -- true");
  if (contains(r.err, "cannot create a BPF ring buffer")) GTEST_SKIP() << r.err;
  if (r.status == 0) GTEST_SKIP() << "fentry works on this kernel";
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "kernel built without kprobes")) << r.err;
  auto rows = run_probeseek("sql --db " + db_ +
                            " \"SELECT name FROM sqlite_master WHERE name = "
                            "'verifications'\"");
  EXPECT_FALSE(contains(rows.out, "verifications")) << rows.out;
}

TEST_F(VerifyHere, AFunctionSetIsCheckedAndFailsFastWithoutKprobes) {
  // --function names the candidates: the ranking options are refused beside it.
  for (const char* ranking : {"--top 3", "--arg 'struct sock *'", "--under __x64_sys_connect"}) {
    auto r =
        run_probeseek("verify --db " + db_ + " --function tcp_v4_connect " + ranking + " -- true");
    EXPECT_EQ(r.status, 2) << ranking << ": " << r.err;
    EXPECT_TRUE(contains(r.err, "give one or the other")) << r.err;
  }
  auto bad = run_probeseek("verify --db " + db_ + " --function 'tcp_v4_connect;id' -- true");
  EXPECT_EQ(bad.status, 2) << bad.err;
  auto twice = run_probeseek("verify --db " + db_ +
                             " --function tcp_v4_connect --function tcp_v4_connect -- true");
  EXPECT_EQ(twice.status, 2) << twice.err;
  EXPECT_TRUE(contains(twice.err, "named twice")) << twice.err;
  auto session =
      run_probeseek("verify --db " + db_ + " --function tcp_v4_connect --session nope -- true");
  EXPECT_EQ(session.status, 2) << session.err;
  EXPECT_TRUE(contains(session.err, "no session nope")) << session.err;
  if (kernel_can_probe()) GTEST_SKIP() << "this kernel has kprobes: the lab tests cover verify";
  // Repeated options before "--" leave the workload's own options to it ("sh -c").
  auto r = run_probeseek("verify --db " + db_ +
                         " --function tcp_v4_connect --function tcp_v6_connect -- sh -c true");
  if (contains(r.err, "cannot create a BPF ring buffer")) GTEST_SKIP() << r.err;
  if (r.status == 0) GTEST_SKIP() << "fentry works on this kernel";
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "cannot attach to tcp_v4_connect")) << r.err;
  auto rows = run_probeseek("sql --db " + db_ +
                            " \"SELECT name FROM sqlite_master WHERE name = "
                            "'verifications'\"");
  EXPECT_FALSE(contains(rows.out, "verifications")) << rows.out;
}

TEST_F(VerifyHere, RankShowsAStoredVerification) {
  {
    auto db = Database::open(db_);
    ASSERT_TRUE(db);
    auto ids = db->prepare("SELECT id FROM sessions");
    ASSERT_TRUE(ids);
    std::vector<VerificationRow> rows;
    ASSERT_TRUE(ids->for_each_row([&](const Statement& st) {
      VerificationRow row;
      row.session_id = st.int_at(0);
      row.function = "tcp_v4_connect";
      row.command = "curl -s http://127.0.0.1:8080/";
      row.verified_at = "2025-01-01T00:00:00Z";
      row.rank = 1;
      row.attached = true;
      row.how = "kprobe+kretprobe";
      row.events = row.sock_events = row.sock_addresses_set = row.sock_port_matches = 1;
      row.ports = "8080";
      row.summary = "fired 1 time; struct sock: addresses set 1/1, workload's port 1/1";
      // A comm from the kernel is bytes, not UTF-8: stored (as U+FFFD), never an exception.
      row.samples = {"curl\xff\xfe pid 42 tcp_v4_connect"};
      rows.push_back(row);
    }));
    ASSERT_FALSE(rows.empty());
    auto stored = store_verifications(*db, rows);
    ASSERT_TRUE(stored) << stored.error().message();
    auto samples = db->prepare("SELECT samples FROM verifications LIMIT 1");
    ASSERT_TRUE(samples);
    ASSERT_TRUE(*samples->step());
    EXPECT_EQ(samples->text_at(0), "[\"curl\xef\xbf\xbd\xef\xbf\xbd pid 42 tcp_v4_connect\"]");
  }
  auto r = run_probeseek("rank --db " + db_ +
                         " --json --arg 'struct sock *' --under __x64_sys_connect --limit 3");
  ASSERT_EQ(r.status, 0) << r.err;
  json ranked = json::parse(r.out);
  ASSERT_EQ(ranked[0]["function"], "tcp_v4_connect");
  ASSERT_TRUE(ranked[0]["verified"].is_object()) << ranked[0].dump(1);
  EXPECT_EQ(ranked[0]["verified"]["fired"], true);
  EXPECT_EQ(ranked[0]["verified"]["command"], "curl -s http://127.0.0.1:8080/");
  EXPECT_TRUE(ranked[1]["verified"].is_null());
  auto text = run_probeseek("rank --db " + db_ +
                            " --arg 'struct sock *' --under __x64_sys_connect --limit 1");
  EXPECT_TRUE(contains(text.out,
                       "+0 verified live 2025-01-01T00:00:00Z: fired 1 time; struct "
                       "sock: addresses set 1/1"))
      << text.out;
}

}  // namespace
}  // namespace probeseek
