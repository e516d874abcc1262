// Renders call trees the way function_graph prints them, with two additions a reader of a
// 300k-line trace needs: identical sibling subtrees folded into one with a count, and the
// context (hardirq, softirq, exception) marked where it changes.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "probeseek/db.h"

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

std::string format_duration(int64_t ns) {
  char buf[32];
  if (ns < 0) return "           ";
  std::snprintf(buf, sizeof buf, "%10.3f us", static_cast<double>(ns) / 1000.0);
  return buf;
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
        if (stack.size() > 1) out += "              |" + std::string(2 * f.level, ' ') + "}\n";
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
    std::string line = format_duration(repeat > 1 ? total_ns : n.duration_ns) + " |" +
                       std::string(2 + 2 * static_cast<size_t>(level), ' ');
    line += n.function;
    std::string note;
    if (n.context != parent_context) note += std::string(" [") + context_name(n.context) + "]";
    if (n.flags & kCallEntryMissing) note += " [entered before the recording]";
    if (n.duration_ns < 0) note += " [no exit recorded]";
    if (repeat > 1) note += " [x" + std::to_string(repeat) + ", total time]";
    if (n.children.empty()) {
      out += line + "();" + note + "\n";
      return false;
    }
    if (max_depth_ >= 0 && level >= max_depth_) {
      int64_t hidden = n.size - 1;
      out += line + "() { ... " + std::to_string(hidden) + (hidden == 1 ? " call }" : " calls }") +
             note + "\n";
      return false;
    }
    out += line + "() {" + note + "\n";
    return true;
  }

  std::vector<Node>& nodes_;
  int max_depth_;
};

}  // namespace

Result<std::string> Store::tree(int64_t session_id, const TreeOptions& options) {
  // A session's calls are one id range: a rowid range scan needs no session index.
  std::string where =
      "c.id BETWEEN (SELECT first_call_id FROM sessions WHERE id = ?1) AND "
      "(SELECT last_call_id FROM sessions WHERE id = ?1)";
  if (options.pid) where += " AND t.pid = ?3";
  std::string sql;
  if (options.root.empty()) {
    sql =
        "SELECT c.id, COALESCE(c.parent_id, 0), f.name, COALESCE(c.duration_ns, -1), c.context, "
        "c.task_id, c.flags, t.pid, t.comm FROM calls c JOIN functions f ON f.id = c.function_id "
        "JOIN tasks t ON t.id = c.task_id WHERE " +
        where + " ORDER BY c.id";
  } else {
    sql =
        "WITH sub(id) AS ("
        "  SELECT DISTINCT c.id FROM functions f JOIN calls u ON u.function_id = f.id "
        "  JOIN tasks t ON t.id = u.task_id "
        "  JOIN calls c ON c.id >= u.id AND c.id <= u.end_id AND c.task_id = u.task_id "
        "  WHERE f.session_id = ?1 AND f.name = ?2" +
        std::string(options.pid ? " AND t.pid = ?3" : "") +
        ") "
        "SELECT c.id, COALESCE(c.parent_id, 0), f.name, COALESCE(c.duration_ns, -1), c.context, "
        "c.task_id, c.flags, t.pid, t.comm FROM sub JOIN calls c ON c.id = sub.id "
        "JOIN functions f ON f.id = c.function_id JOIN tasks t ON t.id = c.task_id ORDER BY c.id";
  }
  auto st = db_.prepare(sql);
  if (!st) return tl::unexpected(st.error());
  st->bind(1, session_id);
  if (!options.root.empty()) st->bind(2, options.root);
  if (options.pid) st->bind(3, int64_t{*options.pid});

  std::vector<Node> nodes;
  std::vector<std::string> names;  // interned function names; nodes view into them
  std::unordered_map<std::string, size_t> name_index;
  std::unordered_map<int64_t, uint32_t> index_of;
  std::unordered_map<int64_t, std::string> task_label;
  std::vector<size_t> name_of;
  for (;;) {
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    Node n{};
    n.id = st->int_at(0);
    n.parent = st->int_at(1);
    std::string name = st->text_at(2);
    auto [it, inserted] = name_index.emplace(name, names.size());
    if (inserted) names.push_back(name);
    name_of.push_back(it->second);
    n.duration_ns = st->int_at(3);
    n.context = static_cast<int>(st->int_at(4));
    n.task = st->int_at(5);
    n.flags = static_cast<int>(st->int_at(6));
    if (!task_label.count(n.task))
      task_label[n.task] = st->text_at(8) + "-" + std::to_string(st->int_at(7));
    index_of[n.id] = static_cast<uint32_t>(nodes.size());
    nodes.push_back(std::move(n));
  }
  if (nodes.empty()) {
    if (!options.root.empty())
      return bad_input("function '" + options.root + "' does not appear in this session" +
                           (options.pid ? " for pid " + std::to_string(*options.pid) : ""),
                       db_.path(), "list what was recorded with: probeseek functions");
    return bad_input("no calls" + (options.pid ? " for pid " + std::to_string(*options.pid) : ""),
                     db_.path());
  }
  for (size_t i = 0; i < nodes.size(); ++i) nodes[i].function = names[name_of[i]];
  // Roots: calls whose parent is not in the selection (the root function's calls, or calls
  // with no recorded parent). A synthesized parent has a larger id than its children, so
  // children lists are filled after all rows are known and sorted by id.
  std::vector<uint32_t> roots;
  for (uint32_t i = 0; i < nodes.size(); ++i) {
    auto it = nodes[i].parent ? index_of.find(nodes[i].parent) : index_of.end();
    if (it == index_of.end())
      roots.push_back(i);
    else
      nodes[it->second].children.push_back(i);
  }
  Renderer r(nodes, options.max_depth);
  std::string out;
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
