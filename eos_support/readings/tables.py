"""Tables and names for readers: Markdown that a notebook shows as a table and a terminal prints as text,
and a step size as the paper writes it (:func:`eta_name`).

A table printed in monospace with aligned columns is cut off or wrapped in the book's text column;
the same table as Markdown is an HTML table there, which the page lays out to fit.
"""

from __future__ import annotations


class Markdown(str):
    """A string of Markdown: Jupyter renders it (``_repr_markdown_``), ``print`` shows it as it is."""

    def _repr_markdown_(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython's plain-text view: the text, not its repr
        printer.text(str(self))

    @property
    def data(self) -> str:
        """The text (as ``IPython.display.Markdown.data``)."""
        return str(self)


def cell(value) -> str:
    """``value`` as text safe inside a Markdown table cell (its ``|`` escaped, on one line)."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(head, rows) -> Markdown:
    """A Markdown table with the column names ``head`` and one line per row of ``rows`` (cells as ``str``)."""
    head = [cell(h) for h in head]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        row = [cell(c) for c in row]
        if len(row) != len(head):
            raise ValueError(f"a row of {len(row)} cells in a table of {len(head)} columns: {row}")
        lines.append("| " + " | ".join(row) + " |")
    return Markdown("\n".join(lines))


def eta_name(eta):
    """A step size as the paper writes it, 2/k."""
    k = 2 / eta
    return f"2/{k:.0f}" if abs(k - round(k)) < 1e-9 else f"2/{k:.3g}"
