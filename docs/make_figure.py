"""Draw docs/edge_of_stability.png, the README's figure, from a real quick-profile run.

    python docs/make_figure.py [ETA] [STEPS]

Full-batch GD on the quick profile's Experiment 1 data (Fashion-MNIST, 5,000 images, the 784-200-200-10
tanh network of Cohen et al.), with the paper's diagnostics at every step, drawn by
:func:`eos_support.figures.plots.run_panels`: the training loss, the relative progress RP (Definition 1) with its
levels 0 and −1, and the sharpness against 2/η. The run is cached in the book's run store
(_build/results), so it is computed once.
"""

import dataclasses
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import torch  # noqa: E402

from eos_support import profiles  # noqa: E402
from eos_support.book.toc import default_build_dir  # noqa: E402
from eos_support.figures import plots  # noqa: E402

ETA = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 600
OUT = Path(__file__).resolve().parent / "edge_of_stability.png"


def main():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    prof = profiles.get("quick", results_dir=default_build_dir() / "results")
    tanh = dataclasses.replace(
        prof["experiment1"],
        activations=("tanh",),
        etas=(ETA,),
        options=dict(max_steps=STEPS, acc_goal=0.99, sharpness_every=20, sharpness_iters=15),
    )
    run = dataclasses.replace(prof, experiments={"figure": tanh}).run("figure")
    plots.style()
    fig, _ = plots.run_panels({ETA: run}, onsets=True)
    fig.savefig(OUT, dpi=110)
    h = run.history
    print(
        f"{OUT} ({OUT.stat().st_size / 1e3:.0f} kB): η = {ETA}, {run.steps} steps, "
        f"status {run.status}, final accuracy {h['accuracy'][-1]:.3f}, "
        f"max sharpness {np.nanmax(h['sharpness']):.2f} vs 2/η = {2 / ETA:.2f}, {run.wall_s:.0f} s"
    )


if __name__ == "__main__":
    main()
