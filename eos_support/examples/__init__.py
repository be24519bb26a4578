"""The paper's small examples, computed exactly.

- :mod:`~eos_support.examples.toy`: the 2-D costs of Fact 1, Examples 1–4 and Theorem 1, and plain GD;
- :mod:`~eos_support.examples.stationary`: stationary points and GD near them (Theorem 1, Proposition 1);
- :mod:`~eos_support.examples.proposition1`: Proposition 1 on a small scale-invariant network.
"""
