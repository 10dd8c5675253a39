"""Ray's side of the data rows (bench/suites/data.ts) for `--vs-ray`: Ray Data 2.58 over the
very CSV files sunray's rows read in the same run (the bench names their directory in
SUNRAY_BENCH_DATA_CSV; the session inherits it), with Ray Data's public API, each row timed
once as sunray's rows are: MiB per second of the same bytes (the bench turns it into GiB/s;
Ray's timeit line has 2 decimals, too few for GiB/s here). Before the first row, a small
dataset is run through map_batches off the clock, so that Ray Data's worker processes are up
as sunray's are.

- "data: CSV -> parse -> add column -> Parquet": read_csv, map_batches adding
  total = price * qty (pyarrow batches, pyarrow.compute), write_parquet (snappy, Ray's and
  pyarrow's default); the CSV bytes over the seconds.
- "data: randomShuffle": read_csv, random_shuffle(seed=1), count; the CSV bytes.
- "data: iterBatches": the rows read and materialized in Ray's object store as 16 blocks
  (repartition(16), as sunray's row makes 16), then iter_batches(batch_format="pyarrow",
  batch_size=None, prefetch_batches=2), the qty column summed; the blocks' bytes
  (Dataset.size_bytes(), Arrow's in-memory size; sunray counts Arrow IPC bytes).
"""

import os
import shutil
import tempfile
import time

import pyarrow as pa
import pyarrow.compute as pc
import ray
import sunray_session as session

CSV_TO_PARQUET = "data: CSV -> parse -> add column -> Parquet"
SHUFFLE = "data: randomShuffle"
ITER_BATCHES = "data: iterBatches"
MIB = 1024**2


def csv_files():
    """The run's CSV directory, its bytes and its rows (lines less each file's header)."""
    d = os.environ.get("SUNRAY_BENCH_DATA_CSV")
    if not d or not os.path.isdir(d):
        raise RuntimeError(
            "no CSV files of this run (SUNRAY_BENCH_DATA_CSV unset or gone: sunray's data row makes them)"
        )
    paths = [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".csv")]
    size = sum(os.path.getsize(p) for p in paths)
    rows = 0
    for p in paths:
        with open(p, "rb") as f:
            rows += f.read().count(b"\n") - 1
    return d, size, rows


def add_total(batch: pa.Table) -> pa.Table:
    total = pc.multiply(batch["price"].cast(pa.float64()), batch["qty"].cast(pa.float64()))
    return batch.append_column("total", total)


def main():
    session.parse_args()
    session.patch_init()
    ray.init()
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # sunray's rows run with progress 'off'
    ctx.print_on_execution_start = False
    files = {}

    def the_files():
        if "csv" not in files:
            files["csv"] = csv_files()
            ray.data.range(64, override_num_blocks=4).map_batches(lambda b: b).materialize()
        return files["csv"]

    def gibs(name, size, seconds, what):
        print(f"# {name}: {size / 2**20:.0f} MiB in {seconds:.1f} s ({what})", flush=True)
        session.report(name, [size / MIB / seconds])

    def csv_to_parquet(name):
        d, size, _ = the_files()
        out = tempfile.mkdtemp(prefix="sunray-bench-raydata-")
        try:
            t0 = time.perf_counter()
            ray.data.read_csv(d).map_batches(add_total, batch_format="pyarrow").write_parquet(out)
            s = time.perf_counter() - t0
            parts = len([f for f in os.listdir(out) if f.endswith(".parquet")])
        finally:
            shutil.rmtree(out, ignore_errors=True)
        gibs(name, size, s, f"{parts} Parquet files")

    def shuffle(name):
        d, size, rows = the_files()
        t0 = time.perf_counter()
        n = ray.data.read_csv(d).random_shuffle(seed=1).count()
        s = time.perf_counter() - t0
        if n != rows:
            raise RuntimeError(f"shuffle lost rows: {n} of {rows}")
        gibs(name, size, s, f"{rows} rows, CSV bytes")

    def iter_batches(name):
        d, _, _ = the_files()
        ds = ray.data.read_csv(d).repartition(16).materialize()  # off the clock, as sunray's
        size = ds.size_bytes()
        t0 = time.perf_counter()
        total = 0
        for b in ds.iter_batches(batch_format="pyarrow", batch_size=None, prefetch_batches=2):
            total += pc.sum(b["qty"]).as_py() or 0
        s = time.perf_counter() - t0
        del ds
        gibs(name, size, s, f"sum {total}, Arrow bytes of 16 blocks")

    try:
        session.serve({CSV_TO_PARQUET: csv_to_parquet, SHUFFLE: shuffle, ITER_BATCHES: iter_batches})
    finally:
        ray.shutdown()
    session.say("stopped")


if __name__ == "__main__":
    main()
