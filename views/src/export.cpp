// `probeseek export`: the session's calls streamed in id order, one stack per task. A call's
// descendants are its task's calls with ids in (id, end_id] (docs/schema.md), so a frame is
// closed when the first call past its end_id arrives; frames whose entry was not recorded are
// written after the children they adopted, and are opened before the first of them instead.
// Every row is checked against the frame it nests in, and repaired (clamped) when it does not
// fit: the database may be damaged or hostile, and a viewer needs strictly nested slices.
#include "probeseek/export.h"

#include "probeseek/call_profile.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "probeseek/call_stream.h"
#include "probeseek/saturating.h"
#include "probeseek/text.h"
#include "proto_writer.h"

namespace probeseek {

namespace {

constexpr std::array<const char*, 6> kContextNames = {"task", "softirq",   "hardirq",
                                                      "nmi",  "exception", "unknown"};
constexpr int kUnknownContext = 5;

// Kernel pids are below PID_MAX_LIMIT (4194304 on 64-bit): ids from there up are free for the
// tracks that have no pid of their own (the idle task of each CPU, damaged rows).
constexpr int64_t kPidMaxLimit = 4194304;

constexpr size_t kMaxAdopters = 1 << 16;
// A folded line holds its whole stack, so a chain of N calls writes N lines of up to N frames:
// a 35,796-level chain (seen in a real recording) would take gigabytes. Below this depth the
// calls are weighed in one "[deeper]" frame; the sum of the weights stays exact.
constexpr uint32_t kMaxFoldedDepth = 512;
constexpr int64_t kDeeperKey = -100;

// Repairs, counted by name (docs/export.md explains each).
enum Clamp : size_t {
  kEndBeforeId,         // end_id < id: the range made empty
  kRangePastParent,     // end_id beyond the enclosing frame's: cut to it
  kStartsBeforeParent,  // entry before the enclosing frame's recorded entry
  kMovedWithParent,     // entry before the enclosing frame's, once that one was moved
  kOverlapsSibling,     // entry before the previous sibling's end
  kStartsAfterParent,   // entry after the enclosing frame's end
  kEndsAfterParent,     // end after the enclosing frame's end
  kNegativeDuration,    // treated as no exit recorded
  kNegativeTimestamp,   // perfetto: timestamps are unsigned
  kUnknownFunction,     // function_id not among the session's functions
  kUnknownTask,         // task_id not among the session's tasks
  kUnknownContextValue,
  kAdoptersIgnored,    // more frames adopting earlier calls than a recording can have
  kFoldedDepthCapped,  // folded: calls deeper than kMaxFoldedDepth, weighed in one frame
  kClampCount
};
constexpr const char* kClampNames[] = {
    "end_before_id",      "range_past_parent",   "starts_before_parent", "moved_with_parent",
    "overlaps_sibling",   "starts_after_parent", "ends_after_parent",    "negative_duration",
    "negative_timestamp", "unknown_function",    "unknown_task",         "unknown_context",
    "adopters_ignored",   "folded_depth_capped"};
static_assert(std::size(kClampNames) == kClampCount, "a name for every repair");

struct Frame {
  int64_t id = 0;
  int64_t end_id = 0;
  int64_t entry = 0;           // ns, as recorded
  int64_t start = 0;           // ns, as placed: inside the parent, after the previous sibling
  int64_t end = 0;             // ns; decided when popped if `open`
  int64_t last_child_end = 0;  // the latest end of the children closed so far
  int64_t limit = INT64_MAX;   // no call below may end later: its end, or an ancestor's
  int64_t weight = 0;          // folded
  int64_t child_ns = 0;        // profile: the placed time of its closed children
  uint32_t fn = 0;             // index into Names
  uint32_t node = 0;           // folded: trie node
  uint8_t context = 0;
  bool open = false;      // no exit recorded
  bool emit = false;      // exported
  bool under = false;     // at or below a call of --under
  bool left_out = false;  // --task-only: interrupt work, or below it
  bool entry_missing = false;
};

struct Task {
  TaskRow row;
  int64_t pid = 0;  // the process shown (a synthetic id when the row has none)
  int64_t tid = 0;
  std::string label;  // "comm-pid"
  bool described = false;
  int64_t root_last_end = INT64_MIN;
  std::vector<Frame> stack;
};

struct Names {
  std::vector<std::string> raw;
  std::unordered_map<int64_t, uint32_t> index;  // function id -> index in raw
};

// Appends `v` in decimal (std::to_chars: no locale, no allocation).
void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Appends ns as microseconds with three decimals ("12.345"): exact, whatever the sign.
void append_us(std::string& out, int64_t ns) {
  uint64_t mag = ns < 0 ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  if (ns < 0) out += '-';
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, mag / 1000);
  out.append(buf, end);
  unsigned frac = static_cast<unsigned>(mag % 1000);
  const char digits[4] = {'.', static_cast<char>('0' + frac / 100),
                          static_cast<char>('0' + frac / 10 % 10),
                          static_cast<char>('0' + frac % 10)};
  out.append(digits, 4);
}

std::string json_string(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One output format: told when an exported frame opens and closes.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status begin() { return {}; }
  // `f` may be annotated (folded keeps its trie node there).
  virtual Status push(Task&, Frame& f, const Frame* parent) = 0;
  virtual Status pop(Task&, const Frame& f) = 0;
  virtual Status finish(ExportReport&) = 0;
};

}  // namespace

std::string folded_frame(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (unsigned char c : name) {
    if (c > 0x20 && c < 0x7f && c != ';' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (out.empty()) out = "[empty]";
  return out;
}

std::optional<ExportFormat> parse_export_format(std::string_view s) {
  if (s == "folded") return ExportFormat::kFolded;
  if (s == "chrome") return ExportFormat::kChrome;
  if (s == "perfetto") return ExportFormat::kPerfetto;
  return std::nullopt;
}

std::optional<ExportWeight> parse_export_weight(std::string_view s) {
  if (s == "self") return ExportWeight::kSelf;
  if (s == "total") return ExportWeight::kTotal;
  if (s == "calls") return ExportWeight::kCalls;
  return std::nullopt;
}

int64_t ExportReport::clamp(std::string_view name) const {
  for (auto& [n, v] : clamps)
    if (n == name) return v;
  return 0;
}

namespace {

// ---- folded: a trie of stacks (memory grows with the distinct stacks, not with the calls),
// written at the end, one line per stack with a non-zero weight.
class FoldedSink : public Sink {
 public:
  FoldedSink(const Names& names, ExportOutput& out, bool under,
             std::array<int64_t, kClampCount>& clamps)
      : names_(names), out_(out), under_(under), clamps_(clamps) {
    nodes_.push_back({0, 0, 0, 0});  // the root, above every stack
  }
  Status push(Task&, Frame& f, const Frame* parent) override {
    uint32_t at = 0;
    if (parent && parent->emit) {
      at = parent->node;
      if (f.context != parent->context) at = child(at, -1 - static_cast<int64_t>(f.context));
    } else if (f.context != 0 && !under_) {
      at = child(at, -1 - static_cast<int64_t>(f.context));  // --under: FUNC is the root
    }
    if (nodes_[at].key == kDeeperKey) {
      f.node = at;  // already below the cap
      ++clamps_[kFoldedDepthCapped];
    } else if (nodes_[at].depth + 1 >= kMaxFoldedDepth) {
      f.node = child(at, kDeeperKey);
      ++clamps_[kFoldedDepthCapped];
    } else {
      f.node = child(at, f.fn);
    }
    int64_t& w = nodes_[f.node].weight;
    w = saturating_add(w, f.weight);
    return {};
  }
  Status pop(Task&, const Frame&) override { return {}; }
  Status finish(ExportReport& report) override {
    std::vector<int64_t> path;
    std::string line;
    for (uint32_t i = 1; i < nodes_.size(); ++i) {
      if (nodes_[i].weight == 0) continue;
      path.clear();
      for (uint32_t n = i; n != 0; n = nodes_[n].parent) path.push_back(nodes_[n].key);
      line.clear();
      for (size_t k = path.size(); k-- > 0;) {
        int64_t key = path[k];
        if (key == kDeeperKey)
          line += "[deeper]";
        else if (key < 0)
          line += std::string("[") + kContextNames[static_cast<size_t>(-1 - key)] + "]";
        else
          line += frame_name(static_cast<size_t>(key));
        line += k ? ";" : " ";
      }
      line += std::to_string(nodes_[i].weight);
      line += '\n';
      if (auto s = out_.write(line); !s) return s;
      ++report.stacks;
      report.weight_sum = saturating_add(report.weight_sum, nodes_[i].weight);
    }
    return {};
  }

 private:
  struct Node {
    uint32_t parent;
    uint32_t depth;  // frames above it, itself included
    int64_t key;     // function index, -1 - context for a context's marker, or kDeeperKey
    int64_t weight;
  };
  const std::string& frame_name(size_t fn) {  // escaped once per function
    if (escaped_.empty()) escaped_.resize(names_.raw.size());
    if (escaped_[fn].empty()) escaped_[fn] = folded_frame(names_.raw[fn]);
    return escaped_[fn];
  }
  uint32_t child(uint32_t parent, int64_t key) {
    uint64_t k = (static_cast<uint64_t>(parent) << 32) ^ static_cast<uint32_t>(key);
    auto [it, inserted] = children_.emplace(k, static_cast<uint32_t>(nodes_.size()));
    if (inserted) nodes_.push_back({parent, nodes_[parent].depth + 1, key, 0});
    return it->second;
  }
  const Names& names_;
  ExportOutput& out_;
  bool under_;
  std::array<int64_t, kClampCount>& clamps_;
  std::vector<std::string> escaped_;
  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, uint32_t> children_;
};

// ---- chrome: the Trace Event Format's JSON object form. Complete events ("ph":"X") are
// written when a frame closes, when its end is known also for calls without a recorded exit.
class ChromeSink : public Sink {
 public:
  ChromeSink(const Names& names, ExportOutput& out, const SessionFacts& facts,
             const ExportOptions& options)
      : names_(names), out_(out), facts_(facts), options_(options), json_names_(names.raw.size()) {}
  Status begin() override { return out_.write("{\"traceEvents\":[\n"); }
  Status push(Task&, Frame&, const Frame*) override { return {}; }
  Status pop(Task& task, const Frame& f) override {
    if (!task.described) {
      task.described = true;
      if (described_pids_.insert(task.pid).second)
        add("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + std::to_string(task.pid) +
            ",\"tid\":" + std::to_string(task.tid) +
            ",\"args\":{\"name\":" + json_string(task.row.comm) + "}}");
      add("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + std::to_string(task.pid) +
          ",\"tid\":" + std::to_string(task.tid) +
          ",\"args\":{\"name\":" + json_string(task.label) + "}}");
    }
    std::string& name = json_names_[f.fn];
    if (name.empty()) name = json_string(names_.raw[f.fn]);
    if (events_++) buf_ += ",\n";
    buf_ += "{\"name\":";
    buf_ += name;
    buf_ += ",\"cat\":\"";
    buf_ += kContextNames[f.context];
    buf_ += "\",\"ph\":\"X\",\"pid\":";
    append_int(buf_, task.pid);
    buf_ += ",\"tid\":";
    append_int(buf_, task.tid);
    buf_ += ",\"ts\":";
    append_us(buf_, f.start);
    buf_ += ",\"dur\":";
    append_us(buf_, saturating_sub(f.end, f.start));
    if (f.open || f.entry_missing) {
      buf_ += ",\"args\":{";
      if (f.open) buf_ += "\"exit\":\"not recorded\"";
      if (f.open && f.entry_missing) buf_ += ",";
      if (f.entry_missing) buf_ += "\"entry\":\"before the recording\"";
      buf_ += "}";
    }
    buf_ += "}";
    return flush_if_full();
  }
  Status finish(ExportReport& report) override {
    nlohmann::json clamps = nlohmann::json::object();
    for (auto& [name, value] : report.clamps) clamps[name] = value;
    nlohmann::json other = {
        {"exporter", "probeseek export --format chrome"},
        {"session", facts_.name},
        {"kernel", facts_.kernel_release},
        {"source", facts_.source},
        {"source_format", facts_.format},
        {"calls", facts_.calls},
        {"lost_events", facts_.lost_events},
        {"exported_calls", report.calls_exported},
        {"under", options_.under},
        {"task_only", options_.task_only},
        {"interrupt_calls_left_out", report.interrupt_calls_left_out},
        {"clock", "the recording's trace clock; ts and dur in microseconds"},
        {"open_calls_ended_at_session_end", report.open_at_session_end},
        {"open_calls_ended_with_last_descendant", report.open_ended_by_descendant},
        {"clamped", clamps},
        {"clamp_note",
         "rows that did not nest (per task, by id range and by time) were cut to their "
         "enclosing call; see docs/export.md"}};
    if (options_.pid) other["pid"] = *options_.pid;
    buf_ += "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":";
    buf_ += other.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    buf_ += "}\n";
    auto s = out_.write(buf_);
    buf_.clear();
    return s;
  }

 private:
  void add(const std::string& event) {
    if (events_++) buf_ += ",\n";
    buf_ += event;
  }
  Status flush_if_full() {
    if (buf_.size() < (1 << 16)) return {};
    auto s = out_.write(buf_);
    buf_.clear();
    return s;
  }
  const Names& names_;
  ExportOutput& out_;
  const SessionFacts& facts_;
  const ExportOptions& options_;
  std::vector<std::string> json_names_;  // quoted, escaped once per function
  std::unordered_set<int64_t> described_pids_;
  std::string buf_;
  int64_t events_ = 0;
};

// ---- perfetto: TracePackets on one sequence. A track per task (its ThreadDescriptor) and one
// per process; slices as SLICE_BEGIN / SLICE_END track events, names and categories interned.
class PerfettoSink : public Sink {
 public:
  PerfettoSink(const Names& names, ExportOutput& out, std::array<int64_t, kClampCount>& clamps)
      : names_(names), out_(out), clamps_(clamps), interned_(names.raw.size(), false) {}
  Status push(Task& task, Frame& f, const Frame*) override {
    using namespace proto::field;
    if (!task.described) describe(task);
    event_.clear();
    event_.varint(kEventType, kTypeSliceBegin);
    event_.varint(kEventTrackUuid, thread_uuid(task));
    event_.varint(kEventNameIid, f.fn + 1);
    event_.varint(kEventCategoryIids, f.context + 1);
    interned_data_.clear();
    if (!categories_interned_) {
      categories_interned_ = true;
      for (size_t c = 0; c < kContextNames.size(); ++c) {
        entry_.clear();
        entry_.varint(kInternedIid, c + 1);
        entry_.string(kInternedName, kContextNames[c]);
        interned_data_.message(kInternedEventCategories, entry_);
      }
    }
    if (!interned_[f.fn]) {
      interned_[f.fn] = true;
      entry_.clear();
      entry_.varint(kInternedIid, f.fn + 1);
      entry_.string(kInternedName, printable(names_.raw[f.fn]));
      interned_data_.message(kInternedEventNames, entry_);
    }
    return packet(f.start);
  }
  Status pop(Task& task, const Frame& f) override {
    using namespace proto::field;
    event_.clear();
    event_.varint(kEventType, kTypeSliceEnd);
    event_.varint(kEventTrackUuid, thread_uuid(task));
    interned_data_.clear();
    return packet(f.end);
  }
  Status finish(ExportReport&) override { return flush(); }

 private:
  static uint64_t thread_uuid(const Task& t) {
    return (uint64_t{1} << 40) | static_cast<uint64_t>(t.tid);
  }
  static uint64_t process_uuid(int64_t pid) {
    return (uint64_t{2} << 40) | static_cast<uint64_t>(pid);
  }
  void describe(Task& task) {
    using namespace proto::field;
    task.described = true;
    if (described_pids_.insert(task.pid).second) {
      desc_.clear();
      entry_.clear();
      entry_.varint(kProcessPid, static_cast<uint64_t>(task.pid));
      entry_.string(kProcessName, printable(task.row.comm));
      desc_.varint(kTrackUuid, process_uuid(task.pid));
      desc_.message(kTrackProcess, entry_);
      descriptor_packet();
    }
    desc_.clear();
    entry_.clear();
    entry_.varint(kThreadPid, static_cast<uint64_t>(task.pid));
    entry_.varint(kThreadTid, static_cast<uint64_t>(task.tid));
    entry_.string(kThreadName, printable(task.label));
    desc_.varint(kTrackUuid, thread_uuid(task));
    desc_.string(kTrackName, printable(task.label));
    desc_.message(kTrackThread, entry_);
    descriptor_packet();
  }
  void descriptor_packet() {
    using namespace proto::field;
    packet_.clear();
    packet_.varint(kTrustedPacketSequenceId, 1);
    if (first_) packet_.varint(kSequenceFlags, kSeqIncrementalStateCleared);
    first_ = false;
    packet_.message(kTrackDescriptor, desc_);
    buf_.message(kTracePacket, packet_);
  }
  Status packet(int64_t ts) {
    using namespace proto::field;
    if (ts < 0) {
      ++clamps_[kNegativeTimestamp];
      ts = 0;
    }
    packet_.clear();
    packet_.varint(kTimestamp, static_cast<uint64_t>(ts));
    packet_.varint(kTrustedPacketSequenceId, 1);
    packet_.varint(kSequenceFlags,
                   (first_ ? kSeqIncrementalStateCleared : 0) | kSeqNeedsIncrementalState);
    first_ = false;
    if (!interned_data_.empty()) packet_.message(kInternedData, interned_data_);
    packet_.message(kTrackEvent, event_);
    buf_.message(kTracePacket, packet_);
    if (buf_.bytes().size() < (1 << 16)) return {};
    return flush();
  }
  Status flush() {
    auto s = out_.write(buf_.bytes());
    buf_.clear();
    return s;
  }
  const Names& names_;
  ExportOutput& out_;
  std::array<int64_t, kClampCount>& clamps_;
  std::vector<bool> interned_;
  bool categories_interned_ = false;
  bool first_ = true;
  std::unordered_set<int64_t> described_pids_;
  proto::ProtoWriter buf_, packet_, event_, interned_data_, entry_, desc_;
};

// ---- profile (call_profile.h): the folded trie with calls and placed times per node.
class ProfileSink : public Sink {
 public:
  ProfileSink(const Names& names, bool under, size_t max_nodes, CallProfile& out)
      : under_(under), max_nodes_(max_nodes), out_(out) {
    out_.names = names.raw;
    out_.context_marker.assign(out_.names.size(), 0);
    for (const char* c : kContextNames)
      context_names_.push_back(marker(std::string("[") + c + "]"));
    deeper_ = marker("[deeper]");
    more_ = marker("[more]");
    out_.nodes.push_back({});  // the root
  }
  Status push(Task&, Frame& f, const Frame* parent) override {
    uint32_t at = 0;
    if (parent && parent->emit) {
      at = parent->node;
      if (f.context != parent->context) at = child(at, context_names_[f.context]);
    } else if (f.context != 0 && !under_) {
      at = child(at, context_names_[f.context]);
    }
    const ProfileNode& here = out_.nodes[at];
    if (here.name == deeper_ || here.name == more_)
      f.node = at;  // below the cap: weighed in one node
    else if (here.depth + 1 >= kMaxProfileDepth)
      f.node = child(at, deeper_);
    else
      f.node = child(at, f.fn);
    ++out_.nodes[f.node].calls;
    return {};
  }
  Status pop(Task& t, const Frame& f) override {
    const int64_t placed = f.end > f.start ? saturating_sub(f.end, f.start) : 0;
    ProfileNode& n = out_.nodes[f.node];
    add_to(n.total_ns, placed);
    add_to(n.self_ns, placed > f.child_ns ? placed - f.child_ns : 0);
    if (!t.stack.empty() && t.stack.back().emit) add_to(t.stack.back().child_ns, placed);
    return {};
  }
  Status finish(ExportReport&) override {
    // Children come after their parent: one backward pass sums the markers and the root. A
    // capped node holds nested calls, whose placed times overlap: its total is its self time.
    for (size_t i = out_.nodes.size(); i-- > 0;) {
      ProfileNode& n = out_.nodes[i];
      const bool merged = n.name == deeper_ || n.name == more_;
      if (merged) n.total_ns = n.self_ns;
      if (i == 0 || (out_.context_marker[n.name] && !merged)) {
        n.total_ns = n.self_ns = 0;
        for (uint32_t c : n.children) add_to(n.total_ns, out_.nodes[c].total_ns);
      }
    }
    return {};
  }

 private:
  uint32_t marker(std::string name) {
    out_.names.push_back(std::move(name));
    out_.context_marker.push_back(1);
    return static_cast<uint32_t>(out_.names.size() - 1);
  }
  uint32_t child(uint32_t parent, uint32_t name) {
    uint64_t k = (static_cast<uint64_t>(parent) << 32) | name;
    auto it = children_.find(k);
    if (it != children_.end()) return it->second;
    if (out_.nodes.size() >= max_nodes_ && name != more_) {
      out_.truncated = true;
      return child(parent, more_);
    }
    uint32_t id = static_cast<uint32_t>(out_.nodes.size());
    children_.emplace(k, id);
    ProfileNode n;
    n.parent = parent;
    n.depth = out_.nodes[parent].depth + 1;
    n.name = name;
    out_.nodes.push_back(std::move(n));
    out_.nodes[parent].children.push_back(id);
    return id;
  }
  bool under_;
  size_t max_nodes_;
  CallProfile& out_;
  std::vector<uint32_t> context_names_;
  uint32_t deeper_ = 0, more_ = 0;
  std::unordered_map<uint64_t, uint32_t> children_;
};

// ---- the walk shared by the formats.
class Exporter {
 public:
  // `timed`: the output carries times, so their repairs are reported (folded carries none).
  Exporter(Database& db, const ExportOptions& options, bool timed)
      : db_(db), options_(options), timed_(timed) {}

  // Builds the sink once the session's names are known.
  using MakeSink = std::function<std::unique_ptr<Sink>(const Names&, const SessionFacts&,
                                                       std::array<int64_t, kClampCount>&)>;

  Result<ExportReport> run(int64_t session_id, const MakeSink& make_sink) {
    if (auto s = use_small_page_cache(db_); !s) return tl::unexpected(s.error());
    auto facts = read_session_facts(db_, session_id);
    if (!facts) return tl::unexpected(facts.error());
    facts_ = std::move(*facts);
    if (auto s = load_names(); !s) return tl::unexpected(s.error());
    if (auto s = load_tasks(); !s) return tl::unexpected(s.error());
    auto adopters = read_adopting_frames(db_, facts_);
    if (!adopters) return tl::unexpected(adopters.error());
    order_adopters(*adopters);

    std::unique_ptr<Sink> sink = make_sink(names_, facts_, clamps_);
    sink_ = sink.get();
    if (auto s = sink_->begin(); !s) return tl::unexpected(s.error());

    auto stream = CallStream::open(db_, facts_);
    if (!stream) return tl::unexpected(stream.error());
    CallRow row;
    size_t next_adopter = 0;
    for (;;) {
      auto more = stream->next(row);
      if (!more) return tl::unexpected(more.error());
      if (!*more) break;
      // Frames that adopted earlier calls open before the first of them.
      while (next_adopter < adopters_.size() && adopters_[next_adopter].first <= row.id) {
        const Adopter& a = adopters_[next_adopter++];
        Task* t = task_of(a.row.task_id);
        if (!t) continue;
        if (auto s = close_before(*t, a.first); !s) return tl::unexpected(s.error());
        if (auto s = open(*t, a.row); !s) return tl::unexpected(s.error());
        preopened_.insert(a.row.id);
      }
      Task* t = task_of(row.task_id);
      if (!t) continue;
      ++report_.calls_read;
      if (auto s = close_before(*t, row.id); !s) return tl::unexpected(s.error());
      if (!preopened_.empty() && preopened_.count(row.id)) continue;  // opened with its first child
      if (auto s = open(*t, row); !s) return tl::unexpected(s.error());
    }
    for (auto& [id, t] : tasks_)
      while (!t.stack.empty())
        if (auto s = close_top(t, true); !s) return tl::unexpected(s.error());
    for (auto& [id, t] : tasks_) report_.tasks += t.described ? 1 : 0;
    if (!options_.under.empty() && report_.calls_exported == 0 && !options_.task_only)
      return bad_input("function '" + options_.under + "' was not called in this session" +
                           (options_.pid ? " by pid " + std::to_string(*options_.pid) : ""),
                       db_.path(), "list what was recorded with: probeseek functions");
    for (size_t i = 0; i < kClampCount; ++i) {
      // Folded stacks carry no times: only the repairs of ids and names concern them.
      bool timing = i >= kStartsBeforeParent && i <= kEndsAfterParent;
      if (clamps_[i] && !(timing && !timed_))
        report_.clamps.emplace_back(kClampNames[i], clamps_[i]);
    }
    if (auto s = sink_->finish(report_); !s) return tl::unexpected(s.error());
    return report_;
  }

 private:
  struct Adopter {
    CallRow row;
    int64_t first;  // the smallest id below it, adopted children's own adopted ones included
  };

  Status load_names() {
    auto functions = read_function_names(db_, facts_.id);
    if (!functions) return tl::unexpected(functions.error());
    names_.raw.push_back("[unknown function]");  // index 0: ids the session does not have
    for (auto& f : *functions) {
      if (!names_.index.emplace(f.id, static_cast<uint32_t>(names_.raw.size())).second) continue;
      under_.push_back(!options_.under.empty() && f.name == options_.under);
      names_.raw.push_back(std::move(f.name));
    }
    under_.insert(under_.begin(), false);
    if (!options_.under.empty() && std::find(under_.begin(), under_.end(), true) == under_.end())
      return bad_input("function '" + options_.under + "' does not appear in this session",
                       db_.path(), "list what was recorded with: probeseek functions");
    return {};
  }

  Status load_tasks() {
    auto rows = read_tasks(db_, facts_.id);
    if (!rows) return tl::unexpected(rows.error());
    std::unordered_set<int64_t> used_tids;
    int64_t next_synthetic = kPidMaxLimit;
    bool any = false;
    for (auto& r : *rows) {
      if (options_.pid && r.pid != *options_.pid) continue;
      any = true;
      Task t;
      t.row = r;
      bool real = r.pid > 0 && r.pid < kPidMaxLimit;
      t.tid = real && used_tids.insert(r.pid).second ? r.pid : next_synthetic++;
      t.pid = r.pid >= 0 && r.pid < kPidMaxLimit ? r.pid : t.tid;
      t.label = r.comm + "-" + std::to_string(r.pid) +
                (r.idle_cpu ? " (cpu " + std::to_string(*r.idle_cpu) + ")" : "");
      tasks_.emplace(r.id, std::move(t));
    }
    if (options_.pid && !any)
      return bad_input("no task with pid " + std::to_string(*options_.pid) + " in this session",
                       db_.path(), "leave --pid out, or list the tasks with: probeseek sql");
    return {};
  }

  Task* task_of(int64_t task_id) {
    auto it = tasks_.find(task_id);
    if (it != tasks_.end()) return &it->second;
    if (options_.pid) return nullptr;  // not a task of that pid
    ++clamps_[kUnknownTask];
    Task t;
    t.row.id = task_id;
    t.row.pid = -1;
    t.row.comm = "[task " + std::to_string(task_id) + "]";
    t.tid = t.pid = kPidMaxLimit + (1 << 20) + static_cast<int64_t>(unknown_tasks_++);
    t.label = t.row.comm;
    return &tasks_.emplace(task_id, std::move(t)).first->second;
  }

  // Each adopter's first id is the smallest of its children's, or of an adopted adopter's
  // first id (chains of frames entered before the recording). A fixpoint over the few
  // adopters, bounded: a damaged database may hold parent cycles.
  void order_adopters(std::vector<AdoptingFrame>& rows) {
    // Real recordings have a few (the frames a task was in when the recording started); a
    // damaged database may claim any number: past kMaxAdopters they are left as they are stored
    // (leaves after their children), and counted.
    if (rows.size() > kMaxAdopters) {
      clamps_[kAdoptersIgnored] = static_cast<int64_t>(rows.size() - kMaxAdopters);
      rows.resize(kMaxAdopters);
    }
    std::unordered_map<int64_t, size_t> at;
    for (auto& r : rows) {
      at.emplace(r.frame.id, adopters_.size());
      adopters_.push_back({r.frame, std::min(r.first_child_id, r.frame.id)});
    }
    // One pass in id order (rows come sorted by id): an adopter's own adopter was written after
    // it, so its first id is final by the time it is passed up. Parent ids that point back
    // (cycles in a damaged database) are simply not followed further.
    for (auto& a : adopters_) {
      if (!a.row.parent_id || *a.row.parent_id <= a.row.id) continue;
      auto it = at.find(*a.row.parent_id);
      if (it == at.end()) continue;
      Adopter& parent = adopters_[it->second];
      parent.first = std::min(parent.first, a.first);
    }
    // Outer frames first where two start at the same call: the outer has the larger id.
    std::sort(adopters_.begin(), adopters_.end(), [](const Adopter& a, const Adopter& b) {
      return a.first != b.first ? a.first < b.first : a.row.id > b.row.id;
    });
  }

  uint32_t function_index(int64_t function_id) {
    auto it = names_.index.find(function_id);
    if (it != names_.index.end()) return it->second;
    ++clamps_[kUnknownFunction];
    return 0;
  }

  Status close_before(Task& t, int64_t id) {
    while (!t.stack.empty() && t.stack.back().end_id < id)
      if (auto s = close_top(t, false); !s) return s;
    return {};
  }

  // Opens `row` as the innermost frame of its task (an adopter: before its first child).
  Status open(Task& t, const CallRow& row) {
    Frame f;
    Frame* parent = t.stack.empty() ? nullptr : &t.stack.back();
    f.id = row.id;
    f.fn = function_index(row.function_id);
    f.context = row.context < 0 || row.context >= kUnknownContext
                    ? static_cast<uint8_t>(kUnknownContext)
                    : static_cast<uint8_t>(row.context);
    f.entry_missing = (row.flags & 2) != 0;
    f.under = (parent && parent->under) || under_[f.fn];
    f.left_out = options_.task_only && ((parent && parent->left_out) || f.context != 0);
    f.emit = (options_.under.empty() || f.under) && !f.left_out;
    if (f.left_out && (options_.under.empty() || f.under)) ++report_.interrupt_calls_left_out;
    if (f.context == kUnknownContext) note_if(f, kUnknownContextValue);

    // Ids: a range inside the enclosing frame's.
    f.end_id = row.end_id;
    if (f.end_id < row.id) {
      note_if(f, kEndBeforeId);
      f.end_id = row.id;
    }
    if (parent && f.end_id > parent->end_id) {
      note_if(f, kRangePastParent);
      f.end_id = parent->end_id;
    }

    // Time: inside the enclosing frame, after the previous sibling. Durations are kept (an
    // exit carries its call's exact duration) and entries moved: a recording's entries can share
    // one timestamp (the ring buffer gives events written in a burst, or nested in an
    // interrupt, the same time), which makes siblings overlap by the timestamps alone.
    int64_t start = row.entry_ns;
    const int64_t floor =
        parent ? std::max(parent->start, parent->last_child_end) : t.root_last_end;
    if (start < floor) {
      note_if(f, !parent                 ? kOverlapsSibling
                 : start < parent->entry ? kStartsBeforeParent
                 : start < parent->start ? kMovedWithParent
                                         : kOverlapsSibling);
      start = floor;
    }
    // The latest any call below the parent may end: its end, or an ancestor's when its own is
    // not known yet (no exit recorded: it ends with its last descendant).
    const int64_t limit = parent ? parent->limit : INT64_MAX;
    if (start > limit) {
      note_if(f, kStartsAfterParent);
      start = limit;
    }
    f.entry = row.entry_ns;
    f.start = f.last_child_end = start;
    if (row.duration_ns && *row.duration_ns < 0) note_if(f, kNegativeDuration);
    f.open = !row.duration_ns || *row.duration_ns < 0;
    if (!f.open) {
      f.end = saturating_add(start, *row.duration_ns);
      if (f.end > limit) {
        note_if(f, kEndsAfterParent);
        f.end = limit;
      }
    }
    f.limit = f.open ? limit : f.end;
    switch (options_.weight) {
      case ExportWeight::kSelf:
        f.weight = std::max<int64_t>(row.self_ns.value_or(0), 0);
        break;
      case ExportWeight::kTotal:
        f.weight = std::max<int64_t>(row.duration_ns.value_or(0), 0);
        break;
      case ExportWeight::kCalls:
        f.weight = 1;
        break;
    }
    if (f.emit) {
      ++report_.calls_exported;
      if (auto s = sink_->push(t, f, parent); !s) return s;
    }
    t.stack.push_back(f);
    return {};
  }

  // Closes the innermost frame: a call without a recorded exit ends with its last descendant,
  // or at the session's end when it was still open when the recording stopped.
  Status close_top(Task& t, bool at_end) {
    Frame f = t.stack.back();
    t.stack.pop_back();
    Frame* parent = t.stack.empty() ? nullptr : &t.stack.back();
    if (f.open) {
      f.end = std::max(f.last_child_end, f.start);
      if (at_end) f.end = std::max(f.end, facts_.last_ts_ns);
      if (f.emit) ++(at_end ? report_.open_at_session_end : report_.open_ended_by_descendant);
      if (parent && f.end > parent->limit) {  // the session's end, past an ancestor's
        note_if(f, kEndsAfterParent);
        f.end = parent->limit;
      }
    }
    if (parent)
      parent->last_child_end = std::max(parent->last_child_end, f.end);
    else
      t.root_last_end = std::max(t.root_last_end, f.end);
    if (f.emit) return sink_->pop(t, f);
    return {};
  }

  // Repairs are counted for the calls exported: the report speaks of what the file holds.
  void note_if(const Frame& f, Clamp c) {
    if (f.emit) ++clamps_[c];
  }

  Database& db_;
  const ExportOptions& options_;
  bool timed_;
  SessionFacts facts_;
  Names names_;
  std::vector<bool> under_;  // per function index: named like --under
  std::unordered_map<int64_t, Task> tasks_;
  std::vector<Adopter> adopters_;
  std::unordered_set<int64_t> preopened_;
  std::array<int64_t, kClampCount> clamps_{};
  ExportReport report_;
  Sink* sink_ = nullptr;
  size_t unknown_tasks_ = 0;
};

}  // namespace

Result<ExportReport> export_session(Database& db, int64_t session_id, const ExportOptions& options,
                                    ExportOutput& out) {
  Exporter exporter(db, options, options.format != ExportFormat::kFolded);
  return exporter.run(session_id, [&](const Names& names, const SessionFacts& facts,
                                      std::array<int64_t, kClampCount>& clamps) {
    std::unique_ptr<Sink> sink;
    switch (options.format) {
      case ExportFormat::kFolded:
        sink = std::make_unique<FoldedSink>(names, out, !options.under.empty(), clamps);
        break;
      case ExportFormat::kChrome:
        sink = std::make_unique<ChromeSink>(names, out, facts, options);
        break;
      case ExportFormat::kPerfetto:
        sink = std::make_unique<PerfettoSink>(names, out, clamps);
        break;
    }
    return sink;
  });
}

Result<CallProfile> call_profile(Database& db, int64_t session_id, const ProfileOptions& options) {
  CallProfile profile;
  Exporter exporter(db, options.scope, /*timed=*/true);
  auto report = exporter.run(
      session_id, [&](const Names& names, const SessionFacts&, std::array<int64_t, kClampCount>&) {
        return std::make_unique<ProfileSink>(names, !options.scope.under.empty(),
                                             std::max<size_t>(options.max_nodes, 1), profile);
      });
  if (!report) return tl::unexpected(report.error());
  profile.report = std::move(*report);
  return profile;
}

}  // namespace probeseek
