// Reads the text of `trace-cmd report` for a function_graph recording:
//
//   curl-119   [000]    32.337559: funcgraph_entry:                   |  mutex_unlock() {
//   curl-119   [000]    32.338215: funcgraph_entry:      ! 121.566 us |    irq_enter_rcu();
//   curl-119   [000]    32.338215: funcgraph_exit:       + 17.933 us  |        }
//   CPU:1 [LOST 1234 EVENTS]
//
// and its latency form (`report -l`), where "0d.h2." replaces "[000]" and carries the
// hardirq/softirq flags. Depth is the indentation after '|' (two columns per level). The
// lines are already merged across CPUs in time order by trace-cmd.
#include <climits>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>

#include "probeseek/graph.h"
#include "probeseek/line_reader.h"
#include "probeseek/text.h"

namespace probeseek {

namespace {

// Numbers in a report can be anything: conversions are checked, and a value that does not fit
// makes the line damaged (refused, naming the line) instead of wrapping.
enum class Parsed { kOk, kNotANumber, kOutOfRange };

// "32.337559" or "32.337559123" -> nanoseconds.
Parsed parse_seconds(std::string_view s, uint64_t& ns) {
  size_t dot = s.find('.');
  if (dot == std::string_view::npos) return Parsed::kNotANumber;
  auto sec = parse_int(s.substr(0, dot));
  std::string_view frac = s.substr(dot + 1);
  if (!sec || frac.empty() || frac.size() > 9) return Parsed::kNotANumber;
  auto f = parse_int(frac);
  if (!f || *f < 0 || frac[0] == '-' || frac[0] == '+') return Parsed::kNotANumber;
  if (*sec < 0) return Parsed::kOutOfRange;
  uint64_t frac_ns = static_cast<uint64_t>(*f);
  for (size_t i = frac.size(); i < 9; ++i) frac_ns *= 10;
  if (__builtin_mul_overflow(static_cast<uint64_t>(*sec), 1000000000ull, &ns) ||
      __builtin_add_overflow(ns, frac_ns, &ns))
    return Parsed::kOutOfRange;
  return Parsed::kOk;
}

// "121.566" (microseconds) -> nanoseconds, at most INT64_MAX (durations are stored signed).
Parsed parse_microseconds(std::string_view s, uint64_t& ns) {
  size_t dot = s.find('.');
  std::string_view whole = dot == std::string_view::npos ? s : s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  auto w = parse_int(whole);
  if (!w || frac.size() > 3) return Parsed::kNotANumber;
  uint64_t v = 0;
  if (!frac.empty()) {
    auto f = parse_int(frac);
    if (!f || *f < 0 || frac[0] == '-' || frac[0] == '+') return Parsed::kNotANumber;
    v = static_cast<uint64_t>(*f);
    for (size_t i = frac.size(); i < 3; ++i) v *= 10;
  }
  if (*w < 0) return Parsed::kOutOfRange;
  if (__builtin_mul_overflow(static_cast<uint64_t>(*w), 1000ull, &ns) ||
      __builtin_add_overflow(ns, v, &ns) || ns > static_cast<uint64_t>(INT64_MAX))
    return Parsed::kOutOfRange;
  return Parsed::kOk;
}

enum class LineKind { kGraph, kLost, kOtherEvent, kFunctionTracer, kHeader, kJunk, kDamaged };

struct ParsedLine {
  LineKind kind = LineKind::kJunk;
  GraphEvent event;
  int lost_cpu = -1;
  int64_t lost_count = -1;
  std::string damage;  // kDamaged: what is wrong with the line
};

std::optional<int> parse_cpu(std::string_view s) {
  auto cpu = parse_int(s);
  if (!cpu || *cpu < 0 || *cpu > kMaxCpu) return std::nullopt;
  return static_cast<int>(*cpu);
}

// Parses "comm-pid [cpu] ts" or "comm-pid cpuFLAGS ts" (latency form) preceding ": event:".
// A prefix in the right shape with a value out of range sets `damage`.
bool parse_prefix(std::string_view head, GraphEvent& e, std::string& damage) {
  head = trim(head);
  size_t sp = head.find_last_of(' ');
  if (sp == std::string_view::npos) return false;
  Parsed ts = parse_seconds(head.substr(sp + 1), e.timestamp_ns);
  if (ts == Parsed::kOutOfRange) damage = "timestamp out of range";
  if (ts != Parsed::kOk) return false;
  head = trim(head.substr(0, sp));
  sp = head.find_last_of(' ');
  if (sp == std::string_view::npos) return false;
  std::string_view cpu_field = head.substr(sp + 1);
  std::string_view comm_pid = trim(head.substr(0, sp));
  if (cpu_field.size() >= 3 && cpu_field.front() == '[' && cpu_field.back() == ']') {
    std::string_view digits = cpu_field.substr(1, cpu_field.size() - 2);
    auto cpu = parse_cpu(digits);
    if (!cpu) {
      if (parse_int(digits)) damage = "CPU number out of range";
      return false;
    }
    e.cpu = *cpu;
  } else {
    // Latency form: CPU digits then flag columns: irqs-off, need-resched, hardirq/softirq
    // ('h', 's', 'H' = hardirq inside softirq, 'Z'/'z' = NMI), preempt depth.
    size_t digits = 0;
    while (digits < cpu_field.size() && cpu_field[digits] >= '0' && cpu_field[digits] <= '9')
      ++digits;
    if (digits == 0) return false;
    auto cpu = parse_cpu(cpu_field.substr(0, digits));
    if (!cpu) {
      damage = "CPU number out of range";
      return false;
    }
    e.cpu = *cpu;
    std::string_view flags = cpu_field.substr(digits);
    if (flags.size() >= 3) {
      char irq = flags[2];
      e.flags_context = irq == 'Z' || irq == 'z'   ? CallContext::kNmi
                        : irq == 'h' || irq == 'H' ? CallContext::kHardirq
                        : irq == 's'               ? CallContext::kSoftirq
                                                   : CallContext::kTask;
    }
  }
  size_t dash = comm_pid.find_last_of('-');
  if (dash == std::string_view::npos) return false;
  auto pid = parse_int(comm_pid.substr(dash + 1));
  if (!pid) return false;
  e.pid = static_cast<int>(*pid);
  e.comm = comm_pid.substr(0, dash);
  return true;
}

ParsedLine parse_line(std::string_view line) {
  ParsedLine p;
  std::string_view t = trim(line);
  if (t.empty() || starts_with(t, "cpus=") || starts_with(t, "version =") ||
      starts_with(t, "CPU ") /* "CPU 1 is empty" */) {
    p.kind = LineKind::kHeader;
    return p;
  }
  if (starts_with(t, "CPU:") && t.find("[LOST") != std::string_view::npos) {
    p.kind = LineKind::kLost;
    size_t b = t.find('[');
    std::string_view cpu_text = trim(t.substr(4, b - 4));
    auto cpu = parse_cpu(cpu_text);
    if (!cpu && parse_int(cpu_text)) {
      p.kind = LineKind::kDamaged;
      p.damage = "CPU number out of range";
      return p;
    }
    p.lost_cpu = cpu.value_or(0);
    auto fields = split_ws(t.substr(b));
    if (fields.size() >= 3) {
      if (auto n = parse_int(fields[1])) p.lost_count = *n;
    }
    return p;
  }
  size_t graph = line.find(": funcgraph_");
  if (graph == std::string_view::npos) {
    // "ts: event_name: ..." of any other event. The function tracer's lines are
    // "ts: function:   name <-- parent".
    size_t colon = line.find(": ");
    if (colon != std::string_view::npos) {
      std::string_view rest = line.substr(colon + 2);
      size_t end = rest.find(':');
      std::string_view event = end == std::string_view::npos ? rest : rest.substr(0, end);
      GraphEvent ignored;
      std::string ignored_damage;
      if (end != std::string_view::npos &&
          parse_prefix(line.substr(0, colon), ignored, ignored_damage)) {
        p.kind = trim(event) == "function" ? LineKind::kFunctionTracer : LineKind::kOtherEvent;
        return p;
      }
    }
    return p;
  }
  GraphEvent& e = p.event;
  if (!parse_prefix(line.substr(0, graph), e, p.damage)) {
    if (!p.damage.empty()) p.kind = LineKind::kDamaged;
    return p;
  }
  std::string_view rest = line.substr(graph + 12);  // after ": funcgraph_"
  bool entry;
  if (starts_with(rest, "entry:")) {
    entry = true;
    rest.remove_prefix(6);
  } else if (starts_with(rest, "exit:")) {
    entry = false;
    rest.remove_prefix(5);
  } else {
    return p;
  }
  size_t bar = rest.find('|');
  if (bar == std::string_view::npos) return p;
  // Duration column: optional marker (+ ! # * @ $), number, "us".
  auto duration_fields = split_ws(rest.substr(0, bar));
  for (std::string_view field : duration_fields) {
    Parsed us = parse_microseconds(field, e.duration_ns);
    if (us == Parsed::kOutOfRange) {
      p.kind = LineKind::kDamaged;
      p.damage = "duration out of range";
      return p;
    }
    if (us == Parsed::kOk) {
      e.has_duration = true;
      break;
    }
  }
  std::string_view body = rest.substr(bar + 1);
  size_t indent = 0;
  while (indent < body.size() && body[indent] == ' ') ++indent;
  if (indent < 2) return p;
  e.depth = static_cast<int>((indent - 2) / 2);
  body = trim(body.substr(indent));
  if (entry) {
    if (body.size() > 4 && body.substr(body.size() - 4) == "() {") {
      e.kind = GraphEvent::Kind::kEntry;
      e.function = body.substr(0, body.size() - 4);
    } else if (body.size() > 3 && body.substr(body.size() - 3) == "();") {
      e.kind = GraphEvent::Kind::kLeaf;
      e.function = body.substr(0, body.size() - 3);
    } else {
      return p;
    }
    if (e.function.empty()) return p;
  } else {
    if (body.empty() || body[0] != '}') return p;
    e.kind = GraphEvent::Kind::kExit;
    // With the funcgraph-tail option the exit names its function: "} /* name */".
    size_t open = body.find("/* ");
    size_t close = body.rfind(" */");
    if (open != std::string_view::npos && close != std::string_view::npos && close > open + 3)
      e.function = body.substr(open + 3, close - open - 3);
  }
  p.kind = LineKind::kGraph;
  return p;
}

}  // namespace

Result<SourceInfo> read_report_text(const std::string& path, CallTreeBuilder& builder,
                                    const AddressOfName& address_of) {
  auto reader = LineReader::open(path);
  if (!reader) return bad_input("cannot open trace file", reader.error().message());
  SourceInfo info;
  info.format = TraceFormat::kReportText;
  info.tracer = "function_graph";
  uint64_t graph_lines = 0, function_lines = 0, other_lines = 0, junk_lines = 0, line_no = 0;
  std::string_view line;
  while (reader->next(line)) {
    ++line_no;
    if (reader->saw_nul())
      return bad_input(
          "not a trace-cmd report text (binary data at line " + std::to_string(line_no) + ")", path,
          "pass a trace.dat or the output of 'trace-cmd report -i FILE'");
    ParsedLine p = parse_line(line);
    switch (p.kind) {
      case LineKind::kGraph:
        ++graph_lines;
        if (address_of && p.event.function_address == 0 && !p.event.function.empty())
          p.event.function_address = address_of(p.event.function);
        builder.add(p.event);
        break;
      case LineKind::kLost:
        builder.lost_events(p.lost_cpu, p.lost_count);
        break;
      case LineKind::kFunctionTracer:
        ++function_lines;
        builder.note_other_event();
        break;
      case LineKind::kOtherEvent:
        ++other_lines;
        builder.note_other_event();
        break;
      case LineKind::kHeader:
        if (starts_with(trim(line), "cpus="))
          if (auto n = parse_cpu(trim(line).substr(5))) info.cpus = *n;
        break;
      case LineKind::kDamaged:
        return bad_input(
            "damaged trace-cmd report text: " + p.damage + " at line " + std::to_string(line_no),
            path + ":" + std::to_string(line_no),
            "the report was edited or corrupted; produce it again with 'trace-cmd "
            "report -i FILE'");
      case LineKind::kJunk:
        ++junk_lines;
        builder.note_unparsed_line();
        // Reject garbage early instead of reading a large non-trace file to the end.
        if (graph_lines == 0 && junk_lines >= 50)
          return bad_input("not a trace-cmd report text (no function_graph record in the first " +
                               std::to_string(line_no) + " lines)",
                           path, "pass a trace.dat or the output of 'trace-cmd report -i FILE'");
        break;
    }
  }
  if (!reader->error().empty())
    return bad_input("cannot read trace file (" + reader->error() + ")", path);
  if (graph_lines == 0) {
    if (function_lines > 0)
      return bad_input(
          "a report of the function tracer, not function_graph: it has no call "
          "depths or durations to build call trees from",
          path, "record with 'trace-cmd record -p function_graph' instead");
    if (other_lines > 0)
      return bad_input("a report of plain events (" + std::to_string(other_lines) +
                           " event lines), with no function_graph records",
                       path, "record with 'trace-cmd record -p function_graph' instead");
    return bad_input("not a trace-cmd report text (no function_graph record)", path,
                     "pass a trace.dat or the output of 'trace-cmd report -i FILE'");
  }
  return info;
}

Result<TraceFormat> detect_trace_format(const std::string& path) {
  // trace.dat starts with the magic "\x17\x08\x44tracing" (read as bytes: its first "line" can
  // be longer than a text line may be); gzip-compressed text is fine too (LineReader
  // decompresses), but a gzipped trace.dat is not something libtracecmd reads.
  static constexpr std::string_view kMagic("\x17\x08\x44tracing", 10);
  {
    std::ifstream in(path, std::ios::binary);
    char magic[10];
    if (in && in.read(magic, sizeof magic) && std::string_view(magic, sizeof magic) == kMagic)
      return TraceFormat::kTraceDat;
  }
  auto reader = LineReader::open(path);
  if (!reader) return bad_input("cannot open trace file", reader.error().message());
  std::string_view first;
  if (!reader->next(first)) {
    if (!reader->error().empty())
      return bad_input("cannot read trace file (" + reader->error() + ")", path);
    return bad_input("empty file, not a trace", path,
                     "pass a trace.dat or the output of 'trace-cmd report -i FILE'");
  }
  return TraceFormat::kReportText;
}

Result<SourceInfo> read_trace(const std::string& path, CallTreeBuilder& builder,
                              const AddressOfName& address_of) {
  auto format = detect_trace_format(path);
  if (!format) return tl::unexpected(format.error());
  if (*format == TraceFormat::kTraceDat) return read_trace_dat(path, builder);
  return read_report_text(path, builder, address_of);
}

}  // namespace probeseek
