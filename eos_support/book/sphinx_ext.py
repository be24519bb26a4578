"""A Sphinx extension for the rendered book (listed in ``_config.yml``): pages without console errors.

Some extensions add the same inline script twice (once to Sphinx's registry, once to the HTML
builder that already copied it: sphinx-thebe's ``const THEBE_JS_URL = ...`` then throws
"Identifier 'THEBE_JS_URL' has already been declared" on every page). :func:`dedupe_scripts`
keeps the first of identical ``<script>`` entries of each page.
"""

from __future__ import annotations


def dedupe_scripts(app, pagename, templatename, context, doctree):
    """Drop repeated scripts (same source or body, priority and attributes) from a page."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {}) or {}
        key = (getattr(js, "filename", None) or "", getattr(js, "priority", None),
               tuple(sorted((str(k), str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
