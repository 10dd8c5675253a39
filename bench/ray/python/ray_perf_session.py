"""Ray's own microbenchmark (`ray._private.ray_perf.main`, the code behind
`ray microbenchmark`), run one test at a time when the bench asks for it.

ray_perf runs its tests in a fixed order, each through `timeit` (Ray's
ray_microbenchmark_helpers.timeit). We replace the `timeit` it imported with a gate: a test
the bench did not ask for is skipped (as Ray's TESTS_TO_RUN filter skips it); a test it
asked for waits for its `run <name>` command, then runs in Ray's timeit, unchanged. So every
figure is measured by Ray's own code, on the objects ray_perf made for it. The bench asks in
ray_perf's order (bench/ray/order.ts). After a test, the session waits for the next command
before ray_perf goes on to set up the next test, so that setup runs in Ray's turn; on `stop`
it shuts Ray down without running the rest of ray_perf (the Ray client benchmarks).
"""

import sunray_session as session


def main():
    args = session.parse_args()
    wanted = list(args.rows)
    state = {"pending": None}

    import ray
    from ray._private import ray_microbenchmark_helpers as helpers
    from ray._private import ray_perf

    ray_timeit = helpers.timeit

    def next_command():
        if state["pending"] is None:
            state["pending"] = session.read_command()
            if state["pending"] is None:
                raise session.Stop()
        return state["pending"]

    def gated_timeit(name, fn, multiplier=1, warmup_time_sec=10):
        if not wanted:
            raise session.Stop()  # nothing left to measure: skip the rest of ray_perf
        if name not in wanted:
            return [None]
        while True:
            asked = next_command()
            if asked == name:
                break
            if asked in wanted:
                # The bench wants a later test first: this one is passed over for good.
                wanted.remove(name)
                return [None]
            session.error(asked, "not a test ray_perf still has to run (unknown, or already passed)")
            state["pending"] = None
        state["pending"] = None
        wanted.remove(name)
        try:
            res = ray_timeit(name, fn, multiplier, warmup_time_sec=args.settle)
        except Exception as e:
            session.error(name, e)
            res = [None]
        else:
            session.done(name)
        # Wait for the next command before going on: what ray_perf does between two tests
        # (starting the next test's actors, its objects) then runs in Ray's turn, not while
        # sunray measures its next row.
        next_command()
        return res

    ray_perf.timeit = gated_timeit
    session.patch_init()
    try:
        ray_perf.main()
    except session.Stop:
        pass
    finally:
        ray.shutdown()
    # ray_perf finished with commands left: those tests are not in this Ray's ray_perf.
    if state["pending"] is not None:
        session.error(state["pending"], f"ray_perf of Ray {ray.__version__} has no such test")
    while True:
        name = session.read_command()
        if name is None:
            break
        session.error(name, f"ray_perf of Ray {ray.__version__} has no such test (or it already ran)")
    session.say("stopped")


if __name__ == "__main__":
    main()
