// The flame graph and the call tree of the report (flame_html.h). Both read the profile through
// one walk from the root over the children lists, so a profile built by hand (the tests' hostile
// one) or a cycle in it cannot make them loop; widths and percentages come from that walk.
#include "flame_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <queue>
#include <span>
#include <unordered_map>
#include <vector>

#include "probeseek/saturating.h"
#include "probeseek/text.h"

namespace probeseek {

namespace {

constexpr size_t kMaxNameChars = 200;
// Flame graph geometry, in viewBox units: rows of 16 (a 15-high rect), labels in an 11-unit
// monospace font whose characters are at most 7 wide (the script cuts labels the same way).
constexpr int kRow = 16;
constexpr int kTop = 22;  // the line of text above the frames
constexpr int kCharWidth = 7;

std::string escape_markup(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool utf8_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

// Characters (code points) in text that printable() made valid UTF-8.
size_t chars_in(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += !utf8_continuation(c);
  return n;
}

// The first `chars` characters of valid UTF-8 text.
std::string_view first_chars(std::string_view s, size_t chars) {
  size_t i = 0;
  for (size_t n = 0; i < s.size(); ++i) {
    if (!utf8_continuation(s[i]) && n++ == chars) break;
  }
  return s.substr(0, i);
}

// A name as shown, before markup escaping: printable, at most kMaxNameChars characters.
std::string shown(std::string_view raw) {
  std::string s = printable(raw);
  if (chars_in(s) > kMaxNameChars) s = std::string(first_chars(s, kMaxNameChars - 1)) + "…";
  return s;
}

// Letters, digits, '-' and '_' (an id the page's script and CSS can use as it is).
std::string safe_id(std::string_view id) {
  std::string out;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    out += ok ? c : '_';
  }
  return out.empty() ? "_" : out;
}

std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -(v + 1) + 1ull : static_cast<uint64_t>(v));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

// A share as HTML text: "45.6%", "&lt;0.1%".
std::string percent(double share) {
  if (!(share > 0)) return "0%";
  if (share < 0.0005) return "&lt;0.1%";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", std::min(share, 1.0) * 100.0);
  return buf;
}

double share_of(int64_t part, int64_t whole) {
  return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

// Hundredths of a viewBox unit as compact decimal text: 12345 -> "123.45", 1230 -> "12.3".
void append_hundredths(std::string& out, int64_t h) {
  out += std::to_string(h / 100);
  int frac = static_cast<int>(h % 100);
  if (frac == 0) return;
  out += '.';
  out += static_cast<char>('0' + frac / 10);
  if (frac % 10) out += static_cast<char>('0' + frac % 10);
}

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

std::string_view name_of(const CallProfile& p, uint32_t node) {
  uint32_t name = p.nodes[node].name;
  return name < p.names.size() ? std::string_view(p.names[name]) : std::string_view("[unknown]");
}

bool is_marker(const CallProfile& p, uint32_t node) {
  uint32_t name = p.nodes[node].name;
  return name < p.context_marker.size() && p.context_marker[name];
}

bool is_cap(const CallProfile& p, uint32_t node) {
  std::string_view n = name_of(p, node);
  return is_marker(p, node) && (n == "[deeper]" || n == "[more]");
}

// Warm hues from the name's hash, as FlameGraph's "hot" palette; work in another context
// (interrupts, exceptions) in blues, the capped nodes ([deeper], [more]) grey.
std::string colour(const CallProfile& p, uint32_t node, std::string_view name) {
  uint32_t h = fnv1a(name);
  int r, g, b;
  if (is_cap(p, node)) {
    r = g = b = 176;
  } else if (node != 0 && is_marker(p, node)) {
    r = 90 + static_cast<int>(h % 40);
    g = 150 + static_cast<int>((h >> 8) % 40);
    b = 225 + static_cast<int>((h >> 16) % 30);
  } else {
    r = 205 + static_cast<int>(h % 50);
    g = static_cast<int>((h >> 8) % 230);
    b = static_cast<int>((h >> 16) % 55);
  }
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, b);
  return buf;
}

// The profile walked from the root over the children lists: each node reached once, through
// the parent it names (a child listed twice, under another node or in a cycle is left out),
// so the views cannot loop or draw a node twice whatever the profile holds.
struct Walk {
  std::vector<uint32_t> order;        // preorder
  std::vector<uint32_t> depth;        // 0 for the root
  std::vector<int64_t> calls_below;   // calls at and below the node (saturating)
  std::vector<uint32_t> nodes_below;  // the node and its descendants
  std::vector<uint32_t> kids;         // the children reached, per node [kid_begin, kid_end)
  std::vector<uint32_t> kid_begin, kid_end;
  std::span<const uint32_t> children(uint32_t i) const {
    return std::span<const uint32_t>(kids).subspan(kid_begin[i], kid_end[i] - kid_begin[i]);
  }
};

Walk walk(const CallProfile& p) {
  Walk w;
  const size_t n = p.nodes.size();
  w.depth.assign(n, 0);
  w.calls_below.assign(n, 0);
  w.nodes_below.assign(n, 1);
  w.kid_begin.assign(n, 0);
  w.kid_end.assign(n, 0);
  if (n == 0) return w;
  std::vector<bool> seen(n, false);
  std::vector<uint32_t> stack = {0};
  seen[0] = true;
  while (!stack.empty()) {
    uint32_t i = stack.back();
    stack.pop_back();
    w.order.push_back(i);
    w.kid_begin[i] = static_cast<uint32_t>(w.kids.size());
    for (uint32_t c : p.nodes[i].children) {
      if (c >= n || seen[c] || p.nodes[c].parent != i) continue;
      seen[c] = true;
      w.depth[c] = w.depth[i] + 1;
      w.kids.push_back(c);
    }
    w.kid_end[i] = static_cast<uint32_t>(w.kids.size());
    for (uint32_t k = w.kid_end[i]; k-- > w.kid_begin[i];) stack.push_back(w.kids[k]);
  }
  for (auto it = w.order.rbegin(); it != w.order.rend(); ++it) {
    uint32_t i = *it;
    add_to(w.calls_below[i], std::max<int64_t>(p.nodes[i].calls, 0));
    if (i == 0) continue;
    add_to(w.calls_below[p.nodes[i].parent], w.calls_below[i]);
    w.nodes_below[p.nodes[i].parent] += w.nodes_below[i];
  }
  return w;
}

int64_t total_of(const CallProfile& p, uint32_t node) {
  return std::max<int64_t>(p.nodes[node].total_ns, 0);
}

// "name — 12 calls, 1.23 ms total (45.6%), 100 µs self", HTML-escaped. Nodes without calls of
// their own (the root, interrupt markers) give the calls below them instead. `share` is the
// node's share of the graph's weight, written after the figure it is a share of.
std::string describe(const CallProfile& p, const Walk& w, uint32_t node, std::string_view name,
                     double share, bool share_of_calls) {
  const ProfileNode& n = p.nodes[node];
  std::string line = escape_markup(shown(name)) + " — ";
  bool own = n.calls > 0;
  int64_t calls = own ? n.calls : w.calls_below[node];
  line += with_commas(calls) + (calls == 1 ? " call" : " calls") + (own ? "" : " below");
  if (share_of_calls) line += " (" + percent(share) + ")";
  line += ", " + format_duration(total_of(p, node)) + " total";
  if (!share_of_calls) line += " (" + percent(share) + ")";
  if (own) line += ", " + format_duration(std::max<int64_t>(n.self_ns, 0)) + " self";
  return line;
}

}  // namespace

std::string html_escape(std::string_view s) {
  return escape_markup(printable(s));
}

std::string html_name(std::string_view name) {
  return escape_markup(shown(name));
}

std::string format_duration(int64_t ns) {
  if (ns <= 0) return "0 ns";
  if (ns < 1000) return std::to_string(ns) + " ns";
  static constexpr const char* kUnits[] = {"µs", "ms", "s"};
  double v = static_cast<double>(ns) / 1000.0;
  size_t u = 0;
  while (u < 2 && v >= 999.5) {
    v /= 1000.0;
    ++u;
  }
  int decimals = v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f %s", decimals, v, kUnits[u]);
  return buf;
}

std::string flame_graph_svg(const CallProfile& p, const FlameOptions& o) {
  const size_t n = p.nodes.size();
  const Walk w = walk(p);
  const bool by_calls = o.weight == FlameWeight::kCalls;
  auto weight = [&](uint32_t i) { return by_calls ? w.calls_below[i] : total_of(p, i); };
  const double width = std::clamp(o.width_px, 10.0, 100000.0);
  const int64_t min_h = std::max<int64_t>(1, std::llround(std::max(o.min_width_px, 0.0) * 100));
  const int64_t root_weight = n ? weight(0) : 0;
  const double px = root_weight > 0 ? width * 100.0 / static_cast<double>(root_weight) : 0.0;

  // Positions in weight units, then hundredths of a viewBox unit; a child is kept inside its
  // parent (children whose sum is more than their parent, possible only in a damaged profile,
  // are scaled down).
  struct Placed {
    uint32_t node;
    int64_t x0, x1;  // hundredths
    uint32_t depth;
  };
  std::vector<Placed> frames;
  std::vector<double> pos(n, 0.0);
  std::vector<int64_t> x0(n, 0), x1(n, 0);
  std::vector<bool> drawn(n, false);
  int64_t hidden_frames = 0, hidden_weight = 0;
  uint32_t max_depth = 0;
  if (root_weight > 0) {
    x1[0] = std::llround(width * 100);
    drawn[0] = true;
  }
  std::vector<uint32_t> sorted;
  for (uint32_t i : w.order) {
    if (!drawn[i]) continue;
    frames.push_back({i, x0[i], x1[i], w.depth[i]});
    max_depth = std::max(max_depth, w.depth[i]);
    sorted.clear();
    double sum = 0;
    for (uint32_t c : w.children(i)) {
      sorted.push_back(c);
      sum += static_cast<double>(weight(c));
    }
    std::sort(sorted.begin(), sorted.end(),
              [&](uint32_t a, uint32_t b) { return name_of(p, a) < name_of(p, b); });
    const double mine = static_cast<double>(weight(i));
    const double scale = sum > mine && sum > 0 ? mine / sum : 1.0;
    double at = pos[i];
    for (uint32_t c : sorted) {
      const double cw = static_cast<double>(weight(c)) * scale;
      pos[c] = at;
      x0[c] = std::clamp<int64_t>(std::llround(at * px), x0[i], x1[i]);
      x1[c] = std::clamp<int64_t>(std::llround((at + cw) * px), x0[c], x1[i]);
      at += cw;
      if (x1[c] - x0[c] >= min_h) {
        drawn[c] = true;
      } else {
        hidden_frames += w.nodes_below[c];
        add_to(hidden_weight, weight(c));
      }
    }
  }

  const int rows = frames.empty() ? 0 : static_cast<int>(max_depth) + 1;
  const int height = kTop + rows * kRow + 2;
  std::string width_text;
  append_hundredths(width_text, std::llround(width * 100));
  const std::string what = by_calls ? "calls" : "time";
  char min_text[32];
  std::snprintf(min_text, sizeof min_text, "%g", o.min_width_px);

  std::string out;
  out.reserve(frames.size() * 260 + 1024);
  out += "<svg class=\"flame\" id=\"" + safe_id(o.id) +
         "\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + width_text + " " +
         std::to_string(height) + "\" width=\"100%\" font-family=\"monospace\" font-size=\"11\"" +
         " data-width=\"" + width_text + "\" data-hidden=\"" + std::to_string(hidden_frames) +
         "\" role=\"img\" aria-label=\"Flame graph\">";
  // The line above the frames: what the widths are and what was left out.
  out += "<text class=\"flame-note\" x=\"4\" y=\"15\">";
  if (frames.empty()) {
    out += "No calls to show.";
  } else {
    out += "Width: " + what + " (" +
           (by_calls ? with_commas(root_weight) + " calls"
                     : format_duration(root_weight) + " in " + with_commas(w.calls_below[0]) +
                           " calls") +
           ").";
    if (hidden_frames > 0)
      out += " " + with_commas(hidden_frames) + (hidden_frames == 1 ? " frame" : " frames") +
             " narrower than " + min_text + " px not drawn (" +
             percent(share_of(hidden_weight, root_weight)) + " of the " + what + ").";
  }
  out += "</text>";

  for (const Placed& f : frames) {
    const std::string name = f.node == 0 ? o.root_name : std::string(name_of(p, f.node));
    const std::string shown_name = shown(name);
    const std::string escaped = escape_markup(shown_name);
    const int y = kTop + (rows - 1 - static_cast<int>(f.depth)) * kRow;
    std::string x, fw;
    append_hundredths(x, f.x0);
    append_hundredths(fw, f.x1 - f.x0);
    out += "<g class=\"frame\" data-x=\"" + x + "\" data-w=\"" + fw + "\" data-d=\"" +
           std::to_string(f.depth) + "\" data-n=\"" + escaped + "\"><title>" +
           describe(p, w, f.node, name, share_of(weight(f.node), root_weight), by_calls) +
           "</title><rect x=\"" + x + "\" y=\"" + std::to_string(y) + "\" width=\"" + fw +
           "\" height=\"15\" fill=\"" + colour(p, f.node, name) + "\"/>";
    // The label: as many characters as fit, ".." when cut; none under 3 characters.
    const int64_t fit = ((f.x1 - f.x0) / 100 - 6) / kCharWidth;
    if (fit >= 3) {
      const size_t chars = chars_in(shown_name);
      std::string label =
          chars <= static_cast<size_t>(fit)
              ? escaped
              : escape_markup(first_chars(shown_name, static_cast<size_t>(fit) - 2)) + "..";
      std::string tx;
      append_hundredths(tx, f.x0 + 300);
      out += "<text x=\"" + tx + "\" y=\"" + std::to_string(y + 11) + "\">" + label + "</text>";
    }
    out += "</g>";
  }
  out += "</svg>";
  return out;
}

std::string flame_graph_script() {
  // Vanilla JS, no external anything. Frames keep their first geometry in data-x/data-w, so
  // zoom and reset are the same function: zoom(root) lays every frame out as written.
  return R"(<script>
(function () {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg', CW = 7;
  function label(name, w) {
    var n = Math.floor((Math.floor(w) - 6) / CW), c = Array.from(name);
    if (n < 3) return '';
    return c.length <= n ? name : c.slice(0, n - 2).join('') + '..';
  }
  function setup(svg) {
    var W = +svg.getAttribute('data-width'), root = null, byG = new Map();
    var frames = Array.prototype.map.call(svg.querySelectorAll('g.frame'), function (g) {
      var f = {g: g, r: g.querySelector('rect'), t: g.querySelector('text'),
               x: +g.dataset.x, w: +g.dataset.w, d: +g.dataset.d, n: g.dataset.n || ''};
      if (f.d === 0) root = f;
      byG.set(g, f);
      return f;
    });
    if (!root) return;
    var bar = document.createElement('div'), reset = document.createElement('button');
    var input = document.createElement('input'), status = document.createElement('span');
    bar.className = 'flame-controls';
    reset.type = 'button';
    reset.textContent = 'Reset zoom';
    input.type = 'search';
    input.placeholder = 'search: regex or text';
    input.setAttribute('aria-label', 'Search the flame graph');
    status.className = 'flame-matched';
    bar.append(reset, input, status);
    svg.parentNode.insertBefore(bar, svg);

    function place(f, x, w) {
      f.r.setAttribute('x', x);
      f.r.setAttribute('width', w);
      var s = label(f.n, w);
      if (s && !f.t) {
        f.t = document.createElementNS(NS, 'text');
        f.t.setAttribute('y', +f.r.getAttribute('y') + 11);
        f.g.appendChild(f.t);
      }
      if (f.t) {
        f.t.setAttribute('x', x + 3);
        f.t.textContent = s;
      }
    }
    function zoom(z) {
      var e = 0.001, k = W / z.w;
      frames.forEach(function (f) {
        var inside = f.d >= z.d && f.x >= z.x - e && f.x + f.w <= z.x + z.w + e;
        var above = f.d < z.d && f.x <= z.x + e && f.x + f.w >= z.x + z.w - e;
        f.g.style.display = inside || above ? '' : 'none';
        f.g.style.opacity = above ? '0.5' : '';
        if (inside) place(f, (f.x - z.x) * k, f.w * k);
        else if (above) place(f, 0, W);
      });
      reset.disabled = z === root;
    }
    function search(q) {
      var re = null, hits = [];
      if (q) try { re = new RegExp(q); } catch (err) { re = null; }
      frames.forEach(function (f) {
        var m = !!q && f !== root && (re ? re.test(f.n) : f.n.indexOf(q) >= 0);
        f.r.style.fill = m ? '#e040e0' : '';
        f.g.classList.toggle('match', m);
        if (m) hits.push(f);
      });
      // Frames nest: the union of the matched ranges counts a match inside another once.
      hits.sort(function (a, b) { return a.x - b.x || a.d - b.d; });
      var sum = 0, end = -1;
      hits.forEach(function (f) {
        var e = f.x + f.w;
        if (e > end) { sum += e - Math.max(f.x, end); end = e; }
      });
      status.textContent = q ? 'matched: ' + (100 * sum / W).toFixed(1) + '% of total' : '';
    }
    svg.addEventListener('click', function (ev) {
      var g = ev.target.closest && ev.target.closest('g.frame');
      if (g && byG.has(g)) zoom(byG.get(g));
    });
    reset.addEventListener('click', function () { zoom(root); });
    input.addEventListener('input', function () { search(input.value); });
    input.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Escape') return;
      if (input.value) { input.value = ''; search(''); } else zoom(root);
    });
    zoom(root);
    svg.setAttribute('data-ready', '');  // for tests: the controls are in place
  }
  Array.prototype.forEach.call(document.querySelectorAll('svg.flame'), setup);
})();
</script>
)";
}

std::string call_tree_html(const CallProfile& p, const TreeOptions& o) {
  const size_t n = p.nodes.size();
  std::string out = "<div class=\"calltree\" id=\"" + safe_id(o.id) + "\">";
  if (n == 0) return out + "<p>No calls to show.</p></div>";
  const Walk w = walk(p);
  const int64_t root_total = total_of(p, 0);

  // The largest nodes first, each reachable only through its shown parent: a node's total
  // is at most its parent's, so this keeps the max_nodes largest paths, as one tree.
  std::unordered_map<uint32_t, std::vector<uint32_t>> shown_children;
  std::vector<bool> shown_node(n, false);
  auto by_total = [&](uint32_t a, uint32_t b) {
    int64_t ta = total_of(p, a), tb = total_of(p, b);
    if (ta != tb) return ta > tb;
    return name_of(p, a) != name_of(p, b) ? name_of(p, a) < name_of(p, b) : a < b;
  };
  auto queue_cmp = [&](uint32_t a, uint32_t b) { return by_total(b, a); };
  std::priority_queue<uint32_t, std::vector<uint32_t>, decltype(queue_cmp)> queue(queue_cmp);
  auto expand = [&](uint32_t i) {
    if (w.depth[i] >= o.max_depth) return;
    std::vector<uint32_t> kids(w.children(i).begin(), w.children(i).end());
    std::sort(kids.begin(), kids.end(), by_total);
    if (kids.size() > o.max_children) kids.resize(o.max_children);
    for (uint32_t c : kids) queue.push(c);
  };
  shown_node[0] = true;
  expand(0);
  size_t count = 0;
  while (!queue.empty() && count < o.max_nodes) {
    uint32_t i = queue.top();
    queue.pop();
    if (shown_node[i]) continue;
    shown_node[i] = true;
    shown_children[p.nodes[i].parent].push_back(i);
    ++count;
    expand(i);
  }
  for (auto& [parent, kids] : shown_children) std::sort(kids.begin(), kids.end(), by_total);

  out += "<p class=\"calltree-head\">" + format_duration(root_total) + " in " +
         with_commas(w.calls_below[0]) + " calls; " + with_commas(static_cast<int64_t>(count)) +
         " of " + with_commas(static_cast<int64_t>(w.order.size() - 1)) +
         " call paths shown, the largest by total time.</p>";

  // The children of `i` that are not shown, in one line.
  auto more_line = [&](uint32_t i, size_t shown_count) {
    const size_t kids = w.children(i).size();
    int64_t rest = 0;
    for (uint32_t c : w.children(i))
      if (!shown_node[c]) add_to(rest, total_of(p, c));
    if (kids <= shown_count) return std::string();
    size_t more = kids - shown_count;
    return "<div class=\"more\">… " + with_commas(static_cast<int64_t>(more)) +
           (more == 1 ? " more function, " : " more functions, ") + format_duration(rest) +
           "</div>";
  };
  static const std::vector<uint32_t> kNone;
  auto children_of = [&](uint32_t i) -> const std::vector<uint32_t>& {
    auto it = shown_children.find(i);
    return it == shown_children.end() ? kNone : it->second;
  };
  // Depth-first with an explicit stack (depth is bounded by max_depth, the stack by the tree).
  struct Step {
    uint32_t node;
    size_t next;  // index into its shown children
  };
  std::vector<Step> stack;
  auto open_node = [&](uint32_t i) {
    const double share = share_of(total_of(p, i), root_total);
    char bar[48];  // the share as a bar: flame_tree_css() draws it from --w
    std::snprintf(bar, sizeof bar, "<i style=\"--w:%.1f%%\"></i>", std::min(share, 1.0) * 100.0);
    std::string line = bar + describe(p, w, i, name_of(p, i), share, false);
    std::string more = more_line(i, children_of(i).size());
    if (children_of(i).empty() && more.empty()) {
      out += "<div class=\"leaf\">" + line + "</div>";
      return;
    }
    out += w.depth[i] <= o.open_depth ? "<details open><summary>" : "<details><summary>";
    out += line + "</summary>";
    stack.push_back({i, 0});
  };
  for (uint32_t top : children_of(0)) {
    open_node(top);
    while (!stack.empty()) {
      Step& s = stack.back();
      const auto& kids = children_of(s.node);
      if (s.next < kids.size()) {
        open_node(kids[s.next++]);
        continue;
      }
      out += more_line(s.node, kids.size()) + "</details>";
      stack.pop_back();
    }
  }
  out += more_line(0, children_of(0).size());
  out += "</div>";
  return out;
}

std::string flame_tree_css() {
  return R"(<style>
svg.flame{display:block;max-width:100%;background:#fff}
svg.flame g.frame{cursor:pointer}
svg.flame g.frame:hover rect{stroke:#222;stroke-width:.5}
svg.flame text{pointer-events:none}
.flame-controls{margin:.4em 0;font:13px sans-serif}
.flame-controls input{width:18em;margin:0 .6em}
.calltree{font:13px/1.55 monospace}
.calltree details details,.calltree details>.leaf,.calltree details>.more{margin-left:1.3em}
.calltree .leaf,.calltree .more{padding-left:1.1em}
.calltree .more{color:#666;font-style:italic}
.calltree summary{cursor:pointer}
.calltree summary>i,.calltree .leaf>i{display:inline-block;width:5em;height:.65em;margin-right:.6em;vertical-align:middle;background:linear-gradient(90deg,#e8743b var(--w),#eee 0)}
</style>
)";
}

}  // namespace probeseek
