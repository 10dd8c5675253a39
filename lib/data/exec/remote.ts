// The remote functions and actor class of tasks.ts, made remote once per process, by module:
// workers import dist/data/tasks.js and take them by name (no source shipping, so they may
// use their module's imports).
import * as sunray from '../../index.js';
import { DataMapActor, dataMapTask, dataPartitionTask, dataReduceTask, dataSampleTask } from '../tasks.js';

const MODULE = new URL('../tasks.js', import.meta.url).href;

interface Remotes {
  map: sunray.RemoteFunction<Parameters<typeof dataMapTask>, ReturnType<typeof dataMapTask>>;
  partition: sunray.RemoteFunction<Parameters<typeof dataPartitionTask>, unknown[]>;
  reduce: sunray.RemoteFunction<Parameters<typeof dataReduceTask>, ReturnType<typeof dataReduceTask>>;
  sample: sunray.RemoteFunction<Parameters<typeof dataSampleTask>, unknown[][]>;
  actor: sunray.ActorClass<typeof DataMapActor>;
}

let remotes: Remotes | undefined;

/** The remote functions of sunray/data (made on first use). */
export function remoteFns(): Remotes {
  remotes ??= {
    map: sunray.remote(dataMapTask, { module: MODULE }),
    partition: sunray.remote(dataPartitionTask, { module: MODULE }),
    reduce: sunray.remote(dataReduceTask, { module: MODULE }),
    sample: sunray.remote(dataSampleTask, { module: MODULE }),
    actor: sunray.remote(DataMapActor, { module: MODULE }),
  };
  return remotes;
}
