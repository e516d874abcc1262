#include "probeseek/ingest.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "probeseek/btf.h"
#include "probeseek/btf_store.h"
#include "probeseek/kernel_memory.h"
#include "probeseek/line_reader.h"
#include "probeseek/module_btf.h"
#include "probeseek/store.h"
#include "probeseek/symbol_store.h"
#include "probeseek/trace_sources.h"
#include "probeseek/transaction.h"

namespace probeseek {

std::string default_session_name(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  for (const char* suffix : {".gz", ".txt", ".dat"}) {
    std::string_view sv(suffix);
    if (name.size() > sv.size() && name.compare(name.size() - sv.size(), sv.size(), sv) == 0)
      name.resize(name.size() - sv.size());
  }
  return name.empty() ? std::string("session") : name;
}

namespace {

// The traced kernel's tables, parsed before anything is written, each with the source it is
// stored under. A file's kallsyms (--kallsyms) is stored as indexed rows; a live kernel's, read
// whole at record time, as one compressed text like a trace.dat's own.
struct KernelTables {
  std::optional<SymbolTable> kallsyms;
  std::string kallsyms_source;
  std::string_view kallsyms_text;  // non-empty: store kallsyms as this text (the snapshot's)
  std::optional<std::vector<FilterFunction>> filter_functions;
  std::string filter_functions_source;
  std::optional<std::vector<BlacklistEntry>> blacklist;
  std::string blacklist_source;
  std::string btf_bytes;   // the vmlinux BTF as stored; "" = none
  std::optional<Btf> btf;  // parsed, when module BTF or the ops scan needs it
  std::string btf_source;
};

Error as_bad_input(Error e) {
  e.kind = ErrorKind::kBadInput;
  return e;
}

Result<KernelTables> tables_from_files(const SymbolInputs& in, bool need_btf) {
  KernelTables t;
  if (in.kallsyms_path) {
    auto table = SymbolTable::load(*in.kallsyms_path);
    if (!table) return tl::unexpected(as_bad_input(table.error()));
    t.kallsyms = std::move(*table);
    t.kallsyms_source = *in.kallsyms_path;
  }
  if (in.filter_functions_path) {
    auto text = read_text_file(*in.filter_functions_path);
    if (!text) return tl::unexpected(as_bad_input(text.error()));
    auto f = parse_filter_functions(*text, *in.filter_functions_path);
    if (!f) return tl::unexpected(f.error());
    t.filter_functions = std::move(*f);
    t.filter_functions_source = *in.filter_functions_path;
  }
  if (in.kprobe_blacklist_path) {
    auto text = read_text_file(*in.kprobe_blacklist_path);
    if (!text) return tl::unexpected(as_bad_input(text.error()));
    auto b = parse_kprobe_blacklist(*text, *in.kprobe_blacklist_path);
    if (!b) return tl::unexpected(b.error());
    t.blacklist = std::move(*b);
    t.blacklist_source = *in.kprobe_blacklist_path;
  }
  if (in.btf_bytes) {
    t.btf_bytes = *in.btf_bytes;
    t.btf_source = in.btf_source;
    if (need_btf) {
      auto btf = Btf::from_bytes(t.btf_bytes, in.btf_source);
      if (!btf) return tl::unexpected(as_bad_input(btf.error()));
      t.btf = std::move(*btf);
    }
  }
  return t;
}

// A live recording's kernel, as it was saved while recording. BTF that cannot be read is a
// warning: the calls are worth keeping without it.
Result<KernelTables> tables_from_snapshot(const KernelSnapshot& k,
                                          std::vector<std::string>& warnings) {
  KernelTables t;
  const std::string origin = " of " + k.release + " (probeseek record)";
  auto kallsyms = SymbolTable::parse(k.kallsyms_text, k.kallsyms_path);
  if (!kallsyms) return tl::unexpected(kallsyms.error());
  t.kallsyms = std::move(*kallsyms);
  t.kallsyms_text = k.kallsyms_text;
  t.kallsyms_source = k.kallsyms_path + origin;
  if (!k.filter_functions_text.empty()) {
    auto f = parse_filter_functions(k.filter_functions_text, "available_filter_functions");
    if (!f) return tl::unexpected(f.error());
    t.filter_functions = std::move(*f);
    t.filter_functions_source = "available_filter_functions" + origin;
  }
  if (!k.kprobe_blacklist_text.empty()) {
    auto b = parse_kprobe_blacklist(k.kprobe_blacklist_text, "kprobes/blacklist");
    if (!b) return tl::unexpected(b.error());
    t.blacklist = std::move(*b);
    t.blacklist_source = "kprobes/blacklist" + origin;
  }
  if (!k.btf_path.empty()) {
    auto btf = Btf::load(k.btf_path);
    if (btf) {
      t.btf_bytes = btf->raw_bytes();
      t.btf = std::move(*btf);
      t.btf_source = k.btf_path + origin;
    } else {
      warnings.push_back("BTF not saved: " + btf.error().message());
    }
  }
  return t;
}

Result<std::vector<int64_t>> store_symbol_sets(Database& db, const KernelTables& t) {
  std::vector<int64_t> ids;
  if (t.kallsyms) {
    auto id = t.kallsyms_text.empty()
                  ? store_kallsyms(db, *t.kallsyms, t.kallsyms_source)
                  : store_kallsyms_text(db, t.kallsyms_text, t.kallsyms->symbols().size(),
                                        t.kallsyms_source);
    if (!id) return tl::unexpected(id.error());
    ids.push_back(*id);
  }
  if (t.filter_functions) {
    auto id = store_filter_functions(db, *t.filter_functions, t.filter_functions_source);
    if (!id) return tl::unexpected(id.error());
    ids.push_back(*id);
  }
  if (t.blacklist) {
    auto id = store_kprobe_blacklist(db, *t.blacklist, t.blacklist_source);
    if (!id) return tl::unexpected(id.error());
    ids.push_back(*id);
  }
  return ids;
}

// Between the call-tree builder and the session writer: counts the calls for the progress
// line, every 65,536 of them, and passes everything on unchanged.
class CountingSink : public CallSink {
 public:
  CountingSink(CallSink& to, std::function<void(uint64_t)> every) : to_(to), every_(every) {}
  void on_function(uint32_t id, std::string_view name, uint64_t address) override {
    to_.on_function(id, name, address);
  }
  void on_task(uint32_t id, int pid, int idle_cpu, std::string_view comm) override {
    to_.on_task(id, pid, idle_cpu, comm);
  }
  void on_call(const CallRecord& call) override {
    to_.on_call(call);
    if ((++calls_ & 0xffff) == 0) every_(calls_);
  }
  void on_reparent(uint64_t call_id, uint64_t new_parent_id) override {
    to_.on_reparent(call_id, new_parent_id);
  }
  uint64_t calls() const { return calls_; }

 private:
  CallSink& to_;
  std::function<void(uint64_t)> every_;
  uint64_t calls_ = 0;
};

// One recording into one session: its calls, the kernel's tables (the first time), its BTF and
// the BTF of the modules its functions live in, all in the session writer's transaction.
class SessionIngest {
 public:
  SessionIngest(Database& db, const IngestRequest& request, KernelTables& tables,
                IngestResult& result)
      : db_(db), request_(request), tables_(tables), result_(result) {}

  using Feed = std::function<Result<SourceInfo>(CallTreeBuilder&)>;
  Status run(SessionWriter::Options options, const Feed& feed, size_t file = 0) {
    auto writer = SessionWriter::begin(db_, options);
    if (!writer) return tl::unexpected(writer.error());
    std::vector<int64_t> set_ids = result_.symbol_set_ids;
    if (!symbols_stored_) {
      auto ids = store_symbol_sets(db_, tables_);
      if (!ids) return tl::unexpected(ids.error());
      set_ids = *ids;
    }
    (*writer)->set_symbols(tables_.kallsyms ? &*tables_.kallsyms : nullptr);
    const auto& on_calls = request_.on_calls;
    std::optional<CountingSink> counting;
    if (on_calls)
      counting.emplace(**writer,
                       [&on_calls, file](uint64_t calls) { on_calls(file, calls, false); });
    CallTreeBuilder builder(counting ? static_cast<CallSink&>(*counting) : **writer);
    auto info = feed(builder);
    if (!info) return tl::unexpected(info.error());
    if ((*writer)->stream_error()) return tl::unexpected(*(*writer)->stream_error());
    builder.finish();
    if (on_calls) on_calls(file, counting->calls(), true);
    std::vector<int64_t> session_set_ids = set_ids;
    if (!info->kallsyms_text.empty()) {
      // The recording's own symbol table: the kernel it was taken on, whatever --kallsyms says.
      const size_t entries = static_cast<size_t>(
          std::count(info->kallsyms_text.begin(), info->kallsyms_text.end(), '\n'));
      auto id = store_kallsyms_text(db_, info->kallsyms_text, entries,
                                    options.source + " (the recording's own kallsyms)");
      if (!id) return tl::unexpected(id.error());
      session_set_ids.push_back(*id);
    }
    if (auto s = store_btfs((*writer)->session_id(), options.name); !s) return s;
    if (auto s = (*writer)->commit(*info, builder, session_set_ids); !s) return s;
    symbols_stored_ = true;
    result_.symbol_set_ids = set_ids;
    result_.sessions.push_back(options.name);
    result_.session_ids.push_back((*writer)->session_id());
    stats_ = builder.stats();
    return {};
  }
  const BuildStats& stats() const { return stats_; }

 private:
  // The vmlinux BTF, and over it the BTF of the modules whose functions were recorded (the
  // functions' rows, with their kallsyms module, are written by now).
  Status store_btfs(int64_t session_id, const std::string& name) {
    if (tables_.btf_bytes.empty()) return {};
    if (!btf_id_) {
      auto id = store_btf(db_, tables_.btf_bytes, tables_.btf_source);
      if (!id) return tl::unexpected(id.error());
      btf_id_ = *id;
    }
    if (auto s = link_session_btf(db_, session_id, *btf_id_); !s) return s;
    if (request_.module_btf_dir.empty() || !tables_.btf) return {};
    const std::string origin =
        request_.recording ? " of " + request_.recording->kernel().release + " (probeseek record)"
                           : " (probeseek import --module-btf)";
    auto modules = store_session_module_btfs(db_, session_id, *btf_id_, *tables_.btf,
                                             request_.module_btf_dir, origin);
    if (!modules) return tl::unexpected(modules.error());
    for (const std::string& m : modules->stored)
      if (std::find(result_.modules_with_btf.begin(), result_.modules_with_btf.end(), m) ==
          result_.modules_with_btf.end())
        result_.modules_with_btf.push_back(m);
    for (const std::string& w : modules->warnings)
      result_.warnings.push_back(request_.recording ? w : "session " + name + ": " + w);
    return {};
  }

  Database& db_;
  const IngestRequest& request_;
  KernelTables& tables_;
  IngestResult& result_;
  bool symbols_stored_ = false;
  std::optional<int64_t> btf_id_;
  BuildStats stats_;
};

// The ops tables the recorded functions fit, read from the live kernel's memory after the
// commit (docs/record.md). Everything that stops it is a warning: the recording is saved.
void scan_live_ops(Database& db, const IngestRequest& request, const KernelTables& tables,
                   IngestResult& result) {
  const std::string skipped = "ops-table membership not verified at record time: ";
  if (!tables.btf) {
    result.warnings.push_back(skipped +
                              "the kernel has no BTF to say which structs are ops tables");
    return;
  }
  auto memory = KcoreMemory::open(request.kernel_memory);
  if (!memory) {
    result.warnings.push_back(
        skipped + memory.error().message() +
        (memory.error().hint.empty() ? "" : " (" + memory.error().hint + ")"));
    return;
  }
  if (request.progress)
    request.progress("verifying ops tables in " + request.kernel_memory +
                     " (which struct proto, file_operations, ... slots hold the recorded "
                     "functions)");
  auto report =
      scan_and_store_ops(db, result.session_ids.back(), *tables.btf, *memory, *tables.kallsyms);
  if (!report) {
    result.warnings.push_back(
        skipped + report.error().message() +
        (report.error().hint.empty() ? "" : " (" + report.error().hint + ")"));
    return;
  }
  result.ops = std::move(*report);
}

Result<IngestResult> ingest_recording(Database& db, const IngestRequest& request) {
  IngestResult result;
  const KernelSnapshot& k = request.recording->kernel();
  auto tables = tables_from_snapshot(k, result.warnings);
  if (!tables) return tl::unexpected(tables.error());
  SessionIngest one(db, request, *tables, result);
  SessionWriter::Options options;
  options.name = request.name;
  options.source = request.source;
  options.replace = request.replace;
  Recording& rec = *request.recording;
  auto saved = one.run(options, [&rec](CallTreeBuilder& b) { return rec.read_into(b); });
  if (!saved) return tl::unexpected(saved.error());
  const BuildStats& st = one.stats();
  for (int cpu : st.cpus_with_losses())
    result.warnings.push_back("CPU " + std::to_string(cpu) + " lost " +
                              std::to_string(st.lost_events_on_cpu(cpu)) +
                              " events: call trees on it have gaps (a larger --buffer-size, a "
                              "smaller --max-depth or --graph-function help)");
  for (const std::string& note : k.notes) result.warnings.push_back(note);
  if (!request.kernel_memory.empty()) scan_live_ops(db, request, *tables, result);
  return result;
}

Result<IngestResult> ingest_files(Database& db, const IngestRequest& request) {
  const SymbolInputs& in = request.symbols;
  if (request.files.empty() && !in.kallsyms_path && !in.filter_functions_path &&
      !in.kprobe_blacklist_path)
    return bad_input("nothing to import", "", "pass a trace.dat or report text, or symbol files");
  if (!request.name.empty() && request.files.size() > 1)
    return bad_input("--name names one session, but " + std::to_string(request.files.size()) +
                         " files were given",
                     "", "import the files one at a time, each with its own --name");
  auto tables = tables_from_files(in, !request.module_btf_dir.empty());
  if (!tables) return tl::unexpected(tables.error());

  IngestResult result;
  if (request.files.empty()) {
    auto tx = Transaction::begin(db);
    if (!tx) return tl::unexpected(tx.error());
    auto ids = store_symbol_sets(db, *tables);
    if (!ids) return tl::unexpected(ids.error());  // rolled back by tx
    if (auto s = db.create_indexes(); !s) return tl::unexpected(s.error());
    if (auto s = tx->commit(); !s) return tl::unexpected(s.error());
    result.symbol_set_ids = *ids;
    return result;
  }

  const SymbolTable* kallsyms = tables->kallsyms ? &*tables->kallsyms : nullptr;
  AddressOfName address_of;
  if (kallsyms) {
    address_of = [kallsyms](std::string_view name) -> uint64_t {
      auto all = kallsyms->by_name(name);
      // Several static functions share this name: the text cannot say which one ran.
      return all.size() == 1 ? all.front()->address : 0;
    };
  }
  SessionIngest session(db, request, *tables, result);
  for (size_t i = 0; i < request.files.size(); ++i) {
    const std::string& file = request.files[i];
    // Judge the file before opening a transaction, so bad input costs nothing.
    auto format = detect_trace_format(file);
    if (!format) return tl::unexpected(format.error());
    SessionWriter::Options options;
    options.name = request.name.empty() ? default_session_name(file) : request.name;
    options.source = file;
    options.replace = request.replace;
    auto saved = session.run(
        options,
        [&file, &address_of](CallTreeBuilder& b) { return read_trace(file, b, address_of); }, i);
    if (!saved) return tl::unexpected(saved.error());
    const BuildStats& st = session.stats();
    for (int cpu : st.cpus_with_losses())
      result.warnings.push_back(options.name + ": CPU " + std::to_string(cpu) + " lost " +
                                std::to_string(st.lost_events_on_cpu(cpu)) +
                                " events: call trees on it have gaps");
    if (st.unparsed_lines > 0)
      result.warnings.push_back(options.name + ": " + std::to_string(st.unparsed_lines) +
                                " lines were not records and were skipped");
  }
  return result;
}

}  // namespace

Result<IngestResult> ingest(Database& db, const IngestRequest& request) {
  if (request.recording) {
    if (!request.files.empty())
      return bad_input("one live recording or trace files, not both", "",
                       "save the recording first, then import the files");
    return ingest_recording(db, request);
  }
  return ingest_files(db, request);
}

Result<IngestResult> store_module_btf(Database& db, const std::vector<SessionSummary>& sessions,
                                      const std::string& dir) {
  auto tx = Transaction::begin(db);
  if (!tx) return tl::unexpected(tx.error());
  IngestResult result;
  std::map<int64_t, Btf> bases;  // by btfs id: sessions of one kernel share one
  std::set<std::string> stored;
  for (const SessionSummary& session : sessions) {
    auto base = load_session_btf(db, session.id);
    if (!base) return tl::unexpected(base.error());
    if (!*base) {
      result.warnings.push_back("session " + session.name +
                                " has no stored BTF to read module BTF over: import it with --btf");
      continue;
    }
    auto it = bases.find((*base)->id);
    if (it == bases.end()) {
      auto btf = Btf::from_bytes((*base)->bytes, (*base)->source);
      if (!btf) return tl::unexpected(btf.error());
      it = bases.emplace((*base)->id, std::move(*btf)).first;
    }
    auto modules = store_session_module_btfs(db, session.id, (*base)->id, it->second, dir,
                                             " (probeseek import --module-btf)");
    if (!modules) return tl::unexpected(modules.error());
    stored.insert(modules->stored.begin(), modules->stored.end());
    for (auto& w : modules->warnings)
      result.warnings.push_back("session " + session.name + ": " + w);
  }
  if (auto s = tx->commit(); !s) return tl::unexpected(s.error());
  result.modules_with_btf.assign(stored.begin(), stored.end());
  return result;
}

}  // namespace probeseek
