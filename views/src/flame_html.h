// The report's views of a call profile (call_profile.h): an inline SVG flame graph with a small
// script to zoom and search it, and the calling-context tree as nested <details>, which opens
// and closes with no script at all. Pieces of one HTML page (UTF-8, <meta charset="utf-8">):
// nothing here loads anything from the network, and every name from the database goes through
// html_escape, so a kernel, module or task name can neither break the page nor add markup.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "probeseek/call_profile.h"

namespace probeseek {

// Text safe in an element and in a quoted attribute value: & < > " ' as entities; control
// characters and bytes that are not valid UTF-8 shown as \xNN, a backslash doubled (as the
// terminal views show them, text.h printable()); valid UTF-8 passes through.
std::string html_escape(std::string_view s);

// A name as the views show it: html_escape'd, cut to about 200 characters with "…" (a name
// from a damaged database can be megabytes long).
std::string html_name(std::string_view name);

// 3 significant digits in ns, µs, ms or s: "950 ns", "1.23 µs", "45.6 ms", "2.00 s".
std::string format_duration(int64_t ns);

enum class FlameWeight {
  kTotalTime,  // a frame is as wide as the time spent in its calls (total_ns)
  kCalls,      // a frame is as wide as the calls at and below it
};

struct FlameOptions {
  // The <svg> element's id (the report has one flame graph per session): letters, digits, '-'
  // and '_' are kept, anything else becomes '_'.
  std::string id = "flame";
  FlameWeight weight = FlameWeight::kTotalTime;
  std::string root_name = "all";  // the label of the bottom frame (the profile's root)
  double width_px = 1200;         // the viewBox's width; the SVG scales to its container
  // Frames narrower than this (with all above them) are left out; the SVG counts them.
  double min_width_px = 0.5;
};

// The flame graph as one inline <svg class="flame">: root at the bottom as in FlameGraph (a
// callee above its caller), siblings in name order (so two sessions' graphs line up). Each
// frame is a <g class="frame" data-x data-w data-d data-n> (x and width in viewBox units, depth,
// name) holding a <title> tooltip ("tcp_sendmsg — 12 calls, 1.23 ms total (45.6%), 100 µs self";
// nodes without calls of their own, the root and interrupt markers, give the calls below them),
// a <rect> coloured from a hash of its name (warm hues; interrupt and exception markers blue,
// [deeper] and [more] grey) and, when wide enough, a <text> label cut to fit. A line of text
// above the frames gives the total and how many nodes were left out (also data-hidden on the
// <svg>). Static without script; flame_graph_script() adds zoom and search.
std::string flame_graph_svg(const CallProfile& p, const FlameOptions& o);

// One <script> block, included once per page after the flame graphs: for every svg.flame, a
// bar before it with "Reset zoom", a search box (a regular expression, or a substring when it
// is not one; the root frame never matches) and "matched: N% of total" (the drawn frames). Click a
// frame to zoom to it (its ancestors stay, dimmed, at full width); Escape in the search box clears
// it, a second Escape resets the zoom. Frames left out by min_width_px stay left out when zoomed.
std::string flame_graph_script();

struct TreeOptions {
  std::string id = "calltree";  // the outer <div>'s id, made safe as FlameOptions::id
  uint32_t open_depth = 3;      // levels open by default (1: only the top level)
  size_t max_children = 25;     // children shown per node, the largest; the rest summarised
  size_t max_nodes = 3000;      // nodes shown in all: the largest by total time
  // Deeper levels are summarised: browsers flatten markup nested past ~512 elements.
  uint32_t max_depth = 160;
};

// The calling-context tree as nested <details open><summary> in a <div class="calltree">, the
// top level being the root's children: one line per node (as the flame graph's tooltips, after
// a bar of its share of the root's time), children by total time, largest first; the children
// not shown in one line ("… 17 more functions, 312 µs").
std::string call_tree_html(const CallProfile& p, const TreeOptions& o);

// The CSS both views use (a <style> element; include it once in <head>). Without it the SVG
// keeps its colours and labels, and the tree its text, but loses its indentation and bars.
std::string flame_tree_css();

}  // namespace probeseek
