// Where a placement group's bundles go, given the nodes' resources (Ray's bundle scheduling
// policies, as pure functions so the unit tests drive them with fake nodes):
// - PACK: as few nodes as possible (all on one if any has room), best effort;
// - SPREAD: each bundle on a node of its own where possible, best effort;
// - STRICT_PACK: all on one node, or wait;
// - STRICT_SPREAD: each on a different node, or wait.
// A bundle that no node could hold even idle makes the group infeasible (it waits, reported,
// for a node that can to join); one that only lacks free room now waits for it.
import type { PlacementStrategy } from '../protocol/placement-group.js';
import type { Demand } from '../protocol/resources.js';

/** A node as bundle placement sees it. */
export interface BundleNode {
  nodeId: string;
  total: Record<string, number>;
  available: Record<string, number>;
}

/** A bundle to place. */
export interface BundleToPlace {
  index: number;
  resources: Demand;
}

/** Bundle index -> node, or why not now (wait) or not ever as things stand (infeasible). */
export type BundlePlacement = { assign: Map<number, string> } | { wait: string } | { infeasible: string };

const EPS = 1e-9;

function fitsIn(have: Record<string, number>, d: Demand): boolean {
  for (const [k, v] of Object.entries(d)) if (v > 0 && (have[k] ?? 0) + EPS < v) return false;
  return true;
}

function take(have: Record<string, number>, d: Demand): void {
  for (const [k, v] of Object.entries(d)) have[k] = (have[k] ?? 0) - v;
}

function sum(ds: Demand[]): Demand {
  const out: Demand = {};
  for (const d of ds) for (const [k, v] of Object.entries(d)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Free room left, summed over what the bundle asks (bigger: emptier). */
function room(have: Record<string, number>, d: Demand): number {
  let r = 0;
  for (const k of Object.keys(d)) r += have[k] ?? 0;
  return r;
}

/**
 * Places `bundles` on `nodes` under `strategy`. `placed`: bundles of the group already on a
 * node (when some are placed again after their node died); STRICT_SPREAD keeps clear of
 * those nodes and STRICT_PACK joins them.
 */
export function placeBundles(
  bundles: BundleToPlace[],
  strategy: PlacementStrategy,
  nodes: BundleNode[],
  placed: ReadonlyMap<number, string> = new Map(),
): BundlePlacement {
  if (bundles.length === 0) return { assign: new Map() };
  for (const b of bundles) {
    if (!nodes.some((n) => fitsIn(n.total, b.resources))) {
      return { infeasible: `no node has ${JSON.stringify(b.resources)} (bundle ${b.index}) even when idle` };
    }
  }
  const free = new Map(nodes.map((n) => [n.nodeId, { ...n.available }]));
  const assign = new Map<number, string>();
  const used = new Set(placed.values());
  switch (strategy) {
    case 'STRICT_PACK': {
      const all = sum(bundles.map((b) => b.resources));
      const fixed = [...used];
      const candidates = fixed.length > 0 ? nodes.filter((n) => n.nodeId === fixed[0]) : nodes;
      if (!candidates.some((n) => fitsIn(n.total, all))) {
        return { infeasible: `STRICT_PACK: no node has ${JSON.stringify(all)} in all` };
      }
      const n = best(
        candidates.filter((c) => fitsIn(free.get(c.nodeId) ?? {}, all)),
        free,
        all,
      );
      if (!n) return { wait: `STRICT_PACK: no node has ${JSON.stringify(all)} free now` };
      for (const b of bundles) assign.set(b.index, n);
      return { assign };
    }
    case 'STRICT_SPREAD': {
      const avail = nodes.filter((n) => !used.has(n.nodeId));
      if (!distinctHosts(bundles, avail)) {
        return {
          infeasible: `STRICT_SPREAD: ${bundles.length} bundle(s) need as many nodes able to hold them, and fewer are there`,
        };
      }
      // Biggest bundles first, each on the emptiest node left that holds it.
      for (const b of [...bundles].sort(
        (x, y) => room(y.resources, y.resources) - room(x.resources, x.resources),
      )) {
        const n = best(
          avail.filter((c) => !used.has(c.nodeId) && fitsIn(free.get(c.nodeId) ?? {}, b.resources)),
          free,
          b.resources,
        );
        if (!n)
          return {
            wait: `STRICT_SPREAD: no node without a bundle of the group has ${JSON.stringify(b.resources)} free`,
          };
        assign.set(b.index, n);
        used.add(n);
        take(free.get(n) ?? {}, b.resources);
      }
      return { assign };
    }
    case 'PACK': {
      const all = sum(bundles.map((b) => b.resources));
      const preferred = [...used].filter((id) => fitsIn(free.get(id) ?? {}, all));
      const one =
        preferred[0] ??
        best(
          nodes.filter((c) => fitsIn(free.get(c.nodeId) ?? {}, all)),
          free,
          all,
        );
      if (one) {
        for (const b of bundles) assign.set(b.index, one);
        return { assign };
      }
      // Fill the nodes in use first, then the one with most room.
      for (const b of bundles) {
        const inUse = [...used].find((id) => fitsIn(free.get(id) ?? {}, b.resources));
        const n =
          inUse ??
          best(
            nodes.filter((c) => fitsIn(free.get(c.nodeId) ?? {}, b.resources)),
            free,
            b.resources,
          );
        if (!n)
          return { wait: `PACK: no node has ${JSON.stringify(b.resources)} free for bundle ${b.index}` };
        assign.set(b.index, n);
        used.add(n);
        take(free.get(n) ?? {}, b.resources);
      }
      return { assign };
    }
    case 'SPREAD': {
      for (const b of bundles) {
        const fits = nodes.filter((c) => fitsIn(free.get(c.nodeId) ?? {}, b.resources));
        const n =
          best(
            fits.filter((c) => !used.has(c.nodeId)),
            free,
            b.resources,
          ) ?? best(fits, free, b.resources);
        if (!n)
          return { wait: `SPREAD: no node has ${JSON.stringify(b.resources)} free for bundle ${b.index}` };
        assign.set(b.index, n);
        used.add(n);
        take(free.get(n) ?? {}, b.resources);
      }
      return { assign };
    }
  }
}

/**
 * Whether each bundle could have a node of its own among `nodes`, were they idle: biggest
 * bundles first, each on the smallest node that holds it (best fit: a greedy matching).
 */
function distinctHosts(bundles: BundleToPlace[], nodes: BundleNode[]): boolean {
  const left = [...nodes];
  const size = (d: Demand) => Object.values(d).reduce((s, v) => s + v, 0);
  for (const b of [...bundles].sort((x, y) => size(y.resources) - size(x.resources))) {
    let pick = -1;
    left.forEach((n, i) => {
      if (!fitsIn(n.total, b.resources)) return;
      const chosen = left[pick];
      if (pick < 0 || (chosen && room(n.total, b.resources) < room(chosen.total, b.resources))) pick = i;
    });
    if (pick < 0) return false;
    left.splice(pick, 1);
  }
  return true;
}

/** The node with the most room for `d` among `candidates` (ties: the first). */
function best(
  candidates: BundleNode[],
  free: Map<string, Record<string, number>>,
  d: Demand,
): string | undefined {
  let out: string | undefined;
  let most = Number.NEGATIVE_INFINITY;
  for (const c of candidates) {
    const r = room(free.get(c.nodeId) ?? {}, d);
    if (r > most + EPS) {
      most = r;
      out = c.nodeId;
    }
  }
  return out;
}
