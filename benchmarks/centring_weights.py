"""The media effect's centring weights per channel, with and without the prior cap.

    python benchmarks/centring_weights.py
    python benchmarks/centring_weights.py --panels 60x156x6:0,100x156x8:0

``model/centring.py`` picks, per channel, how far the geo deviations of the media
effect are centred (0) or not (1), from least-squares fits before sampling. The
spread it reads is the data's moment estimate capped at the prior's median spread;
this prints both weights (numpy only, seconds per panel) so a change of the rule can
be checked against the panels that were sampled.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from unittest import mock

import numpy as np


def weights(model, cap: bool) -> np.ndarray:
    """The model's own centring weights; without the cap by raising its geo threshold."""
    from geommm.model import centring

    limit = centring.CAP_MIN_GEOS if cap else sys.maxsize
    with mock.patch.object(centring, "CAP_MIN_GEOS", limit):
        return centring.geo_effect_centring(model.spec, model.data, model.priors)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--panels", default="demo,20x156x5:0,20x156x5:1,40x156x5:0,40x156x5:1,60x156x6:0,"
                   "60x156x6:1,100x156x8:0,100x156x8:1", help="demo or GxTxC:seed, comma-separated")
    a = p.parse_args()
    warnings.simplefilter("ignore")
    import geommm as gm
    from geommm import demo, sim

    print("| panel | channels | uncapped | capped (default) |")
    print("|---|---|---|---|")
    for item in a.panels.split(","):
        if item == "demo":
            d = demo.load_demo()
            model = gm.GeoMMM(d.formula, data=d.panel, geo="geo", time="week", lift_tests=d.lift_tests)
        else:
            shape, seed = item.split(":")
            g, t, c = (int(x) for x in shape.split("x"))
            r = sim.simulate(n_geos=g, n_weeks=t, n_channels=c, seed=int(seed), n_lift_tests=0)
            model = gm.GeoMMM(r.formula, data=r.panel, geo="geo", time="week")
        fmt = lambda w: " ".join(f"{x:.2f}" for x in w)
        print(f"| {item} | {' '.join(model.spec.channels)} | {fmt(weights(model, False))} | {fmt(weights(model, True))} |")


if __name__ == "__main__":
    main()
