// ConcurrencyLimiter: wraps a searcher so that at most maxConcurrent of its trials run at once
// (model-based searchers learn more from finished trials than from many running ones).
import { InvalidArgumentError } from '../index.js';
import type { Config, TrialResult } from './result.js';
import { type Described, FINISHED, type RecordedTrial, Searcher, type SearchProperties } from './searcher.js';

/** Options of ConcurrencyLimiter. */
export interface ConcurrencyLimiterOptions {
  /** Trials of the wrapped searcher running at once at most (>= 1). */
  maxConcurrent: number;
  /** Wait for the whole batch of maxConcurrent trials to end before suggesting the next batch. */
  batch?: boolean;
}

/** A searcher that lets at most maxConcurrent trials of another searcher run at once. */
export class ConcurrencyLimiter extends Searcher {
  /** The wrapped searcher. */
  readonly searcher: Searcher;
  /** The limit. */
  readonly maxConcurrent: number;
  private readonly batch: boolean;
  private readonly live = new Set<string>();
  private batchOpen = true;

  constructor(searcher: Searcher, opts: ConcurrencyLimiterOptions) {
    super();
    if (!(searcher instanceof Searcher))
      throw new InvalidArgumentError('ConcurrencyLimiter wraps a Searcher');
    if (!Number.isInteger(opts?.maxConcurrent) || opts.maxConcurrent < 1) {
      throw new InvalidArgumentError(
        `ConcurrencyLimiter: maxConcurrent must be an integer >= 1, got ${opts?.maxConcurrent}`,
      );
    }
    this.searcher = searcher;
    this.maxConcurrent = opts.maxConcurrent;
    this.batch = opts.batch ?? false;
  }

  override get handlesNumSamples(): boolean {
    return this.searcher.handlesNumSamples;
  }

  override setSearchProperties(props: SearchProperties): boolean {
    const ok = this.searcher.setSearchProperties(props);
    this.metric = this.searcher.metric;
    this.mode = this.searcher.mode;
    return ok;
  }

  suggest(trialId: string): Config | undefined | typeof FINISHED {
    if (this.live.size >= this.maxConcurrent) {
      this.batchOpen = false;
      return undefined;
    }
    if (this.batch && !this.batchOpen) return undefined;
    const s = this.searcher.suggest(trialId);
    if (s !== undefined && s !== FINISHED) {
      this.live.add(trialId);
      if (this.live.size >= this.maxConcurrent) this.batchOpen = false;
    }
    return s;
  }

  override onTrialResult(trialId: string, result: TrialResult): void {
    if (this.live.has(trialId)) this.searcher.onTrialResult(trialId, result);
  }

  override onTrialComplete(trialId: string, result: TrialResult | undefined, error = false): void {
    if (!this.live.delete(trialId)) return;
    this.searcher.onTrialComplete(trialId, result, error);
    if (this.live.size === 0) this.batchOpen = true;
  }

  override restoreFromTrials(trials: readonly RecordedTrial[]): void {
    this.searcher.restoreFromTrials(trials);
    for (const t of trials) if (t.status !== 'TERMINATED' && t.status !== 'ERROR') this.live.add(t.trialId);
    this.batchOpen = this.live.size === 0;
  }

  override describe(): Described | undefined {
    const inner = this.searcher.describe();
    return (
      inner && {
        kind: 'ConcurrencyLimiter',
        options: { searcher: inner, maxConcurrent: this.maxConcurrent, batch: this.batch },
      }
    );
  }
}
