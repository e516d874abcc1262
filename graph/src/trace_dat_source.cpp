// Reads a trace-cmd trace.dat.
//
// Version 7 files (trace-cmd 3.x) are read here: the sections a function_graph import needs
// (header page, ftrace event formats, kallsyms, saved command lines) go into a tep_handle set
// up as libtracecmd sets it up, and each CPU's ring-buffer pages are streamed one compressed
// chunk at a time through libtraceevent's kbuffer, merged by timestamp (the per-task builder
// needs it: a task's exit can land on another CPU than its entry). Why not libtracecmd:
// tracecmd_open() parses every event format of every subsystem (about 1,400) and sscanf()s
// every kallsyms line, a third of an import's CPU time, and libtracecmd 3.1 keeps every
// decompressed chunk until the file is closed, so its memory grows with the recording.
//
// Version 6 files and timestamps that libtracecmd adjusts on reading (date, offset, TSC
// conversion, guest time shift) go through libtracecmd. libtracecmd trusts every size, offset,
// count and option in the file (a truncated file is a double free or a segfault in it), so the
// whole container is checked here first, pages and option contents included, and a damaged
// file is refused naming the offset, never handed to libtracecmd. A latency tracer's trace
// (text, no function_graph records; libtracecmd sets up no per-CPU data for it) is refused.
//
// This file is the glue: the container is read by trace_dat_container.cpp, the pages walked
// and merged by page_stream.cpp, and every record of both paths decoded by FuncgraphDecoder
// (funcgraph_decoder.cpp), the live recorder's decoder, set to refuse a damaged record.
#include <event-parse.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "funcgraph_decoder.h"
#include "page_stream.h"
#include "probeseek/graph.h"
#include "probeseek/text.h"
#include "trace_dat_container.h"
#include "tracecmd_shim.h"

namespace probeseek {

namespace {

using detail::Damage;
using detail::DatFile;
using detail::DatMeta;
using detail::FuncgraphDecoder;

struct TracecmdClose {
  void operator()(tracecmd_input* h) const { ps_tracecmd_close(h); }
};
using TracecmdInput = std::unique_ptr<tracecmd_input, TracecmdClose>;

// Why a trace.dat's records cannot be decoded (no function_graph formats, or formats without
// the func and depth fields), as an error naming the file.
Status check_decoder(const FuncgraphDecoder& decoder, const std::string& path) {
  switch (decoder.problem()) {
    case FuncgraphDecoder::Problem::kNone:
      return {};
    case FuncgraphDecoder::Problem::kNoFuncgraphEvents:
      return bad_input("trace.dat has no function_graph event formats", path,
                       "record with 'trace-cmd record -p function_graph' or 'probeseek record'");
    case FuncgraphDecoder::Problem::kNoFuncDepthFields:
      break;
  }
  return bad_input("trace.dat's function_graph event format lacks func/depth fields", path);
}

// Streams the records of every CPU of a version 7 file, merged by timestamp, into `decoder`;
// with no decoder only checks every page (for a file libtracecmd then reads). A damaged chunk
// table, page or record is an error naming its offset, returned before the builder sees any
// record when the damage is in the tables.
Status stream_cpu_data(const DatFile& f, const DatMeta& meta, FuncgraphDecoder* decoder,
                       const Damage& damaged) {
  detail::Decompressor z(meta.compression);
  const detail::PageFormat format = detail::page_format_of(meta.tep.get(), meta.page_size);
  std::vector<std::unique_ptr<detail::PageStream>> cpus;
  for (const detail::CpuRegion& region : meta.cpus) {
    auto pages = detail::cpu_pages(f, meta, region, z, damaged);
    if (!pages) return tl::unexpected(pages.error());
    const int cpu = static_cast<int>(cpus.size());  // the index, as libtracecmd numbers them
    cpus.push_back(std::make_unique<detail::PageStream>(cpu, std::move(*pages), format));
    if (!cpus.back()->ok())
      return runtime_error("cannot allocate a kbuffer", damaged.path(), ENOMEM);
  }
  detail::RecordMerge merge(std::move(cpus));
  while (const detail::PageStream* next = merge.next())
    if (decoder && !decoder->decode(next->record(), next->cpu()))
      return damaged(next->record().offset, decoder->damage());
  if (const detail::PageStream* bad = merge.failed())
    return damaged(bad->failure()->offset, bad->failure()->what);
  return {};
}

std::string release_from_uname(const char* uname) {
  // "Linux host 6.1.0-56-cloud-amd64 #1 SMP ..." -> "6.1.0-56-cloud-amd64"
  if (!uname) return {};
  auto fields = split_ws(uname);
  return fields.size() >= 3 ? std::string(fields[2]) : std::string();
}

// "CPU: 0\nentries: 1\noverrun: 5\n...dropped events: 0" -> events the kernel lost, per CPU.
void add_overruns(const char* cpustats, CallTreeBuilder& builder) {
  if (!cpustats) return;
  std::string_view text(cpustats);
  int cpu = -1;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (starts_with(line, "CPU:")) {
      if (auto v = parse_int(trim(line.substr(4)))) cpu = static_cast<int>(*v);
    } else if (cpu >= 0 &&
               (starts_with(line, "overrun:") || starts_with(line, "dropped events:"))) {
      // overrun: overwritten in an overwrite-mode buffer; dropped: refused when it was full.
      auto v = parse_int(trim(line.substr(line.find(':') + 1)));
      if (v && *v > 0) builder.kernel_dropped(cpu, *v);
    }
  }
}

// The function_graph formats and where their fields sit.

Status no_graph_records(const BuildStats& st, uint64_t before, const std::string& path) {
  if (st.entries + st.exits > before) return {};
  std::string what = st.other_events > 0
                         ? "trace.dat holds no function_graph records (" +
                               std::to_string(st.other_events) +
                               " other events: a recording of another tracer or of plain events)"
                         : "trace.dat holds no records at all";
  return bad_input(what, path,
                   "record with 'trace-cmd record -p function_graph -F CMD' or 'probeseek record'");
}

tl::unexpected<Error> unreadable_data(const std::string& path) {
  return bad_input("cannot read the trace.dat's event data", path,
                   "the file may be truncated; record it again");
}

// What a trace.dat says of itself, with its kallsyms text as recorded.
SourceInfo trace_dat_info(const char* uname, int cpus, std::string kallsyms) {
  SourceInfo info;
  info.format = TraceFormat::kTraceDat;
  info.kernel_release = release_from_uname(uname);
  info.tracer = "function_graph";
  info.cpus = cpus;
  info.kallsyms_text = std::move(kallsyms);
  return info;
}

// libtracecmd's iteration (a version 6 file, adjusted timestamps) into the decoder; a refused
// record stops it.
struct LibtracecmdRecords {
  FuncgraphDecoder& decoder;
  std::optional<uint64_t> refused_at;  // the offset of the record refused
};

int decode_record(tep_record* record, int cpu, void* data) {
  auto& records = *static_cast<LibtracecmdRecords*>(data);
  if (records.decoder.decode(*record, cpu)) return 0;
  records.refused_at = record->offset;
  return -1;
}

}  // namespace

Result<SourceInfo> read_trace_dat(const std::string& path, CallTreeBuilder& builder) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return bad_input("cannot open trace file", path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return bad_input("not a trace.dat (not a regular file)", path,
                     "pass a trace.dat written by trace-cmd or 'probeseek record'");
  uint64_t before = builder.stats().entries + builder.stats().exits;
  Damage damaged(path);
  // The file's kallsyms text as recorded, stored with the session whichever path reads it.
  std::string kallsyms;

  // Every size and offset in the file is checked before anything is read through it, and
  // before libtracecmd (which trusts them) sees the file.
  DatFile file(path);
  if (!file.ok()) return bad_input("cannot open trace file", path + ": " + std::strerror(errno));
  std::vector<char> head(std::min<uint64_t>(512, file.size()));
  if (!file.read(0, head.data(), head.size())) return damaged(0, "an unreadable header");
  auto header = read_header(file, head, damaged);
  if (!header) return tl::unexpected(header.error());

  if (header->version == 7) {
    auto meta = read_meta(file, *header, head, damaged);
    if (!meta) return tl::unexpected(meta.error());
    FuncgraphDecoder decoder(meta->tep.get(), builder);
    decoder.refuse_damaged();
    if (meta->functions) decoder.use_functions(&*meta->functions);
    if (auto usable = check_decoder(decoder, path); !usable) return tl::unexpected(usable.error());
    kallsyms = meta->kallsyms;
    if (meta->needs_libtracecmd) {
      // Every page checked here first; libtracecmd below reads the records.
      if (auto sound = stream_cpu_data(file, *meta, nullptr, damaged); !sound)
        return tl::unexpected(sound.error());
    } else {
      // Version 7 files: our own reader (see the top of this file).
      if (auto read = stream_cpu_data(file, *meta, &decoder, damaged); !read)
        return tl::unexpected(read.error());
      if (auto some = no_graph_records(builder.stats(), before, path); !some)
        return tl::unexpected(some.error());
      add_overruns(meta->cpustats.empty() ? nullptr : meta->cpustats.c_str(), builder);
      // The kallsyms section as recorded, type letters included: listing libtraceevent's
      // function map instead (printf of 87k lines) cost 110 M instructions (issue 15).
      return trace_dat_info(meta->uname.c_str(), static_cast<int>(meta->cpus.size()),
                            std::move(kallsyms));
    }
  } else if (auto sound = check_v6(file, *header, damaged, &kallsyms); !sound) {
    return tl::unexpected(sound.error());
  }

  TracecmdInput handle(ps_tracecmd_open(path.c_str()));
  if (!handle)
    return bad_input("not a readable trace.dat (libtracecmd could not parse its headers)", path,
                     "the file may be truncated or from an unsupported trace-cmd version; try "
                     "'trace-cmd report -i FILE' to see what trace-cmd makes of it");
  // The same decoder as our own reader's, on the records libtracecmd hands over.
  FuncgraphDecoder decoder(ps_tracecmd_tep(handle.get()), builder);
  decoder.refuse_damaged();
  if (auto usable = check_decoder(decoder, path); !usable) return tl::unexpected(usable.error());
  LibtracecmdRecords records{decoder};
  if (ps_tracecmd_iterate(handle.get(), decode_record, &records) < 0) {
    if (records.refused_at) return damaged(*records.refused_at, decoder.damage());
    return unreadable_data(path);
  }
  if (auto some = no_graph_records(builder.stats(), before, path); !some)
    return tl::unexpected(some.error());
  add_overruns(ps_tracecmd_cpustats(handle.get()), builder);
  return trace_dat_info(ps_tracecmd_uname(handle.get()), ps_tracecmd_cpus(handle.get()),
                        std::move(kallsyms));
}

}  // namespace probeseek
