#!/usr/bin/env python3
"""What a Ray sweep adds to a local run of one checkpoint (docs/scaling.md):

  python bench/ray_overhead.py CHECKPOINT [--cpus 2]

Times `svdiag.run` (threads = CPUs), `ray.init` of a local cluster of that many CPUs (loopback
only), a `svdiag.distributed.run` sweep into a fresh store, and the same sweep again (everything
stored), and checks the three documents are byte-identical.
"""
import argparse
import os
import tempfile
import time

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray  # noqa: E402

import svdiag  # noqa: E402
import svdiag.distributed as sd  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("--cpus", type=int, default=2)
    a = p.parse_args()
    t = time.time()
    local = svdiag.run(a.checkpoint, progress=False, threads=a.cpus)
    t_local = time.time() - t
    t = time.time()
    ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False)
    t_init = time.time() - t
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "spectra.sqlite3")
        t = time.time()
        dist = sd.run(a.checkpoint, store=store, progress=False)
        t_sweep = time.time() - t
        print(sd.last_sweep)
        t = time.time()
        again = sd.run(a.checkpoint, store=store, progress=False)
        t_again = time.time() - t
    ray.shutdown()
    print(f"local {t_local:.2f} s; ray.init {t_init:.2f} s; sweep {t_sweep:.2f} s; "
          f"sweep again (all stored) {t_again:.2f} s; identical: {local.to_json() == dist.to_json() == again.to_json()}")


if __name__ == "__main__":
    main()
