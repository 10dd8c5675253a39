// The messages between the controller (driver) and a trial actor (worker). They are tuples,
// and what is the same for every trial (the trainable, the experiment's names, the worker's
// host and pid) crosses once per actor: a message under sunray's ring slot (512 bytes) travels
// inline, a larger one through the object store, and per-trial overhead is what Tune is judged by.
import type { CheckpointPayload } from './checkpoint.js';
import type { Config, Metrics } from './result.js';
import type { TrainableDef } from './trainable-def.js';

/** What every trial of an experiment shares: sent with an actor's first trial. */
export interface ActorSetup {
  /** Identifies the setup in later requests (random per experiment run). */
  id: number;
  def: TrainableDef;
  experimentName: string;
  experimentId: string;
  experimentPath: string;
  /** Class trainables: save every n iterations (0: never), and at the end. */
  checkpointFrequency: number;
  checkpointAtEnd: boolean;
}

/** Starts (or restarts, from a checkpoint) a trial. */
export type StartRequest = [
  setupId: number,
  trialId: string,
  /** The trial's directory name under the experiment directory. */
  dirName: string,
  config: Config,
  /** The checkpoint to restore from. */
  checkpoint: CheckpointPayload | undefined,
  /** training_iteration and time_total_s at that checkpoint (0 without one). */
  startIteration: number,
  timeTotalOffset: number,
];

/** What the controller tells a running trial. */
export interface StepCommand {
  /** End the trial's session (its function is dropped; a class's cleanup() runs). */
  stop?: boolean;
  /** Save a checkpoint first (class trainables; for a pause or checkpointAtEnd). */
  save?: boolean;
}

/**
 * One reported result: the trainable's metrics, the worker-side timing fields (Ray's
 * training_iteration, time_this_iter_s, time_total_s, time_since_restore), and its checkpoint.
 */
export type StepRecord = [
  metrics: Metrics,
  trainingIteration: number,
  timeThisIterS: number,
  timeTotalS: number,
  timeSinceRestoreS: number,
  checkpoint?: CheckpointPayload,
];

/** An error a trainable threw, as text (the worker's stack included). */
export interface TrialErrorInfo {
  name: string;
  message: string;
  stack: string;
}

/** Where a trial actor runs (Ray's pid, hostname, node_ip; sunray's node id). */
export interface WorkerWhere {
  pid: number;
  hostname: string;
  node_ip: string;
  node_id: string;
}

/** The rare parts of a reply. */
export interface ReplyExtra {
  error?: TrialErrorInfo;
  /** The actor's location: in the reply to the call that installed a setup. */
  where?: WorkerWhere;
  /** A checkpoint saved for a stop with save (class trainables). */
  saved?: CheckpointPayload;
  /** The actor lacks the setup (it was restarted): send start again with it. */
  needSetup?: boolean;
}

/**
 * The reply to start or a step: the results reported since the last call, whether the trial
 * ended (the trainable returned, a class's step said done, or the session was stopped), and the
 * rare parts.
 */
export type StepReply = [results: StepRecord[], done: boolean, extra?: ReplyExtra];
