// Recordings read into a CallTreeBuilder (graph.h): a trace.dat (trace-cmd's file, v6 or v7),
// `trace-cmd report` text, told apart by content.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "probeseek/error.h"
#include "probeseek/graph.h"

namespace probeseek {

// What a recording is, judged by content, never by file name.
enum class TraceFormat { kTraceDat, kReportText, kLive };  // kLive: `probeseek record`
Result<TraceFormat> detect_trace_format(const std::string& path);

struct SourceInfo {
  TraceFormat format = TraceFormat::kTraceDat;
  std::string kernel_release;  // from the trace.dat's uname, when it has one
  std::string tracer;          // "function_graph"
  int cpus = 0;
  // The recording's own kallsyms ("ADDR TYPE NAME [MODULE]" lines), when it carries them.
  std::string kallsyms_text;
};

// Name lookup for sources that carry only names (report text): --kallsyms gives addresses.
using AddressOfName = std::function<uint64_t(std::string_view)>;

// Reads a whole recording into the builder. Errors name the file and what is wrong with it.
Result<SourceInfo> read_trace_dat(const std::string& path, CallTreeBuilder& builder);
Result<SourceInfo> read_report_text(const std::string& path, CallTreeBuilder& builder,
                                    const AddressOfName& address_of = {});
Result<SourceInfo> read_trace(const std::string& path, CallTreeBuilder& builder,
                              const AddressOfName& address_of = {});

}  // namespace probeseek
