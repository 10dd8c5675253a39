// sunray/data: streaming datasets on Apache Arrow blocks in the shared-memory object store
// (Ray Data for Node). Sources make a lazy Dataset; transforms add operators; consuming it
// runs a streaming executor of tasks and actor pools under a memory budget (docs/data.md).
// Written on sunray's public API alone.

/**
 * Streaming datasets on Apache Arrow blocks (Ray Data): sources, transforms, aggregations, sinks.
 *
 * @module sunray/data
 */

export type { AggSpec } from './aggregate.js';
export type { Batch, BatchFormat, Columns } from './batch.js';
export type { BlockMeta, Row } from './block.js';
export { DataContext, type ProgressMode } from './context.js';
export {
  type BatchClass,
  type BatchResult,
  Dataset,
  type MapBatchesOptions,
  type MapOptions,
  type Renamed,
  type WriteOptions,
} from './dataset.js';
export { DataSinkError, DataSourceError, SchemaMismatchError, StreamingSplitError } from './errors.js';
export { GroupedData } from './grouped.js';
export type { IterBatchesOptions } from './iterate.js';
export {
  fromArrow,
  fromItems,
  type ItemRow,
  type Paths,
  range,
  readBinaryFiles,
  readCsv,
  readJson,
  readParquet,
  readText,
} from './read-api.js';
export type { CsvOptions } from './sources/csv.js';
export type { ReadOptions } from './sources/read-plan.js';
export { DataIterator } from './split.js';
