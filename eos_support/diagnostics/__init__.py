"""The paper's diagnostics of a loss f of a flat parameter vector θ.

- :mod:`~eos_support.diagnostics.gd`: relative progress RP (Definition 1), directional smoothness L
  (Definition 2), one GD step with both;
- :mod:`~eos_support.diagnostics.theorem2`: Theorem 2's identity (4.2), Experiment 5's τ-profiles, (4.3);
- :mod:`~eos_support.diagnostics.sgd`: SGD's expected relative progress (Definition 3, (5.1), Appendix A);
- :mod:`~eos_support.diagnostics.along`: RP and Theorem 2 along any update u, the step an optimizer took;
- :mod:`~eos_support.diagnostics.curvature`: the sharpness λ_max(∇²f) and Corollary 1's segment sharpness;
- :mod:`~eos_support.diagnostics.objective`: a network's training loss as such an f(θ).

The names of the first two are importable from here, as they were before the package was split.
"""

from .gd import GDStep, directional_smoothness, gd_step, relative_progress
from .theorem2 import gauss_legendre, profile_from_gradient, rp_approximation, smoothness_profile, theorem2_rp

__all__ = [
    "GDStep",
    "directional_smoothness",
    "gauss_legendre",
    "gd_step",
    "profile_from_gradient",
    "relative_progress",
    "rp_approximation",
    "smoothness_profile",
    "theorem2_rp",
]
