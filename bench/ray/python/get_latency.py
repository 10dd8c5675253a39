"""Ray's side of `get latency 1 KiB` and `get latency 1 GiB` (ray_perf has no such test):
ray.get of one object already in Ray's object store, one get at a time, timed by Ray's own
timeit. A NumPy array comes back from Ray's store without a copy (a view of shared
memory), as sunray's get is a view of its arena: the 1 GiB row shows whether the size costs.
"""

import numpy as np

import ray
import sunray_session as session
from ray._private.ray_microbenchmark_helpers import timeit

ROWS = {"ray.get latency 1 KiB": 1024, "ray.get latency 1 GiB": 1024**3}


def main():
    args = session.parse_args()
    session.patch_init()
    ray.init()

    def row(size):
        def measure(name):
            ref = ray.put(np.zeros(size, dtype=np.uint8))  # made off the clock
            assert ray.get(ref).nbytes == size
            timeit(name, lambda: ray.get(ref), warmup_time_sec=args.settle)
            del ref

        return measure

    try:
        session.serve({name: row(size) for name, size in ROWS.items()})
    finally:
        ray.shutdown()
    session.say("stopped")


if __name__ == "__main__":
    main()
