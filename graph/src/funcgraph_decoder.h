// Turns libtraceevent records of the function_graph tracer (ftrace/funcgraph_entry and
// ftrace/funcgraph_exit) into GraphEvents for a CallTreeBuilder. The one decoder of every source
// that holds raw ring-buffer records: a trace.dat (the version 7 reader's pages and libtracecmd's
// iteration) and the live recorder (per-CPU trace_pipe_raw pages in spill files). Field offsets
// are looked up once; names and comms are cached.
#pragma once

#include <event-parse.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "probeseek/graph.h"

namespace probeseek::detail {

// The one owner of a tep_handle of our own (a trace.dat's metadata, the recorder's formats).
struct TepFree {
  void operator()(tep_handle* tep) const { tep_free(tep); }
};
using TepHandle = std::unique_ptr<tep_handle, TepFree>;

// A kallsyms text's symbols, looked up by address exactly as libtraceevent's tep_find_function()
// after tep_register_function() of each: the same entries (arm's '$' mapping symbols and
// absolute 'A'/'a' symbols skipped), in the same order (registration reversed, then sorted by
// address by glibc's stable merge sort), the same binary search (glibc's bsearch with
// libtraceevent's comparison). Built without copying 87k names into a tep and sorting them
// with qsort: 110 M instructions of a 36k-call import (issue 15).
class KallsymsFunctions {
 public:
  // nullopt when a line is not "ADDR TYPE NAME" or "ADDR TYPE NAME\t[MODULE]": such a text
  // goes to tep_parse_kallsyms() whole, as before.
  static std::optional<KallsymsFunctions> parse(std::string text);
  struct Found {
    std::string_view name;
    uint64_t start = 0;
  };
  std::optional<Found> find(uint64_t address) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    uint64_t address;
    uint32_t name, length;  // in text_
  };
  std::string text_;
  std::vector<Entry> entries_;
};

// The name of the function whose ftrace call site is at `address`: "tcp_v4_connect" also for
// tcp_v4_connect+0x4 (after ENDBR64 on IBT kernels), "f+0x1c" further in, "0x..." unknown.
std::string funcgraph_function_name(tep_handle* tep, uint64_t address);

class FuncgraphDecoder {
 public:
  // Why a tep handle cannot be decoded, for the caller to turn into an error naming its file.
  enum class Problem { kNone, kNoFuncgraphEvents, kNoFuncDepthFields };

  // `tep` is borrowed (owned by the caller's trace handle) and must outlive the decoder. Function
  // names come from the tep's kallsyms (tep_find_function), comms from its saved command lines.
  FuncgraphDecoder(tep_handle* tep, CallTreeBuilder& builder);
  Problem problem() const { return problem_; }

  // Records of this task are counted as other events, not decoded: the live recorder's own
  // pid, whose calls leak into a pid-filtered trace around context switches.
  void ignore_pid(int pid) { ignored_pid_ = pid; }

  // A file's damaged records (no data, shorter than its event format's fields, a depth no
  // kernel writes) are refused: decode() returns false and damage() says what, for the caller
  // to refuse the file naming the record's offset. Otherwise (the live recorder's pages, which
  // the kernel wrote) such a record is counted as another event and its depth clamped.
  void refuse_damaged() { refuse_damaged_ = true; }
  // Names from these symbols instead of the tep's (borrowed: must outlive the decoder).
  void use_functions(const KallsymsFunctions* functions) { functions_ = functions; }
  const std::string& damage() const { return damage_; }

  // One record of `cpu`: funcgraph entries and exits go to the builder, anything else is
  // counted as another event; a record that says events were lost before it is counted too.
  // False only for a damaged record refused (see refuse_damaged).
  bool decode(const tep_record& record, int cpu);

 private:
  // Where a field sits in a record, read without libtraceevent's per-call lookups (same result
  // as tep_read_number_field: 1, 2, 4 or 8 bytes in the file's byte order, else 0).
  struct FieldAt {
    int offset = -1;
    int size = 0;
    bool present() const { return offset >= 0; }
  };
  static FieldAt field_at(const tep_format_field* field);
  uint64_t read_number(const void* data, FieldAt f) const;
  uint64_t read_field(FieldAt f, const tep_record& record) const {
    return f.present() ? read_number(record.data, f) : 0;
  }
  static bool fits(const tep_record& record, std::initializer_list<FieldAt> fields);
  static int bounded_depth(uint64_t raw);
  bool damaged(std::string what);  // false when refused, true when counted as another event
  std::string_view function_name(uint64_t address);
  std::string_view comm_of(int pid);

  tep_handle* tep_;                               // borrowed
  const KallsymsFunctions* functions_ = nullptr;  // borrowed; null: the tep's
  CallTreeBuilder& builder_;
  Problem problem_ = Problem::kNone;
  int entry_id_ = -1;
  int exit_id_ = -1;
  FieldAt type_, pid_, flags_;  // common fields
  FieldAt entry_func_, entry_depth_, exit_func_, exit_depth_, exit_calltime_, exit_rettime_;
  bool swap_ = false;                                // the records' byte order is not the host's
  std::unordered_map<uint64_t, std::string> names_;  // address -> resolved name
  std::unordered_map<int, std::string> comms_;       // pid -> saved command line
  int last_pid_ = -1;
  int ignored_pid_ = -1;
  bool refuse_damaged_ = false;
  std::string damage_;
  std::string_view last_comm_;
};

}  // namespace probeseek::detail
