#!/usr/bin/env python3
"""Issue 14: `probeseek report` in a real browser. Debian's chromium (headless, driven over the
DevTools protocol: tests/browser/cdp.py) loads the report of the real curl_v4 and stream
recordings from disk, once with JavaScript disabled and once with it, and checks the DOM: the
ranking, explain, the call trees and the flame graphs are there and laid out; without scripts
the page still reads; with them, clicking a frame zooms and the search box highlights. It keeps
screenshots as test artifacts. Exit 77 (skipped) when chromium is not installed."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probeseek", required=True)
    ap.add_argument("--data", required=True, help="tests/data/linux-6.1.0-56-cloud-amd64")
    ap.add_argument("--artifacts", required=True, help="where the report and screenshots go")
    args = ap.parse_args()

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("SKIP: chromium is not installed (scripts/install-deps installs Debian's chromium)")
        return 77

    os.makedirs(args.artifacts, exist_ok=True)
    work = tempfile.mkdtemp(prefix="probeseek-browser-")
    try:
        db = os.path.join(work, "r.db")
        report = os.path.join(args.artifacts, "report.html")
        subprocess.run([args.probeseek, "import", "--db", db, "--btf",
                        os.path.join(args.data, "vmlinux.btf"),
                        os.path.join(args.data, "curl_v4.dat"),
                        os.path.join(args.data, "stream.dat")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([args.probeseek, "report", "--db", db, "--arg", "struct sock *",
                        "--force", "-o", report], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        os.environ["CDP_PROFILE"] = os.path.join(work, "profile")
        url = "file://" + os.path.abspath(report)
        static_page(chromium, url, args.artifacts)
        scripted_page(chromium, url, args.artifacts)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failure(s); artifacts in %s" % (len(failures), args.artifacts))
    return 1 if failures else 0


def count(b, selector):
    return b.eval("document.querySelectorAll(%r).length" % selector)


def height(b, selector):
    return b.eval("(e => e ? e.getBoundingClientRect().height : 0)(document.querySelector(%r))"
                  % selector)


def text(b, selector):
    return b.eval("(e => e ? e.innerText : '')(document.querySelector(%r))" % selector)


def static_page(chromium, url, artifacts):
    """JavaScript disabled: what a mail client's viewer or a locked-down browser shows."""
    b = cdp.Browser(chromium)
    try:
        b.open(url, scripts=False)
        check(b.eval("document.title").startswith("probeseek report: tcp_sendmsg"),
              "no JS: the title names the chosen function")
        check(count(b, "#ranking ol.ranking > li") >= 10, "no JS: the ranking lists its candidates")
        check(height(b, "#ranking") > 300, "no JS: the ranking is laid out (visible height)")
        check("fits struct proto member sendmsg" in text(b, "#rank-chosen"),
              "no JS: the best candidate shows its reasons")
        check("int tcp_sendmsg(struct sock *sk" in text(b, "#explain"),
              "no JS: explain shows the prototype")
        check(count(b, "#tree details") > 10, "no JS: the call trees are collapsible <details>")
        check(count(b, "#tree details details") > 0, "no JS: the call trees nest")
        check(count(b, "#flame svg") == 2, "no JS: one flame graph per session")
        check(count(b, "#flame svg .frame") > 50, "no JS: the flame graphs have frames")
        check(height(b, "#flame svg") > 50, "no JS: the flame graph is drawn")
        check(count(b, "#diff table") >= 2, "no JS: the diff has its tables")
        check("SEC(\"kprobe/tcp_sendmsg\")" in text(b, "#probe"),
              "no JS: the probe's source is shown")
        b.screenshot(os.path.join(artifacts, "report-nojs.png"), full_page=False)
    finally:
        b.close()


def scripted_page(chromium, url, artifacts):
    """JavaScript enabled: the flame graphs zoom on a click and highlight what is searched."""
    b = cdp.Browser(chromium)
    try:
        b.open(url, scripts=True)
        b.eval("1")  # reads what the page reported while loading
        check(not b.exceptions(), "JS: no script error (%s)" % b.exceptions()[:1])
        check(b.eval("document.querySelectorAll('#flame svg[data-ready]').length") == 2,
              "JS: both flame graphs are initialised")
        # Zoom: click tcp_sendmsg's widest frame; it becomes (nearly) the full width.
        widths = b.eval("""(() => {
          const svg = document.querySelector('#flame-0');
          const frames = [...svg.querySelectorAll('.frame')]
            .filter(g => g.dataset.n === 'tcp_sendmsg');
          if (!frames.length) return null;
          frames.sort((a, b) => b.getBoundingClientRect().width - a.getBoundingClientRect().width);
          const g = frames[0];
          const before = g.getBoundingClientRect().width;
          g.dispatchEvent(new MouseEvent('click', {bubbles: true}));
          const after = g.getBoundingClientRect().width;
          return [before, after, svg.getBoundingClientRect().width];
        })()""")
        check(widths is not None, "JS: tcp_sendmsg has a frame in curl_v4's flame graph")
        if widths:
            before, after, full = widths
            check(after > before and after >= 0.95 * full,
                  "JS: a click zooms the frame to the full width (%.0f -> %.0f of %.0f px)"
                  % (before, after, full))
        # Search: frames whose name matches are marked, and the share is shown.
        found = b.eval("""(() => {
          const bar = document.querySelector('#flame-1').previousElementSibling;
          const input = bar && bar.querySelector('input');
          if (!input) return null;
          input.value = 'tcp_sendmsg';
          input.dispatchEvent(new Event('input', {bubbles: true}));
          const svg = document.querySelector('#flame-1');
          return [svg.querySelectorAll('.frame.match').length,
                  (bar.querySelector('.flame-matched') || {}).textContent || ''];
        })()""")
        check(found is not None, "JS: each flame graph has a search box")
        if found:
            check(found[0] > 0, "JS: searching tcp_sendmsg marks %d frames" % found[0])
            check("%" in found[1], "JS: the matched share is shown (%r)" % found[1])
        check(not b.exceptions(), "JS: no script error after clicking and searching")
        b.screenshot(os.path.join(artifacts, "report.png"), full_page=True)
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main())
