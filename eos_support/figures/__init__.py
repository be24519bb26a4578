"""Every figure of the book, in one style; each function returns the figure it draws.

- :mod:`~eos_support.figures.plots`: the style, the 2/η line every chapter draws, the panels of a GD run;
- :mod:`~eos_support.figures.networks`: the network chapters (Experiment 1, Sections 4.1 to 4.4);
- :mod:`~eos_support.figures.examples`: the small examples' chapters (Fact 1, Examples 1–4, Theorem 1);
- :mod:`~eos_support.figures.sgd`: Section 5 (SGD);
- :mod:`~eos_support.figures.landscape`: the paper's small examples, static and live;
- :mod:`~eos_support.figures.monitor`: a monitored run against its optimizer's threshold.

They need the ``book`` extra (matplotlib). The network chapters' figures are importable from here.
"""

from .networks import (
    approximation_run,
    corollary1_checks,
    depth_approximation,
    depth_runs,
    edge_of_stability,
    experiment1,
    phase_histograms,
    recorded_runs,
    remark4,
    sharpness_chain,
    smoothness_normalised,
    smoothness_runs,
    tau_profiles,
    theorem2_run,
)

__all__ = [
    "approximation_run",
    "corollary1_checks",
    "depth_approximation",
    "depth_runs",
    "edge_of_stability",
    "experiment1",
    "phase_histograms",
    "recorded_runs",
    "remark4",
    "sharpness_chain",
    "smoothness_normalised",
    "smoothness_runs",
    "tau_profiles",
    "theorem2_run",
]
