"""Ray's side of the serve rows (bench/suites/serve.ts): Ray Serve shaped like sunray's rows.

- "serve no-op deployment (2 replicas)" and "serve p50 latency added (one request at a time)":
  a deployment of 2 replicas answering "ok" behind Ray Serve's HTTP proxy (on 127.0.0.1, a
  free port); this script only stands it up (off the clock) and says where (session.drive):
  the load, autocannon with 50 connections and the one-at-a-time GETs, each interleaved with
  the node:cluster server, is the same Node code sunray's row runs, run by the bench.
- "serve handle calls between two deployments": a Caller deployment calls a Downstream one
  1000 times through its DeploymentHandle and awaits them all, timed by Ray's own timeit.

Replicas ask for no CPU (ray_actor_options num_cpus 0): Ray Serve's default of 1 CPU each
would not fit 2 + 2 replicas on this machine's 2 CPUs; sunray's replicas reserve none either.
Ray Serve is installed with the plain `ray` wheel and its HTTP dependencies (the `ray[serve]`
extra needs a package this machine's registry lacks): bench/ray/counterparts.ts.
"""

import asyncio
import socket
import time

import ray
import sunray_session as session
from ray import serve
from ray._private.ray_microbenchmark_helpers import timeit

NOOP = "serve no-op deployment (2 replicas)"
LATENCY = "serve p50 latency added (one request at a time)"
HANDLES = "serve handle calls between two deployments"


@serve.deployment(num_replicas=2, max_ongoing_requests=100, ray_actor_options={"num_cpus": 0})
class Noop:
    async def __call__(self, request):
        return "ok"  # Serve answers a str as text/plain, as sunray's Response('ok')


@serve.deployment(max_ongoing_requests=1000, ray_actor_options={"num_cpus": 0})
class Downstream:
    def noop(self):
        return 0


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Caller:
    def __init__(self, down):
        self.down = down

    async def relay(self, n):
        await asyncio.gather(*[self.down.noop.remote() for _ in range(n)])
        return n


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    args = session.parse_args()
    session.patch_init()
    ray.init()
    state = {}

    def noop_url():
        """The no-op deployment, deployed once for both HTTP rows (as sunray's noopApp())."""
        if "url" not in state:
            port = free_port()
            serve.start(http_options={"host": "127.0.0.1", "port": port})
            serve.run(Noop.bind(), name="bench-noop", route_prefix="/")
            state["url"] = f"http://127.0.0.1:{port}/"
        return state["url"]

    def http_row(name):
        url = noop_url()
        time.sleep(args.settle)  # Ray's timeit pause before a test, after the deployment's start
        session.report(name, session.drive(name, {"url": url}))

    def handles(name):
        noop_url()  # sunray's row runs with its no-op deployment up too
        h = serve.run(Caller.bind(Downstream.bind()), name="bench-handles", route_prefix=None)
        try:
            assert h.relay.remote(1000).result() == 1000
            timeit(name, lambda: h.relay.remote(1000).result(), 1000, warmup_time_sec=args.settle)
        finally:
            serve.delete("bench-handles")

    try:
        session.serve({NOOP: http_row, LATENCY: http_row, HANDLES: handles})
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
    session.say("stopped")


if __name__ == "__main__":
    main()
