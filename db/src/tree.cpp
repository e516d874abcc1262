// Renders call trees the way function_graph prints them, with two additions a reader of a
// 300k-line trace needs: identical sibling subtrees folded into one with a count, and the
// context (hardirq, softirq, exception) marked where it changes.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "probeseek/db.h"
#include "probeseek/text.h"
#include "schema.sql.h"

namespace probeseek {

namespace {

struct Node {
  int64_t id;
  int64_t parent;
  std::string_view function;
  int64_t duration_ns;  // -1: did not exit in the recording
  int context;
  int64_t task;
  int flags;
  std::vector<uint32_t> children;
  uint64_t shape = 0;  // hash of the subtree's function names and structure
  int64_t size = 1;    // calls in the subtree, itself included
};

const char* context_name(int c) {
  static const char* names[] = {"task", "softirq", "hardirq", "nmi", "exception"};
  return c >= 0 && c < 5 ? names[c] : "?";
}

// Appends "%10.3f us" of ns / 1000.0, or blanks for a call that did not exit.
void append_duration(int64_t ns, std::string& out) {
  if (ns < 0) {
    out.append(11, ' ');
    return;
  }
  if (ns < 1000000000000) {
    // The same text without formatting a floating-point number: below 1000 s a double holds
    // the three decimals closely enough to round to them exactly.
    char digits[24];
    int n = 0;
    int64_t v = ns;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
      if (n == 3) digits[n++] = '.';
    } while (v > 0 || n < 5);  // at least "0.000"
    if (n < 10) out.append(static_cast<size_t>(10 - n), ' ');
    while (n > 0) out += digits[--n];
    out += " us";
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%10.3f us", static_cast<double>(ns) / 1000.0);
  out += buf;
}

// Iterative throughout: a call chain can be as deep as the recording (35,796 levels were seen
// in one), and recursion that deep overflows the stack.
class Renderer {
 public:
  Renderer(std::vector<Node>& nodes, int max_depth) : nodes_(nodes), max_depth_(max_depth) {}

  // Fills shape and size for the subtree at `root`, children before their parent.
  void measure(uint32_t root) {
    std::vector<std::pair<uint32_t, size_t>> stack;  // node, next child to visit
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& [i, next] = stack.back();
      Node& n = nodes_[i];
      if (next < n.children.size()) {
        uint32_t child = n.children[next++];
        stack.emplace_back(child, 0);  // invalidates i and next: not used below
        continue;
      }
      uint64_t h = std::hash<std::string_view>()(n.function) * 1099511628211ull +
                   static_cast<uint64_t>(n.context);
      int64_t size = 1;
      for (uint32_t c : n.children) {
        h = (h ^ nodes_[c].shape) * 1099511628211ull + 0x9e3779b97f4a7c15ull;
        size += nodes_[c].size;
      }
      n.shape = h;
      n.size = size;
      stack.pop_back();
    }
  }

  // Renders the children of `top` at `level`, identical siblings folded, each open subtree
  // closed by a "}" line at its own indentation.
  void render_children(const Node& top, int level, std::string& out) {
    struct Frame {
      const Node* node;
      int level;  // of the node's children
      size_t next;
    };
    std::vector<Frame> stack{{&top, level, 0}};
    while (!stack.empty()) {
      Frame& f = stack.back();
      const Node& parent = *f.node;
      if (f.next >= parent.children.size()) {
        if (stack.size() > 1) out.append("              |").append(2 * f.level, ' ') += "}\n";
        stack.pop_back();
        continue;
      }
      uint32_t c = parent.children[f.next];
      int64_t repeat = 1, total = std::max<int64_t>(nodes_[c].duration_ns, 0);
      size_t j = f.next + 1;
      while (j < parent.children.size() && nodes_[parent.children[j]].shape == nodes_[c].shape) {
        ++repeat;
        // Durations come from the file: a hostile one sums past INT64_MAX. Saturate.
        if (__builtin_add_overflow(
                total, std::max<int64_t>(nodes_[parent.children[j]].duration_ns, 0), &total))
          total = INT64_MAX;
        ++j;
      }
      f.next = j;
      int child_level = f.level;
      if (open(c, child_level, parent.context, repeat, total, out))
        stack.push_back({&nodes_[c], child_level + 1, 0});  // f is not used after this
    }
  }

 private:
  // Prints one call's line; returns whether its children follow (an open "{").
  bool open(uint32_t i, int level, int parent_context, int64_t repeat, int64_t total_ns,
            std::string& out) {
    const Node& n = nodes_[i];
    // Appended in place: a subtree of 50,000 calls is drawn here.
    append_duration(repeat > 1 ? total_ns : n.duration_ns, out);
    out += " |";
    out.append(2 + 2 * static_cast<size_t>(level), ' ');
    out += n.function;
    auto note = [&] {
      if (n.context != parent_context) out.append(" [").append(context_name(n.context)) += ']';
      if (n.flags & kCallEntryMissing) out += " [entered before the recording]";
      if (n.duration_ns < 0) out += " [no exit recorded]";
      if (repeat > 1) out.append(" [x").append(std::to_string(repeat)) += ", total time]";
      out += '\n';
    };
    if (n.children.empty()) {
      out += "();";
      note();
      return false;
    }
    if (max_depth_ >= 0 && level >= max_depth_) {
      int64_t hidden = n.size - 1;
      out.append("() { ... ").append(std::to_string(hidden)) +=
          hidden == 1 ? " call }" : " calls }";
      note();
      return false;
    }
    out += "() {";
    note();
    return true;
  }

  std::vector<Node>& nodes_;
  int max_depth_;
};

}  // namespace

namespace {

// What the rows are turned into: the session's function names (escaped) by function id, and
// its tasks' labels; a row naming a function or task the session lacks is left out.
struct RowContext {
  std::unordered_map<int64_t, std::string_view> name_of;
  std::unordered_map<int64_t, std::string> task_label;
};

// One row of the tree queries (id, parent, function, duration, context, task, flags), appended
// as a node.
void add_row(const Statement& r, const RowContext& in, std::vector<Node>& nodes) {
  Node n{};
  n.id = r.int_at(0);
  n.parent = r.int_at(1);
  auto it = in.name_of.find(r.int_at(2));
  if (it == in.name_of.end()) return;  // a damaged row: no function of this session
  n.function = it->second;
  n.duration_ns = r.int_at(3);
  n.context = static_cast<int>(r.int_at(4));
  n.task = r.int_at(5);
  if (!in.task_label.count(n.task)) return;
  n.flags = static_cast<int>(r.int_at(6));
  nodes.push_back(std::move(n));
}

// Room for `calls` nodes, up to 4 M ahead (a damaged range must not reserve gigabytes): the node
// vector grows once instead of doubling its way up (each doubling, past 128 KiB, is fresh
// pages: page faults and munmap were a fifth of a tree --root's time).
void reserve_nodes(std::vector<Node>& nodes, int64_t calls) {
  nodes.reserve(static_cast<size_t>(std::clamp<int64_t>(calls, 0, int64_t{1} << 22)));
}

// Every call of the session (of one pid): one rowid range scan, since a session's calls are one
// id range and need no session index.
Status whole_session(Database& db, int64_t session_id, std::optional<int> pid, const RowContext& in,
                     std::vector<Node>& nodes) {
  std::string sql =
      "SELECT c.id, COALESCE(c.parent_id, 0), c.function_id, COALESCE(c.duration_ns, -1), "
      "c.context, c.task_id, c.flags FROM calls c " +
      std::string(pid ? "JOIN tasks t ON t.id = c.task_id " : "") +
      "WHERE c.id BETWEEN (SELECT first_call_id FROM sessions WHERE id = ?1) AND "
      "(SELECT last_call_id FROM sessions WHERE id = ?1)" +
      (pid ? " AND t.pid = ?2" : "") + " ORDER BY c.id";
  auto st = db.prepare(sql);
  if (!st) return tl::unexpected(st.error());
  st->bind(1, session_id);
  if (pid) st->bind(2, int64_t{*pid});
  auto range = db.prepare("SELECT last_call_id - first_call_id + 1 FROM sessions WHERE id = ?");
  if (range && range->bind(1, session_id).step().value_or(false))
    reserve_nodes(nodes, range->int_at(0));
  return st->for_each_row([&](const Statement& r) { add_row(r, in, nodes); });
}

// The subtrees of every call of `root` (of one pid): the calls of the function (its link walk),
// then one rowid range scan per outermost call, since a call's subtree is its task's calls
// with ids in [id, end_id]. Before, one statement joined every call of the function with its
// range and made the ids distinct in a temporary B-tree: 13 k instructions per row.
Status subtrees(Database& db, int64_t session_id, const std::string& root, std::optional<int> pid,
                const RowContext& in, std::vector<Node>& nodes) {
  auto spans = db.prepare(
      std::string("WITH RECURSIVE ") + PROBESEEK_FUNCTION_CALLS(db, "?1", "?2") +
      " SELECT u.id, u.end_id, u.task_id FROM fcalls fc CROSS JOIN calls u ON u.id = fc.id AND "
      "u.function_id = fc.fid " +
      std::string(pid ? "JOIN tasks t ON t.id = u.task_id WHERE t.pid = ?3 " : "") +
      "ORDER BY u.id");
  if (!spans) return tl::unexpected(spans.error());
  spans->bind(1, session_id).bind(2, root);
  if (pid) spans->bind(3, int64_t{*pid});
  struct Span {
    int64_t id, end_id, task;
  };
  std::vector<Span> outer;
  std::unordered_map<int64_t, size_t> last_of_task;  // in id order, a nested call follows its
                                                     // outermost one
  auto listed = spans->for_each_row([&](const Statement& r) {
    Span s{r.int_at(0), r.int_at(1), r.int_at(2)};
    auto [it, fresh] = last_of_task.try_emplace(s.task, outer.size());
    if (!fresh) {
      const Span& o = outer[it->second];
      if (s.id >= o.id && s.end_id <= o.end_id) return;  // inside it
      it->second = outer.size();
    }
    outer.push_back(s);
  });
  if (!listed) return listed;
  auto below = db.prepare(
      "SELECT c.id, COALESCE(c.parent_id, 0), c.function_id, COALESCE(c.duration_ns, -1), "
      "c.context, c.task_id, c.flags FROM calls c WHERE c.id >= ?1 AND c.id <= ?2 AND "
      "c.task_id = ?3");
  if (!below) return tl::unexpected(below.error());
  int64_t at_most = 0;
  for (const Span& s : outer)
    at_most += std::clamp<int64_t>(s.end_id - s.id + 1, 0, int64_t{1} << 22);
  reserve_nodes(nodes, at_most);
  for (const Span& s : outer) {
    below->reset();
    below->bind(1, s.id).bind(2, s.end_id).bind(3, s.task);
    auto done = below->for_each_row([&](const Statement& r) { add_row(r, in, nodes); });
    if (!done) return done;
  }
  // Ranges of different tasks interleave, and damaged ones may overlap: id order, each once.
  auto by_id = [](const Node& a, const Node& b) { return a.id < b.id; };
  if (std::is_sorted(nodes.begin(), nodes.end(), by_id)) return {};  // the common case
  std::sort(nodes.begin(), nodes.end(), by_id);
  nodes.erase(std::unique(nodes.begin(), nodes.end(),
                          [](const Node& a, const Node& b) { return a.id == b.id; }),
              nodes.end());
  return {};
}

}  // namespace

Result<std::string> Store::tree(int64_t session_id, const TreeOptions& options) {
  // The session's function names and task labels; rows naming neither are left out, as the
  // joins of the single statement this replaced left them out. Both come from the file: escaped
  // here, once per name, so that the text is printable as a whole (passing the 1.5 MB of a
  // 47,000-call tree through printable() cost 7 % of tree --root).
  std::vector<std::string> names;  // kept: the nodes' names are views of them
  RowContext in;
  auto functions = db_.prepare("SELECT id, name FROM functions WHERE session_id = ?");
  if (!functions) return tl::unexpected(functions.error());
  functions->bind(1, session_id);
  std::vector<int64_t> ids;
  auto listed = functions->for_each_row([&](const Statement& r) {
    ids.push_back(r.int_at(0));
    names.push_back(printable(r.text_at(1)));
  });
  if (!listed) return tl::unexpected(listed.error());
  for (size_t i = 0; i < ids.size(); ++i) in.name_of.emplace(ids[i], names[i]);
  auto tasks = db_.prepare("SELECT id, pid, comm FROM tasks WHERE session_id = ?");
  if (!tasks) return tl::unexpected(tasks.error());
  tasks->bind(1, session_id);
  listed = tasks->for_each_row([&](const Statement& r) {
    in.task_label[r.int_at(0)] = printable(r.text_at(2)) + "-" + std::to_string(r.int_at(1));
  });
  if (!listed) return tl::unexpected(listed.error());
  std::unordered_map<int64_t, std::string>& task_label = in.task_label;

  // In id order, each id once: a parent is found by binary search (a hash map of the ids cost
  // an allocation per call, 12 % of a tree --root of 47,000 calls).
  std::vector<Node> nodes;
  auto read = options.root.empty()
                  ? whole_session(db_, session_id, options.pid, in, nodes)
                  : subtrees(db_, session_id, options.root, options.pid, in, nodes);
  if (!read) return tl::unexpected(read.error());
  auto index_of = [&nodes](int64_t id) -> std::optional<uint32_t> {
    auto it = std::lower_bound(nodes.begin(), nodes.end(), id,
                               [](const Node& n, int64_t v) { return n.id < v; });
    if (it == nodes.end() || it->id != id) return std::nullopt;
    return static_cast<uint32_t>(it - nodes.begin());
  };
  if (nodes.empty()) {
    if (!options.root.empty())
      return bad_input("function '" + options.root + "' does not appear in this session" +
                           (options.pid ? " for pid " + std::to_string(*options.pid) : ""),
                       db_.path(), "list what was recorded with: probeseek functions");
    return bad_input("no calls" + (options.pid ? " for pid " + std::to_string(*options.pid) : ""),
                     db_.path());
  }
  // Roots: calls whose parent is not in the selection (the root function's calls, or calls
  // with no recorded parent). A synthesized parent has a larger id than its children, so
  // children lists are filled after all rows are known and sorted by id.
  std::vector<uint32_t> roots;
  for (uint32_t i = 0; i < nodes.size(); ++i) {
    auto parent = nodes[i].parent ? index_of(nodes[i].parent) : std::nullopt;
    if (!parent)
      roots.push_back(i);
    else
      nodes[*parent].children.push_back(i);
  }
  Renderer r(nodes, options.max_depth);
  std::string out;
  out.reserve(std::min<size_t>(nodes.size(), size_t{1} << 22) * 48);  // about a line a call
  int64_t last_task = -1;
  std::vector<uint32_t> ordered = roots;
  std::stable_sort(ordered.begin(), ordered.end(), [&](uint32_t a, uint32_t b) {
    return nodes[a].task != nodes[b].task ? nodes[a].task < nodes[b].task : a < b;
  });
  for (uint32_t root : ordered) r.measure(root);
  Node group{};
  for (size_t k = 0; k < ordered.size();) {
    int64_t task = nodes[ordered[k]].task;
    if (task != last_task) {
      out += "# " + task_label[task] + "\n";
      last_task = task;
    }
    group.children.clear();
    group.context = 0;
    while (k < ordered.size() && nodes[ordered[k]].task == task)
      group.children.push_back(ordered[k++]);
    r.render_children(group, 0, out);
  }
  return out;
}

}  // namespace probeseek
