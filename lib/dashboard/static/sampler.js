// The cluster's numbers, sampled once a second while the page is open (GET /api/cluster):
// every node with its usage, actors by state. Keeps the last samples so that the live
// chart has a past whichever view was open, and turns the nodes' running totals into rates.

import { api } from './lib.js';

/** Samples kept: three minutes at one a second. */
const KEEP = 180;
const samples = [];
const listeners = new Set();
let timer;
let lastError = '';

/** The samples so far, oldest first. */
export function history() {
  return samples;
}

/** The latest sample, or undefined before the first. */
export function latest() {
  return samples[samples.length - 1];
}

/** The last problem asking for a sample ('' when the last one came). */
export function problem() {
  return lastError;
}

/** Calls fn with each new sample (and the latest at once); returns what stops it. */
export function subscribe(fn) {
  listeners.add(fn);
  const s = latest();
  if (s) fn(s);
  return () => listeners.delete(fn);
}

async function tick() {
  try {
    const s = await api('cluster');
    samples.push(s);
    if (samples.length > KEEP) samples.shift();
    lastError = '';
    for (const fn of listeners) fn(s);
  } catch (err) {
    lastError = err.message;
    for (const fn of listeners) fn(undefined);
  }
  timer = setTimeout(tick, 1000);
}

/** Starts sampling (once). */
export function start() {
  if (timer === undefined) tick();
}

/**
 * Tasks per second between each two samples: per node, the attempts that ended since the
 * one before (a node that went away or restarted counts 0), over the time between them.
 */
export function taskRates() {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const before = new Map(a.nodes.filter((n) => n.usage).map((n) => [n.nodeId, n.usage.tasksEnded]));
    let ended = 0;
    for (const n of b.nodes) {
      const was = before.get(n.nodeId);
      if (n.usage && was !== undefined) ended += Math.max(0, n.usage.tasksEnded - was);
    }
    const dt = (b.timeMs - a.timeMs) / 1000;
    if (dt > 0) out.push([b.timeMs, ended / dt]);
  }
  return out;
}

/** Store bytes in use over the alive nodes, per sample (and their capacity). */
export function storeUsage() {
  return samples.map((s) => {
    let used = 0;
    let capacity = 0;
    for (const n of s.nodes) {
      used += n.usage?.store?.used ?? 0;
      capacity += n.usage?.store?.capacity ?? 0;
    }
    return [s.timeMs, used, capacity];
  });
}
