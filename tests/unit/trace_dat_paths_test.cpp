// The three ways raw function_graph records reach the builder decode them alike, because they
// share one page walker (page_stream.cpp) and one decoder (funcgraph_decoder.cpp): the version 7
// reader, libtracecmd's iteration (version 6 files, adjusted timestamps), and the live
// recorder's spill files. Each is compared, call by call, with the version 7 reader on the real
// recordings of tests/data/linux-6.1.0-56-cloud-amd64.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "probeseek/fd.h"
#include "probeseek/graph.h"
#include "probeseek/record.h"
#include "recorder_internal.h"
#include "test_support.h"
#include "trace_dat_container.h"

// libtracecmd 3.1.6 leaks the trace clock's name it sscanf()s from a version 6 file's trace
// clock option (tests/fuzz/lsan.supp says the same); LeakSanitizer's fast unwinder sees the
// allocation only down to vsscanf, which no probeseek code calls.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:tracecmd_parse_trace_clock\nleak:__isoc99_vsscanf\nleak:libtraceevent.so\n";
}

namespace probeseek {
namespace {

using test::kernel_61;

// A call as the builder hands it over, with ids turned into names so that two readings compare.
struct Call {
  uint64_t id, parent_id, end_id;
  std::string function, parent_function, task, syscall;
  int cpu, depth, depth_below_syscall;
  uint64_t entry_ns;
  int64_t duration_ns, self_ns;
  CallContext context;
  uint8_t flags;
  bool operator==(const Call&) const = default;
};

std::string describe(const Call& c) {
  return "call " + std::to_string(c.id) + " " + c.function + " (parent " +
         std::to_string(c.parent_id) + " " + c.parent_function + ", task " + c.task + ", cpu " +
         std::to_string(c.cpu) + ", depth " + std::to_string(c.depth) + ", entry " +
         std::to_string(c.entry_ns) + ", duration " + std::to_string(c.duration_ns) + ", self " +
         std::to_string(c.self_ns) + ", context " + std::string(to_string(c.context)) + ", flags " +
         std::to_string(c.flags) + ", syscall " + c.syscall + ")";
}

class KeepingSink : public CallSink {
 public:
  std::vector<Call> calls;
  std::vector<std::pair<uint64_t, uint64_t>> reparents;
  std::map<uint32_t, std::string> functions, tasks;
  void on_function(uint32_t id, std::string_view name, uint64_t) override {
    functions[id] = std::string(name);
  }
  void on_task(uint32_t id, int pid, int idle_cpu, std::string_view comm) override {
    tasks[id] = std::to_string(pid) + "/" + std::to_string(idle_cpu) + "/" + std::string(comm);
  }
  void on_call(const CallRecord& r) override {
    calls.push_back(Call{r.id, r.parent_id, r.end_id, functions[r.function_id],
                         functions[r.parent_function_id], tasks[r.task_id],
                         functions[r.syscall_function_id], r.cpu, r.depth, r.depth_below_syscall,
                         r.entry_ns, r.duration_ns, r.self_ns, r.context, r.flags});
  }
  void on_reparent(uint64_t call, uint64_t parent) override {
    reparents.emplace_back(call, parent);
  }
};

struct Reading {
  Result<SourceInfo> info;
  BuildStats stats;
  KeepingSink sink;
};

// The recording read by `read` (a source function taking the builder), finished.
template <typename Read>
void read_with(Reading& r, Read read) {
  CallTreeBuilder builder(r.sink);
  r.info = read(builder);
  if (r.info) builder.finish();
  r.stats = builder.stats();
}

void read_file(Reading& r, const std::string& path) {
  read_with(r, [&](CallTreeBuilder& b) { return read_trace(path, b); });
}

// The chain of callers of each call of `function`, up to its root: "a<b<__x64_sys_connect".
std::vector<std::string> callers_of(const KeepingSink& s, const std::string& function) {
  std::map<uint64_t, const Call*> by_id;
  for (const Call& c : s.calls) by_id[c.id] = &c;
  std::vector<std::string> chains;
  for (const Call& c : s.calls) {
    if (c.function != function) continue;
    std::string chain = c.function;
    for (auto it = by_id.find(c.parent_id); it != by_id.end();
         it = by_id.find(it->second->parent_id))
      chain += "<" + it->second->function;
    chains.push_back(chain);
  }
  return chains;
}

// Both readings made the same calls, in the same order, with the same counters.
void expect_same_calls(const Reading& got, const Reading& want) {
  ASSERT_EQ(got.sink.calls.size(), want.sink.calls.size());
  for (size_t i = 0; i < want.sink.calls.size(); ++i)
    ASSERT_EQ(got.sink.calls[i], want.sink.calls[i])
        << "first difference at " << i << ": " << describe(got.sink.calls[i]) << " instead of "
        << describe(want.sink.calls[i]);
  EXPECT_EQ(got.sink.reparents, want.sink.reparents);
  EXPECT_EQ(got.sink.functions, want.sink.functions);
  EXPECT_EQ(got.sink.tasks, want.sink.tasks);
  EXPECT_EQ(got.stats.entries, want.stats.entries);
  EXPECT_EQ(got.stats.exits, want.stats.exits);
  EXPECT_EQ(got.stats.exits_without_entry, want.stats.exits_without_entry);
  EXPECT_EQ(got.stats.entries_without_exit, want.stats.entries_without_exit);
  EXPECT_EQ(got.stats.depth_gaps, want.stats.depth_gaps);
  EXPECT_EQ(got.stats.other_events, want.stats.other_events);
  EXPECT_EQ(got.stats.lost_events_total(), want.stats.lost_events_total());
}

struct Fixture {
  const char* file;
  uint64_t calls;        // funcgraph_entry lines of `trace-cmd report` (import_test's count)
  const char* function;  // one whose callers, up to the syscall, are compared
  const char* syscall;   // the syscall root above it
};

void PrintTo(const Fixture& f, std::ostream* os) {
  *os << f.file;
}

class TraceDatPaths : public ::testing::TestWithParam<Fixture> {};

// trace-cmd convert rewrites the version 7 recording as version 6, which goes through
// libtracecmd: the same records, so the same calls, call by call.
TEST_P(TraceDatPaths, Version6ThroughLibtracecmdDecodesLikeTheVersion7Reader) {
  const Fixture& f = GetParam();
  if (std::system("command -v trace-cmd >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "trace-cmd is not installed (scripts/install-deps installs it): no version 6 "
                    "file to read through libtracecmd";
  if (std::system("trace-cmd convert --help 2>&1 | grep -q -e --file-version") != 0)
    GTEST_SKIP() << "this trace-cmd cannot convert to version 6 (trace-cmd 3.x can)";
  test::TempDir dir;
  const std::string v7 = kernel_61(f.file), v6 = dir.file("v6.dat");
  const std::string convert = "trace-cmd convert --file-version 6 -i " + v7 + " -o " + v6 + " >" +
                              dir.file("convert.log") + " 2>&1";
  ASSERT_EQ(std::system(convert.c_str()), 0) << test::read_file(dir.file("convert.log"));
  ASSERT_EQ(test::read_file(v6).substr(3, 9), std::string("tracing6\0", 9)) << "a version 6 file";

  Reading streamed, fallback;
  read_file(streamed, v7);
  read_file(fallback, v6);
  ASSERT_TRUE(streamed.info) << streamed.info.error().message();
  ASSERT_TRUE(fallback.info) << fallback.info.error().message();
  EXPECT_EQ(streamed.stats.entries, f.calls);
  expect_same_calls(fallback, streamed);
  EXPECT_EQ(fallback.info->kernel_release, "6.1.0-56-cloud-amd64");
  EXPECT_EQ(fallback.info->kernel_release, streamed.info->kernel_release);
  EXPECT_EQ(fallback.info->cpus, streamed.info->cpus);
  EXPECT_EQ(fallback.info->kallsyms_text, streamed.info->kallsyms_text);

  auto chains = callers_of(fallback.sink, f.function);
  ASSERT_FALSE(chains.empty()) << f.function << " is called in " << f.file;
  for (const std::string& chain : chains)
    EXPECT_NE(chain.find(std::string("<") + f.syscall), std::string::npos) << chain;
  EXPECT_EQ(chains, callers_of(streamed.sink, f.function));
}

INSTANTIATE_TEST_SUITE_P(
    Recordings, TraceDatPaths,
    ::testing::Values(Fixture{"stream.dat", 36155, "tcp_sendmsg", "__x64_sys_write"},
                      Fixture{"curl_v4.dat", 283685, "tcp_v4_connect", "__x64_sys_connect"}),
    [](const auto& info) {
      return std::string(info.param.file).substr(0, 6) == "stream" ? std::string("stream")
                                                                   : std::string("curl_v4");
    });

// The live recorder's spill files hold each CPU's pages as the kernel wrote them: stream.dat's
// pages, decompressed, written as spill files (the first CPU's with a torn last page, as a
// recording stopped mid-write leaves it) and replayed by Recording::read_into, decode like
// stream.dat itself.
// Whether files in `dir` can have their blocks given back (ext4, xfs, btrfs, tmpfs can).
bool punches_holes(const std::string& dir) {
  const std::string f = dir + "/punch-probe";
  test::write_file(f, std::string(1 << 16, 'x'));
  Fd fd(::open(f.c_str(), O_RDWR | O_CLOEXEC));
  const bool ok =
      fd && ::fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1 << 16) == 0;
  ::unlink(f.c_str());
  return ok;
}

TEST(SpillReplay, SpillFilesDecodeLikeTheTraceDatTheirPagesCameFrom) {
  const std::string path = kernel_61("stream.dat");
  detail::Damage damaged(path);
  detail::DatFile file(path);
  ASSERT_TRUE(file.ok());
  std::vector<char> head(std::min<uint64_t>(512, file.size()));
  ASSERT_TRUE(file.read(0, head.data(), head.size()));
  uint32_t page_size = 0;
  std::vector<std::string> spilled;  // each CPU's pages, as the recorder would have spilled them
  test::TempDir dir;
  std::string spill_dir;  // of the last recording made
  // A recording of those pages; `cpu1_pages` replaces CPU 1's when given.
  auto recording_of = [&](std::optional<std::string> cpu1_pages) -> std::optional<Recording> {
    auto header = detail::read_header(file, head, damaged);
    EXPECT_TRUE(header) << header.error().message();
    auto meta = detail::read_meta(file, *header, head, damaged);
    EXPECT_TRUE(meta) << meta.error().message();
    if (!meta || meta->cpus.size() != 2) return std::nullopt;
    page_size = meta->page_size;
    if (spilled.empty()) {
      detail::Decompressor z(meta->compression);
      for (int cpu = 0; cpu < 2; ++cpu) {
        auto pages = detail::cpu_pages(file, *meta, meta->cpus[cpu], z, damaged);
        EXPECT_TRUE(pages) << pages.error().message();
        if (!pages) return std::nullopt;
        std::string bytes;
        detail::PageBlock block;
        std::optional<detail::PageFailure> failure;
        while ((*pages)->next(block, failure))
          bytes.append(block.pages, block.count * meta->page_size);
        EXPECT_FALSE(failure) << failure->what;
        if (cpu == 0) bytes += std::string(meta->page_size / 2, '\x7f');  // torn: dropped
        spilled.push_back(std::move(bytes));
      }
    }
    auto spill = detail::SpillDir::create(dir.file(""));
    EXPECT_TRUE(spill) << spill.error().message();
    if (!spill) return std::nullopt;
    spill_dir = spill->path();
    auto impl = std::make_unique<Recording::Impl>(Recording::Impl{std::move(*spill)});
    for (int cpu = 0; cpu < 2; ++cpu) {
      test::write_file(impl->spill.file(cpu),
                       cpu == 1 && cpu1_pages ? *cpu1_pages : spilled[size_t(cpu)]);
      impl->cpus_with_data.push_back(cpu);
    }
    impl->cpus = 2;
    impl->page_size = static_cast<int>(page_size);
    // The recorder's tep has the kernel's kallsyms; read_meta() keeps its own lookup instead.
    if (meta->functions) detail::register_kallsyms(meta->tep.get(), meta->kallsyms);
    impl->tep = std::move(meta->tep);
    impl->kernel.release = "6.1.0-56-cloud-amd64";
    impl->recorder_pid = -1;  // no record is the recorder's own here
    return Recording(std::move(impl));
  };
  std::optional<Recording> recording = recording_of(std::nullopt);
  ASSERT_TRUE(recording);
  const std::string cpu0 = spill_dir + "/cpu0.raw";
  auto disk_bytes = [](const std::string& f) {
    struct stat st {};
    return ::stat(f.c_str(), &st) == 0 ? uint64_t(st.st_blocks) * 512 : ~uint64_t{0};
  };
  ASSERT_GE(disk_bytes(cpu0), spilled[0].size() / 2);

  Reading replayed, streamed;
  read_with(replayed, [&](CallTreeBuilder& b) { return recording->read_into(b); });
  read_file(streamed, path);
  ASSERT_TRUE(replayed.info) << replayed.info.error().message();
  ASSERT_TRUE(streamed.info) << streamed.info.error().message();
  EXPECT_EQ(replayed.info->format, TraceFormat::kLive);
  EXPECT_EQ(replayed.stats.entries, 36155u);
  expect_same_calls(replayed, streamed);

  // Read once: the pages' disk space went back as they were read (all of it but the torn last
  // page, never read), where the filesystem punches holes; a second read is refused.
  if (punches_holes(dir.file("")))
    EXPECT_LE(disk_bytes(cpu0), uint64_t{page_size}) << cpu0 << " still holds its pages on disk";
  else
    std::cout << "note: " << dir.file("") << " cannot punch holes: disk space not checked\n";
  Reading again;
  read_with(again, [&](CallTreeBuilder& b) { return recording->read_into(b); });
  ASSERT_FALSE(again.info);
  EXPECT_NE(again.info.error().what.find("already read"), std::string::npos);

  // A page whose data size overruns it (the kernel never writes one) is an error naming the
  // spill file and the page, not a read past the page.
  std::string pages = spilled[1];
  ASSERT_GT(pages.size(), 2u * page_size);
  const uint64_t overrun = uint64_t{1} << 20;
  std::memcpy(pages.data() + page_size + 8, &overrun, 8);  // the second page's commit field
  std::optional<Recording> damaged_recording = recording_of(pages);
  ASSERT_TRUE(damaged_recording);
  const std::string cpu1 = spill_dir + "/cpu1.raw";
  Reading damaged_spill;
  read_with(damaged_spill, [&](CallTreeBuilder& b) { return damaged_recording->read_into(b); });
  ASSERT_FALSE(damaged_spill.info);
  EXPECT_EQ(damaged_spill.info.error().kind, ErrorKind::kRuntime);
  EXPECT_EQ(damaged_spill.info.error().object, cpu1 + " at offset " + std::to_string(page_size));
  EXPECT_NE(damaged_spill.info.error().what.find("overruns the page"), std::string::npos)
      << damaged_spill.info.error().message();
}

}  // namespace
}  // namespace probeseek
