"""Readings of finished runs: what a recorded history shows, in numbers a claim can check.

- :mod:`~eos_support.readings.phases`: where a GD run is stable and where it is unstable (Section 4);
- :mod:`~eos_support.readings.theorem2`: Theorem 2, Experiment 5's τ-profiles and (4.3) along a GD run;
- :mod:`~eos_support.readings.corollary1`: Corollary 1 at a GD run's stored iterates;
- :mod:`~eos_support.readings.sgd`: what the SGD runs of Section 5 show;
- :mod:`~eos_support.readings.significance` and :mod:`~eos_support.readings.uncertainty`: the statistics
  of the book's verdicts;
- :mod:`~eos_support.readings.tables`: tables and names of step sizes for readers.
"""
