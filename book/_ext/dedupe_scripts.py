"""Sphinx extension: drop duplicate <script> entries from every page.

sphinx-thebe 0.3.1 registers its inline configuration script twice under Jupyter Book 1.x,
and the second copy re-declares `const THEBE_JS_URL`, a JavaScript error on every page
(found by tests/test_site.py). Keeping the first of identical scripts fixes it.
"""

from __future__ import annotations


def _key(script) -> tuple:
    """What makes two scripts the same: their file name (None and '' alike, both mean an
    inline script) and their inline body."""
    attrs = getattr(script, "attributes", {}) or {}
    return (str(getattr(script, "filename", script) or ""), attrs.get("body", ""))


def dedupe(app, pagename, templatename, context, doctree) -> None:
    """Keep the first of each identical script in the page's context."""
    scripts = context.get("script_files")

    if scripts:
        seen, unique = set(), []
        for s in scripts:
            if _key(s) not in seen:
                seen.add(_key(s))
                unique.append(s)
        scripts[:] = unique


def setup(app):
    """Register the html-page-context handler (runs after the themes' own handlers)."""
    app.connect("html-page-context", dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
