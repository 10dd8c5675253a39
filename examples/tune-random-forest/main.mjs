// The Ray Tune example the sunray project started from: a grid search over a random
// forest's hyperparameters on the iris data set, one CPU per trial, in parallel.
//
//   node examples/tune-random-forest/main.mjs            the full grid: 108 configs x 10 samples
//   node examples/tune-random-forest/main.mjs --quick    a small grid (4 configs), for a quick look
//   options: --num-cpus N, --num-samples N, --storage-path DIR, --verbose 0|1|2
import { parseArgs } from 'node:util';
import * as sunray from 'sunray';
import * as tune from 'sunray/tune';
import { trainRf } from './train-rf.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'num-cpus': { type: 'string', default: '4' },
    'num-samples': { type: 'string' },
    'storage-path': { type: 'string' },
    verbose: { type: 'string', default: '1' },
  },
});

await sunray.init({ numCpus: Number(args['num-cpus']) });
const searchSpace = args.quick
  ? {
      nEstimators: tune.gridSearch([10, 50]),
      maxDepth: tune.gridSearch([null, 10]),
      minSamplesSplit: tune.gridSearch([2]),
      minSamplesLeaf: tune.gridSearch([1]),
    }
  : {
      nEstimators: tune.gridSearch([10, 50, 100]),
      maxDepth: tune.gridSearch([null, 10, 20, 30]),
      minSamplesSplit: tune.gridSearch([2, 5, 10]),
      minSamplesLeaf: tune.gridSearch([1, 2, 4]),
    };
const analysis = await tune.run(trainRf, {
  config: searchSpace,
  metric: 'accuracy',
  mode: 'max',
  resourcesPerTrial: { cpu: 1 },
  numSamples: Number(args['num-samples'] ?? (args.quick ? 1 : 10)),
  verbose: Number(args.verbose),
  ...(args['storage-path'] ? { storagePath: args['storage-path'] } : {}),
});
console.log(analysis.bestConfig, analysis.bestResult.accuracy);
await sunray.shutdown();
