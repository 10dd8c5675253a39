// The autoscaling decision, as Ray Serve's default policy makes it: the load is the number of
// requests ongoing in the replicas plus those queued at callers, averaged over a look-back
// window; the replicas wanted are load / targetOngoingRequests rounded up, within
// [minReplicas, maxReplicas]. A change is made only after the load has asked for it
// continuously for upscaleDelayMs (more) or downscaleDelayMs (fewer); from zero replicas, any
// load brings one up at once. Pure: the controller feeds it samples and the time.
import type { AutoscalingConfig } from './config.js';

/** What the policy remembers between decisions for one deployment. */
export interface AutoscalingState {
  /** [time, total load] samples inside the look-back window. */
  samples: Array<[number, number]>;
  /** Since when the load has asked for more replicas (undefined: it does not). */
  upSince?: number;
  /** Since when it has asked for fewer. */
  downSince?: number;
}

/** A fresh state. */
export function newAutoscalingState(): AutoscalingState {
  return { samples: [] };
}

/** Records the total load (ongoing + queued requests over all replicas) at time now. */
export function recordLoad(s: AutoscalingState, now: number, total: number, lookBackMs: number): void {
  s.samples.push([now, total]);
  while (s.samples.length > 1 && (s.samples[0]?.[0] ?? now) < now - lookBackMs) s.samples.shift();
}

/** The mean load over the window (0 with no samples). */
export function averageLoad(s: AutoscalingState): number {
  if (s.samples.length === 0) return 0;
  let sum = 0;
  for (const [, v] of s.samples) sum += v;
  return sum / s.samples.length;
}

/** The replicas the load asks for, before any delay. */
export function desiredReplicas(cfg: Required<AutoscalingConfig>, current: number, load: number): number {
  if (current === 0 && load > 0) return Math.max(1, cfg.minReplicas);
  const want = Math.ceil(load / cfg.targetOngoingRequests - 1e-9);
  return Math.min(cfg.maxReplicas, Math.max(cfg.minReplicas, want));
}

/** The number of replicas to run now: `current` unless the load has asked for another long enough. */
export function decideReplicas(
  cfg: Required<AutoscalingConfig>,
  current: number,
  s: AutoscalingState,
  now: number,
): number {
  const load = averageLoad(s);
  const want = desiredReplicas(cfg, current, load);
  if (want > current) {
    s.downSince = undefined;
    s.upSince ??= now;
    if (current === 0 || now - s.upSince >= cfg.upscaleDelayMs) {
      s.upSince = undefined;
      return want;
    }
  } else if (want < current) {
    s.upSince = undefined;
    s.downSince ??= now;
    if (now - s.downSince >= cfg.downscaleDelayMs) {
      s.downSince = undefined;
      // The samples were taken with more replicas: start the next decision afresh.
      s.samples = [];
      return want;
    }
  } else {
    s.upSince = undefined;
    s.downSince = undefined;
  }
  return current;
}
