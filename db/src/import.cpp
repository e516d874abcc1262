#include <algorithm>
#include <optional>

#include "probeseek/db.h"
#include "probeseek/line_reader.h"
#include "probeseek/transaction.h"
#include "schema.sql.h"

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

struct LoadedSymbols {
  std::optional<SymbolTable> kallsyms;
  std::optional<std::vector<FilterFunction>> filter_functions;
  std::optional<std::vector<BlacklistEntry>> blacklist;
};

Result<LoadedSymbols> load_symbols(const SymbolInputs& in) {
  LoadedSymbols out;
  auto as_bad_input = [](Error e) {
    e.kind = ErrorKind::kBadInput;
    return tl::unexpected(std::move(e));
  };
  if (in.kallsyms_path) {
    auto t = SymbolTable::load(*in.kallsyms_path);
    if (!t) return as_bad_input(t.error());
    out.kallsyms = std::move(*t);
  }
  if (in.filter_functions_path) {
    auto text = read_text_file(*in.filter_functions_path);
    if (!text) return as_bad_input(text.error());
    auto f = parse_filter_functions(*text, *in.filter_functions_path);
    if (!f) return tl::unexpected(f.error());
    out.filter_functions = std::move(*f);
  }
  if (in.kprobe_blacklist_path) {
    auto text = read_text_file(*in.kprobe_blacklist_path);
    if (!text) return as_bad_input(text.error());
    auto b = parse_kprobe_blacklist(*text, *in.kprobe_blacklist_path);
    if (!b) return tl::unexpected(b.error());
    out.blacklist = std::move(*b);
  }
  return out;
}

Result<std::vector<int64_t>> store_symbols(Database& db, const LoadedSymbols& s,
                                           const SymbolInputs& in) {
  std::vector<int64_t> ids;
  if (s.kallsyms) {
    auto id = store_kallsyms(db, *s.kallsyms, *in.kallsyms_path);
    if (!id) return tl::unexpected(id.error());
    ids.push_back(*id);
  }
  if (s.filter_functions) {
    auto id = store_filter_functions(db, *s.filter_functions, *in.filter_functions_path);
    if (!id) return tl::unexpected(id.error());
    ids.push_back(*id);
  }
  if (s.blacklist) {
    auto id = store_kprobe_blacklist(db, *s.blacklist, *in.kprobe_blacklist_path);
    if (!id) return tl::unexpected(id.error());
    ids.push_back(*id);
  }
  return ids;
}

}  // namespace

Result<ImportResult> import_recordings(Database& db, const ImportRequest& request) {
  if (request.files.empty() && !request.symbols.kallsyms_path &&
      !request.symbols.filter_functions_path && !request.symbols.kprobe_blacklist_path)
    return bad_input("nothing to import", "", "pass a trace.dat or report text, or symbol files");
  if (!request.name.empty() && request.files.size() > 1)
    return bad_input("--name names one session, but " + std::to_string(request.files.size()) +
                         " files were given",
                     "", "import the files one at a time, each with its own --name");
  auto symbols = load_symbols(request.symbols);
  if (!symbols) return tl::unexpected(symbols.error());

  ImportResult result;
  bool symbols_stored = false;
  if (request.files.empty()) {
    auto tx = Transaction::begin(db);
    if (!tx) return tl::unexpected(tx.error());
    auto ids = store_symbols(db, *symbols, request.symbols);
    if (!ids) return tl::unexpected(ids.error());  // rolled back by tx
    if (auto s = db.exec(schema::kIndexes); !s) return tl::unexpected(s.error());
    if (auto s = tx->commit(); !s) return tl::unexpected(s.error());
    result.symbol_set_ids = *ids;
    return result;
  }

  const SymbolTable* kallsyms = symbols->kallsyms ? &*symbols->kallsyms : nullptr;
  AddressOfName address_of;
  if (kallsyms) {
    address_of = [kallsyms](std::string_view name) -> uint64_t {
      auto all = kallsyms->by_name(name);
      // Several static functions share this name: the text cannot say which one ran.
      return all.size() == 1 ? all.front()->address : 0;
    };
  }
  for (const std::string& file : request.files) {
    // Judge the file before opening a transaction, so bad input costs nothing.
    auto format = detect_trace_format(file);
    if (!format) return tl::unexpected(format.error());
    SessionWriter::Options options;
    options.name = request.name.empty() ? default_session_name(file) : request.name;
    options.source = file;
    options.replace = request.replace;
    auto writer = SessionWriter::begin(db, options);
    if (!writer) return tl::unexpected(writer.error());
    std::vector<int64_t> set_ids = result.symbol_set_ids;
    if (!symbols_stored) {
      auto ids = store_symbols(db, *symbols, request.symbols);
      if (!ids) return tl::unexpected(ids.error());
      set_ids = *ids;
    }
    (*writer)->set_symbols(kallsyms);
    CallTreeBuilder builder(**writer);
    auto info = read_trace(file, builder, address_of);
    if (!info) return tl::unexpected(info.error());
    if ((*writer)->stream_error()) return tl::unexpected(*(*writer)->stream_error());
    builder.finish();
    std::vector<int64_t> session_set_ids = set_ids;
    if (!info->kallsyms_text.empty()) {
      // The recording's own symbol table: the kernel it was taken on, whatever --kallsyms says.
      size_t entries = static_cast<size_t>(
          std::count(info->kallsyms_text.begin(), info->kallsyms_text.end(), '\n'));
      auto id = store_kallsyms_text(db, info->kallsyms_text, entries,
                                    file + " (the recording's own kallsyms)");
      if (!id) return tl::unexpected(id.error());
      session_set_ids.push_back(*id);
    }
    if (request.symbols.btf_bytes) {
      auto btf = store_btf(db, *request.symbols.btf_bytes, request.symbols.btf_source);
      if (!btf) return tl::unexpected(btf.error());
      if (auto s = link_session_btf(db, (*writer)->session_id(), *btf); !s)
        return tl::unexpected(s.error());
    }
    if (auto s = (*writer)->commit(*info, builder, session_set_ids); !s)
      return tl::unexpected(s.error());
    symbols_stored = true;
    result.symbol_set_ids = set_ids;
    result.sessions.push_back(options.name);
    const BuildStats& st = builder.stats();
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

}  // namespace probeseek
