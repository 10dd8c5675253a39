"""Ray's side of the tune rows (bench/suites/tune.ts) for `--vs-ray`: Ray Tune 2.58 on the
same trainables, with the same settings as sunray/tune's defaults.

- "tune: random forest grid (108 configs x numSamples 10)": the seed's example on Ray Tune,
  scikit-learn's RandomForestClassifier on iris with a held-out 20%, 1 CPU per trial, the same
  108-config grid; trials per second. num_samples=1 (108 trials, as sunray's row with
  --quick): at Ray Tune's pace here, the 1,080 trials of sunray's full row would outlast the
  bench's 6 minutes per Ray test.
- "tune: 10,000 trivial trials": a trainable returning {"x": i} for random configs, 1 CPU
  per trial; TRIVIAL_TRIALS of them (10,000 would take about an hour on Ray Tune here),
  printed as trials per second (the bench turns it into seconds for 10,000 at that rate).
- the two "per-trial overhead" rows: (wall time x slots - the trials' own time_total_s) /
  trials, sunray's formula, from the experiment of the row above (run here if it was not);
  printed as 1 / the overhead in seconds (the bench turns it into ms).

reuse_actors=True on both (sunray/tune's default; Ray Tune's is False, which costs about
3 s a trial here: each trial starts a new Python worker). Ray's own logger callbacks (JSON,
CSV, TensorBoard) stay on, as sunray's result files do; results go to a temporary directory.
"""

import shutil
import tempfile
import time

import ray
import sunray_session as session
from ray import tune

RF_ROW = "tune: random forest grid (108 configs x numSamples 10)"
RF_OVERHEAD = "tune: per-trial overhead, random forest grid"
TRIVIAL_ROW = "tune: 10,000 trivial trials"
TRIVIAL_OVERHEAD = "tune: per-trial overhead, 10,000 trivial trials"
TRIVIAL_TRIALS = 200


def train_rf(config):
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    clf = RandomForestClassifier(
        n_estimators=config["n_estimators"],
        max_depth=config["max_depth"],
        min_samples_split=config["min_samples_split"],
        min_samples_leaf=config["min_samples_leaf"],
    )
    clf.fit(X_train, y_train)
    return {"accuracy": clf.score(X_test, y_test)}


def trivial(config):
    return {"x": config["i"]}


def experiment(trainable, **kwargs):
    """tune.run timed as sunray's bench times tune.run; returns what its rows print."""
    slots = int(ray.cluster_resources().get("CPU", 1))
    storage = tempfile.mkdtemp(prefix="sunray-bench-raytune-")
    try:
        start = time.perf_counter()
        analysis = tune.run(
            trainable, verbose=0, reuse_actors=True, storage_path=storage, **kwargs
        )
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(storage, ignore_errors=True)  # off the clock, as sunray's
    trials = analysis.trials
    bad = [t for t in trials if t.status != "TERMINATED"]
    if bad:
        raise RuntimeError(f"{len(bad)} of {len(trials)} trials did not terminate ({bad[0].status})")
    train_s = sum(float((t.last_result or {}).get("time_total_s", 0)) for t in trials)
    overhead_s = (seconds * slots - train_s) / len(trials)
    return {"trials": len(trials), "seconds": seconds, "slots": slots, "train_s": train_s,
            "overhead_s": overhead_s, "analysis": analysis}


def main():
    session.parse_args()
    session.patch_init()
    ray.init()
    done = {}

    def rf():
        if RF_ROW not in done:
            space = {
                "n_estimators": tune.grid_search([10, 50, 100]),
                "max_depth": tune.grid_search([None, 10, 20, 30]),
                "min_samples_split": tune.grid_search([2, 5, 10]),
                "min_samples_leaf": tune.grid_search([1, 2, 4]),
            }
            x = experiment(train_rf, config=space, metric="accuracy", mode="max",
                           resources_per_trial={"cpu": 1}, num_samples=1)
            best = x["analysis"].best_result["accuracy"]
            print(f"# {RF_ROW}: {x['trials']} trials in {x['seconds']:.1f} s on {x['slots']} slots,"
                  f" best accuracy {best:.3f}, per-trial overhead {x['overhead_s'] * 1000:.1f} ms"
                  f" (trials' own {x['train_s'] / x['trials'] * 1000:.1f} ms)", flush=True)
            done[RF_ROW] = x
        return done[RF_ROW]

    def trivials():
        if TRIVIAL_ROW not in done:
            x = experiment(trivial, config={"i": tune.randint(0, 1_000_000)},
                           num_samples=TRIVIAL_TRIALS)
            print(f"# {TRIVIAL_ROW}: {x['trials']} trials in {x['seconds']:.1f} s on {x['slots']} slots"
                  f" ({x['trials'] / x['seconds']:.1f} trials/s), per-trial overhead"
                  f" {x['overhead_s'] * 1000:.1f} ms", flush=True)
            done[TRIVIAL_ROW] = x
        return done[TRIVIAL_ROW]

    def rate(x):
        return x["trials"] / x["seconds"]

    def per_overhead(x):
        if x["overhead_s"] <= 0:
            raise RuntimeError(f"no overhead measurable: the trials' own time {x['train_s']:.1f} s "
                               f"fills {x['seconds']:.1f} s x {x['slots']} slots")
        return 1 / x["overhead_s"]

    rows = {
        RF_ROW: lambda name: session.report(name, [rate(rf())]),
        RF_OVERHEAD: lambda name: session.report(name, [per_overhead(rf())]),
        TRIVIAL_ROW: lambda name: session.report(name, [rate(trivials())]),
        TRIVIAL_OVERHEAD: lambda name: session.report(name, [per_overhead(trivials())]),
    }
    try:
        session.serve(rows)
    finally:
        ray.shutdown()
    session.say("stopped")


if __name__ == "__main__":
    main()
