"""A Sphinx extension for the rendered book (listed in ``_config.yml``): sources, Colab links, scripts.

- :func:`require_staged_copy`: ``jupyter-book build .`` at the repository root would render the chapters'
  sources, without outputs, figures or claims, and succeed. The book is rendered from the copy that
  ``eos-book build`` stages and executes (``_build/book``, marked by
  :data:`~eos_support.book.stage.STAGED_MARKER`); any other folder stops the build with a message that
  says so.
- :func:`colab_branch`: the Colab button opens ``book/<chapter>.ipynb`` on the branch
  ``launch_buttons.colab_branch`` of ``_config.yml`` (the generated notebooks, ``eos-book notebooks``),
  while Binder and the repository buttons stay on ``repository.branch``, where the sources are.
- :func:`edit_the_source`: a chapter's page is rendered from its executed ``book/<chapter>.ipynb``, which
  is not in the repository; its "edit this page" links point to the source git keeps,
  ``book/<chapter>.md``.
- :func:`dedupe_scripts`: some extensions add the same inline script twice (once to Sphinx's registry,
  once to the HTML builder that already copied it: sphinx-thebe's ``const THEBE_JS_URL = ...`` then
  throws "Identifier 'THEBE_JS_URL' has already been declared" on every page); it keeps the first of
  identical ``<script>`` entries of each page.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.errors import ExtensionError

from .stage import STAGED_MARKER


def require_staged_copy(app):
    """Stop the build unless Sphinx renders a copy staged by ``eos-book`` (``builder-inited``)."""
    if not (Path(app.srcdir) / STAGED_MARKER).is_file():
        raise ExtensionError(
            f"{app.srcdir} holds the book's sources, not its executed chapters: rendered as they are, its "
            "pages would have no outputs, figures or claims. Run 'eos-book build' instead: it executes "
            "every chapter, checks its claims and renders the executed copy in _build/book "
            "('eos-book build --no-execute' renders the last execution again)."
        )


def colab_branch(app, pagename, templatename, context, doctree):
    """Point the page's Colab button at the branch ``launch_buttons.colab_branch``, if one is set."""
    options = app.config.html_theme_options
    branch = options.get("launch_buttons", {}).get("colab_branch")
    if not branch:
        return
    source = f"/blob/{options.get('repository_branch')}/"
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            for button in group["buttons"]:
                if button.get("text") == "Colab":
                    button["url"] = button["url"].replace(source, f"/blob/{branch}/", 1)


def edit_the_source(app, pagename, templatename, context, doctree):
    """Point the page's edit links at its ``.md`` source (the repository holds no ``.ipynb``)."""
    find = context.get("get_edit_provider_and_url")
    if not callable(find) or context.get("page_source_suffix") != ".ipynb":
        return

    def to_source(url):
        return url[: -len(".ipynb")] + ".md" if url.endswith(".ipynb") else url

    def edit_provider_and_url():
        provider, url = find()
        return provider, to_source(url)

    context["get_edit_provider_and_url"] = edit_provider_and_url
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", [group]):
            if button.get("label") in ("source-edit-button", "source-file-button"):
                button["url"] = to_source(button["url"])


def dedupe_scripts(app, pagename, templatename, context, doctree):
    """Drop repeated scripts (same source or body, priority and attributes) from a page."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {}) or {}
        key = (
            getattr(js, "filename", None) or "",
            getattr(js, "priority", None),
            tuple(sorted((str(k), str(v)) for k, v in attributes.items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    """Register the handlers (Sphinx calls this when ``_config.yml`` lists the extension)."""
    app.connect("builder-inited", require_staged_copy)
    app.connect("html-page-context", colab_branch, priority=502)  # after sphinx-book-theme's buttons (501)
    app.connect("html-page-context", edit_the_source, priority=502)
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
