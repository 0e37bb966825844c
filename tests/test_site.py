"""Browser tests of the built site: every page in headless Chromium (`make site-test`).

Serves _build/html on localhost and opens each page with Playwright driving Debian's
chromium. Screenshots of every page are saved to _build/screenshots/ for a person to look at.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = ["index.html", "book/bibliography.html"] + [
    f"chapters/{p.stem}.html" for p in sorted((ROOT / "chapters").glob("*.ipynb"))
]
# Console errors that are allowed, each because of something unreachable offline, never a bug
# of the site (CI has no internet; a reader's browser fetches these normally):
EXTERNAL_OK = [
    # sphinx-book-theme's repository/issue buttons point to github.com; no request at load, but
    # a browser may prefetch its favicon through the link hint.
    r"github\.com",
    # Launch-button hosts (Binder, Colab) are only linked, never loaded; listed for safety.
    r"mybinder\.org|colab\.research\.google\.com",
    # Chromium's own blocked network lookups (--disable-background-networking leaves a few).
    r"net::ERR_NAME_NOT_RESOLVED|net::ERR_INTERNET_DISCONNECTED",
    # Requests the browser cancels itself when a page navigates on (the root page redirects to
    # the landing page while its favicon may still be loading); a missing file is still caught,
    # as an HTTP status >= 400.
    r"\(net::ERR_ABORTED\)$",
]

if not HTML.joinpath("index.html").exists():
    pytest.skip("build the site first: make book", allow_module_level=True)
if CHROMIUM is None:
    pytest.skip("no chromium: apt-get install chromium (.ci/run does)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def base_url():
    """A local HTTP server over _build/html."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium, with the flags this closed network needs."""
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=FLAGS,
        )
        yield b
        b.close()


def open_page(browser, url: str):
    """Load a page, wait for MathJax, and return (page, console errors, failed requests)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, failed = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    page.on(
        "response", lambda r: failed.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None
    )
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)
    if page.locator(".math").count():
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=15000
        )
        page.evaluate("() => MathJax.startup.promise")
    return page, errors, failed


@pytest.mark.parametrize("path", PAGES)
def test_page(browser, base_url, path):
    page, errors, failed = open_page(browser, base_url + path)
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SHOTS / (path.replace("/", "_").replace(".html", ".png"))), full_page=True
        )

        bad = [e for e in errors + failed if not any(re.search(p, e) for p in EXTERNAL_OK)]
        assert not bad, f"console errors or failed requests: {bad}"

        # equations are typeset (MathJax served from _static, no CDN)
        n_math = page.locator(".math").count()
        if n_math:
            assert page.locator("mjx-container").count() >= n_math, "every equation typeset"
            assert not [u for u in failed if "mathjax" in u.lower()]

        # every figure image loads, and every figure in a cell's output has real alt text
        for img in page.locator("img").all():
            ok = img.evaluate("i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0")
            assert ok, f"image does not load: {img.get_attribute('src')}"
        for img in page.locator("div.cell_output img").all():
            alt = img.get_attribute("alt") or ""
            assert len(alt) > 20 and not alt.endswith(".png"), f"figure without alt text: {alt!r}"

        # every figure is numbered ("Fig. N") and has a caption
        for fig in page.locator("figure").all():
            number = fig.locator(".caption-number")
            assert number.count() == 1, "a figure without a number"
            assert re.match(r"Figure \d+", number.inner_text().strip())

        # nothing scrolls sideways at the default width: code, outputs, tables
        wide = page.evaluate(
            """() => [...document.querySelectorAll('main pre, main .cell_output, main table')]
                 .filter(e => e.scrollWidth > e.clientWidth + 2)
                 .map(e => (e.innerText || '').slice(0, 60))"""
        )
        assert not wide, f"scrolls sideways at 1280 px: {wide}"

        # no stored output is a traceback
        text = page.inner_text("body")
        assert "Traceback (most recent call last)" not in text
        assert page.locator(".output.traceback, div.cell_output .ansi-red-fg").count() == 0

        # internal links resolve to files of the site (relative to the page actually shown:
        # index.html redirects to the landing page)
        here = urlparse(page.url).path.lstrip("/") or "index.html"
        for href in page.eval_on_selector_all(
            "a[href]", "els => els.map(e => e.getAttribute('href'))"
        ):
            parsed = urlparse(href)
            if parsed.scheme or href.startswith(("#", "mailto:")):
                continue
            target = (HTML / here).parent / unquote(parsed.path)
            if parsed.path.endswith("/"):
                target = target / "index.html"
            assert target.resolve().exists(), f"broken internal link {href}"

        # launch buttons (chapters): Colab and Binder, pointing at notebooks that exist on main
        if path.startswith("chapters/"):
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
            colab = [h for h in hrefs if "colab.research.google.com" in h]
            binder = [h for h in hrefs if "mybinder.org" in h]
            assert colab and binder, "launch buttons for Colab and Binder"
            for h in colab + binder:
                nb = re.search(r"(chapters/[\w.-]+\.ipynb)", unquote(h))
                assert nb and (ROOT / nb.group(1)).exists(), (
                    f"launch link to a missing notebook: {h}"
                )
                assert "/main" in h or "main/" in h, f"launch link not on branch main: {h}"
            figures = page.locator("div.cell_output img").count()
            assert figures >= 1, "every chapter shows at least one figure"
    finally:
        page.close()


def test_widget_cells_show_a_static_figure(browser, base_url):
    """Pages with an explorer show a real figure from a committed run, never an empty widget."""
    for path in (
        "chapters/02_quadratic_cost.html",
        "chapters/04_hydra_attention.html",
        "chapters/07_training.html",
    ):
        page, _, _ = open_page(browser, base_url + path)
        try:
            hint = page.get_by_text("Interactive controls: run this notebook").first
            assert hint.count() == 1, f"{path}: explorer cell missing"
            # the static figure is in the explorer cell's output or in the cell just before it
            cell = hint.locator("xpath=ancestor::div[contains(@class, 'cell_output')]")
            before = hint.locator(
                "xpath=ancestor::div[contains(concat(' ', @class, ' '), ' cell ')][1]"
                "/preceding-sibling::div[contains(concat(' ', @class, ' '), ' cell ')][1]"
            )
            assert cell.locator("img").count() + before.locator("img").count() >= 1, (
                f"{path}: explorer cell without its static figure"
            )
        finally:
            page.close()


@pytest.mark.parametrize("path", PAGES)
def test_page_names_its_icon(path):
    """Every page, the root redirect included, links the favicon: without the link a browser
    asks for /favicon.ico, which the site does not have (a 404 in the console)."""
    html = (HTML / path).read_text(encoding="utf-8")
    assert re.search(r'<link[^>]+rel="(shortcut )?icon"', html), f"{path}: no <link rel=icon>"
