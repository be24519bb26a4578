"""The book's criteria: each claim of the registry decided by one function of the runs it judges.

A criterion returns a :class:`~eos_support.book.criteria.verdict.Verdict`: the statistic it compares with the
registry's threshold, the
statistic's measured uncertainty (:mod:`~eos_support.readings.uncertainty`) and the outcome, which is
"inconclusive" when the statistic is within its uncertainty of the threshold.
"""

from ...readings.uncertainty import bootstrap, spread
from .verdict import SENSES, Verdict, all_of, any_of, compare

__all__ = ["SENSES", "Verdict", "all_of", "any_of", "bootstrap", "compare", "spread"]
