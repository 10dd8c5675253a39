"""Ray's side of `tune: random forest grid (108 configs x numSamples 10)` for `--vs-ray`: the
seed's example on Ray Tune, scikit-learn's RandomForestClassifier on iris with a held-out 20%,
1 CPU per trial, the same 108-config grid. num_samples=1 (108 trials): at the ~2.8 s a trial
costs on Ray Tune here, the 1,080 of sunray's row would take most of an hour. The figure is
trials per second, as sunray's row; the session protocol is sunray_session.py's (vsray branch).
"""

import time

import ray
import sunray_session as session
from ray import tune

NAME = "tune: random forest grid (108 configs x numSamples 10)"


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


def main():
    session.parse_args()
    session.patch_init()
    ray.init()

    def grid(name):
        space = {
            "n_estimators": tune.grid_search([10, 50, 100]),
            "max_depth": tune.grid_search([None, 10, 20, 30]),
            "min_samples_split": tune.grid_search([2, 5, 10]),
            "min_samples_leaf": tune.grid_search([1, 2, 4]),
        }
        start = time.perf_counter()
        analysis = tune.run(
            train_rf,
            config=space,
            metric="accuracy",
            mode="max",
            resources_per_trial={"cpu": 1},
            num_samples=1,
            verbose=0,
        )
        seconds = time.perf_counter() - start
        session.report(name, [len(analysis.trials) / seconds])

    try:
        session.serve({NAME: grid})
    finally:
        ray.shutdown()
    session.say("stopped")


if __name__ == "__main__":
    main()
