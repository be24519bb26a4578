"""eos_support.readings.tables: Markdown tables that a notebook renders and a terminal prints as they are."""

import pytest

from eos_support.readings.tables import Markdown, markdown_table
from histories import table_rows


def test_a_table_has_its_head_a_rule_and_a_row_per_row():
    table = markdown_table(["η", "status"], [("2/30", "converged"), (0.5, None)])
    assert table.splitlines() == ["| η | status |", "|---|---|", "| 2/30 | converged |", "| 0.5 | None |"]
    assert table_rows(table) == [["η", "status"], ["2/30", "converged"], ["0.5", "None"]]


def test_a_pipe_or_a_newline_in_a_cell_does_not_break_the_table():
    table = markdown_table(["|difference|"], [("a\nb",)])
    assert table_rows(table) == [["\\|difference\\|"], ["a b"]]


def test_a_row_of_the_wrong_width_is_an_error():
    with pytest.raises(ValueError, match="a row of 1 cells in a table of 2 columns"):
        markdown_table(["a", "b"], [(1,)])


def test_jupyter_renders_it_and_print_shows_the_text():
    table = markdown_table(["a"], [(1,)])
    assert isinstance(table, Markdown) and table._repr_markdown_() == str(table) == table.data
    pretty = pytest.importorskip("IPython.lib.pretty")
    assert pretty.pretty(table) == str(table)  # IPython's plain-text view: not a quoted repr
