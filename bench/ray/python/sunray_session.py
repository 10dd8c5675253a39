"""The Python side of `npm run bench -- --vs-ray`: one Ray session, driven row by row.

The bench (bench/ray/session.ts) starts a script of this directory, then for each row sends
`run <test name>` on stdin once sunray's figure for that row is taken; the script measures
Ray's figure and prints it as Ray's timeit does (`<name> per second <mean> +- <sd>`), then
`@@sunray-ray done <name>`. A test whose load is the bench's own (Ray Serve's HTTP rows) sets
up, says `ready` and gets the load's figures back (drive()). `stop` (or end of input) ends the
session: Ray is shut down.
Ray stays started between rows, idle while sunray runs, so each row's two figures are
taken next to each other.
"""

import argparse
import json
import os
import sys
import time

MARK = "@@sunray-ray"
_object_store_memory = None


def _die_with_parent():
    """If the bench dies, so does this session, and with it Ray (Ray's processes share the
    fate of the process that started them)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        return
    if os.getppid() == 1:  # the bench was gone before prctl took effect
        sys.exit(1)


_die_with_parent()


class Stop(Exception):
    """The bench has no more rows for this session."""


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", required=True, help="JSON list of the test names to measure")
    p.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="seconds timeit sleeps before a test (Ray's warmup_time_sec, 10 by default)",
    )
    p.add_argument(
        "--object-store-memory",
        type=int,
        default=None,
        help="bytes of Ray's object store (sunray's store in the same run has as many)",
    )
    a = p.parse_args()
    global _object_store_memory
    _object_store_memory = a.object_store_memory
    a.rows = json.loads(a.rows)
    return a


def say(*parts):
    print(MARK, *parts, flush=True)


def done(name):
    say("done", name)


def error(name, err):
    text = f"{type(err).__name__}: {err}" if isinstance(err, BaseException) else str(err)
    say("error", f"{name}: {' '.join(text.split())[:300]}")


def read_command():
    """The next command: the test name to run, or None for stop / end of input."""
    while True:
        line = sys.stdin.readline()
        if not line:
            return None
        line = line.strip()
        if line == "stop":
            return None
        if line.startswith("run "):
            return line[4:]
        if line:
            say("error", f"{line}: unknown command (expected 'run <name>' or 'stop')")


def patch_init():
    """ray.init as the bench starts Ray: a new local instance of this machine's cores.

    address='local' so that it never joins a Ray cluster someone else started on this
    machine; no dashboard (it is not part of what is measured, and the plain `ray` wheel
    lacks its dependencies); an object store as large as sunray's (--object-store-memory),
    not Ray's default of 30% of the machine's memory. Arguments a script passes itself win.
    """
    import ray

    original = ray.init

    def init(*args, **kwargs):
        if not args:
            kwargs.setdefault("address", "local")
        kwargs.setdefault("num_cpus", os.cpu_count())
        kwargs.setdefault("include_dashboard", False)
        if _object_store_memory:
            kwargs.setdefault("object_store_memory", _object_store_memory)
        return original(*args, **kwargs)

    ray.init = init


def serve(rows):
    """Runs the rows the bench asks for, in its order: rows maps a test name to a function
    that measures it and prints its line."""
    while True:
        name = read_command()
        if name is None:
            return
        fn = rows.get(name)
        if fn is None:
            error(name, "this script has no such row (has: " + ", ".join(sorted(rows)) + ")")
            continue
        try:
            fn(name)
        except Stop:
            return
        except Exception as e:  # a failed row must not end the session
            error(name, e)
            continue
        done(name)


def report(name, stats):
    """Prints a figure exactly as Ray's timeit does (ray_microbenchmark_helpers.py: the mean
    and population sd, np.mean and np.std, of its runs, rounded to 2 decimals)."""
    import statistics

    mean = statistics.fmean(stats)
    print(name, "per second", round(mean, 2), "+-", round(statistics.pstdev(stats, mean), 2), flush=True)


def drive(name, setup):
    """For a row whose load the bench runs on Node's side, with the same code as sunray's row
    (autocannon against Ray Serve's proxy): says the test is set up (`ready`, with setup, a
    dict that can be JSON, e.g. the URL), then waits for the bench's answer: `runs <json list>`,
    each run's figure per second, returned here (print them with report()), or `fail <why>`,
    raised as RuntimeError. `stop` or the end of input raises Stop (the bench is ending)."""
    say("ready", json.dumps({**setup, "name": name}))
    while True:
        line = sys.stdin.readline()
        if not line:
            raise Stop()
        line = line.strip()
        if line == "stop":
            raise Stop()
        if line.startswith("runs "):
            return [float(x) for x in json.loads(line[5:])]
        if line.startswith("fail "):
            raise RuntimeError(line[5:])
        if line:
            say("error", f"{line}: unexpected while {name} waits for its load ('runs <json>' or 'fail <why>')")


def timeit_prepared(name, prepare, multiplier=1, settle=10.0, run_sec=2.0, runs=4):
    """Ray's timeit shape (sleep, 1 s warm-up, 4 runs of at least 2 s, mean +- sd) for an
    operation whose input must be made fresh each time: prepare() runs off the clock and
    returns the operation, which is timed alone."""
    time.sleep(settle)
    start = time.perf_counter()
    while True:
        prepare()()
        if time.perf_counter() - start >= 1:
            break
    stats = []
    for _ in range(runs):
        spent = 0.0
        count = 0
        while spent < run_sec:
            op = prepare()
            t0 = time.perf_counter()
            op()
            spent += time.perf_counter() - t0
            del op  # its input goes before the next one is made
            count += 1
        stats.append(multiplier * count / spent)
    report(name, stats)
