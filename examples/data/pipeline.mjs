// A sunray/data pipeline: CSV files in, a column added by a pool of two actors (a "model" loaded
// once per actor), grouped statistics, and Parquet out, then the Parquet read back.
// Run: `node examples/data/pipeline.mjs` after `npm run compile:ts`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sunray from 'sunray';
import * as data from 'sunray/data';

const dir = mkdtempSync(join(tmpdir(), 'sunray-data-example-'));
try {
  for (let f = 0; f < 4; f++) {
    const lines = ['id,city,temp'];
    for (let i = 0; i < 25_000; i++)
      lines.push(`${f * 25_000 + i},${['Oslo', 'Rome', 'Lima'][i % 3]},${(i % 40) - 5}`);
    writeFileSync(join(dir, `part-${f}.csv`), `${lines.join('\n')}\n`);
  }
  await sunray.init();
  data.DataContext.getCurrent().progress = 'off';

  // Stateful work: each actor builds its "model" once, then labels batches.
  class Labeler {
    constructor(threshold) {
      this.threshold = threshold;
    }
    call(batch) {
      return { ...batch, hot: Array.from(batch.temp, (t) => t > this.threshold) };
    }
  }

  const ds = data
    .readCsv(join(dir, '*.csv'))
    .filter((r) => r.temp > 0)
    .mapBatches(Labeler, { concurrency: 2, fnConstructorArgs: [25], batchSize: 4096 });

  console.log('schema:', (await ds.schema())?.fields.map((f) => `${f.name}: ${f.type}`).join(', '));
  console.log('per city:', await ds.groupby('city').mean('temp').takeAll());
  await ds.writeParquet(join(dir, 'out'));
  const back = data.readParquet(join(dir, 'out'));
  console.log('rows written:', await back.count(), 'hot:', await back.filter((r) => r.hot).count());
  console.log(ds.stats());
} finally {
  await sunray.shutdown();
  rmSync(dir, { recursive: true, force: true });
}
