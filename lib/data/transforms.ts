// The row and batch transforms of a dataset, as plain data that travels with a task, and how a
// worker applies a chain of them (a fused stage) to one block. Rows stay JS objects between
// adjacent row transforms (map, filter, flatMap) and become a table again only at the end of
// the chain or before a batch transform.

import * as arrow from 'apache-arrow';
import { type BatchFormat, tableFromBatch, tableFromRows, toBatch } from './batch.js';
import { concatTables, lazyColumnsOf, type Row, rowsOf } from './block.js';
import { at, must } from './checked.js';
import { SchemaMismatchError } from './errors.js';
import { type FnSpec, loadFn } from './fn-spec.js';

/** One transform of a stage. */
export type Transform =
  | { op: 'map'; fn: FnSpec }
  | { op: 'filter'; fn: FnSpec }
  | { op: 'flatMap'; fn: FnSpec }
  | {
      op: 'mapBatches';
      fn: FnSpec;
      batchSize: number | null;
      batchFormat: BatchFormat;
      /** Arguments of the class's constructor (classes only). */
      ctorArgs: unknown[];
    }
  | { op: 'addColumn'; name: string; fn: FnSpec }
  | { op: 'selectColumns'; cols: string[] }
  | { op: 'dropColumns'; cols: string[] }
  | { op: 'renameColumns'; mapping: Record<string, string> }
  | { op: 'slice'; start: number; end: number };

/** Instances of mapBatches classes, made once per actor (keyed by transform position). */
export type Instances = Map<number, { call(batch: unknown): unknown }>;

/** The data between transforms: a table, or rows after a row transform. */
type Current = { table: arrow.Table } | { rows: Row[] };

function asRows(cur: Current): Row[] {
  return 'rows' in cur ? cur.rows : rowsOf(cur.table);
}

function asTable(cur: Current): arrow.Table {
  return 'table' in cur ? cur.table : tableFromRows(cur.rows);
}

/** The table of columns, in order, or a SchemaMismatchError naming those that are missing. */
function select(table: arrow.Table, cols: string[], op: string): arrow.Table {
  const have = new Set(table.schema.fields.map((f) => f.name));
  const missing = cols.filter((c) => !have.has(c));
  if (missing.length > 0 && table.numRows > 0) {
    throw new SchemaMismatchError(
      `${op}: no column ${missing.map((c) => `'${c}'`).join(', ')} (the columns are ${[...have].map((c) => `'${c}'`).join(', ')})`,
    );
  }
  return table.select(cols.filter((c) => have.has(c)));
}

function rename(table: arrow.Table, mapping: Record<string, string>): arrow.Table {
  const fields = table.schema.fields.map((f) => (mapping[f.name] ? f.clone({ name: mapping[f.name] }) : f));
  const schema = new arrow.Schema(fields, table.schema.metadata);
  return new arrow.Table(
    schema,
    table.batches.map(
      (b) =>
        new arrow.RecordBatch(
          schema,
          arrow.makeData({
            type: new arrow.Struct(fields),
            length: b.numRows,
            children: b.data.children,
            nullCount: 0,
          }),
        ),
    ),
  );
}

/** Makes the instances of the stage's classes (in an actor, once). */
export async function makeInstances(transforms: Transform[]): Promise<Instances> {
  const out: Instances = new Map();
  for (let i = 0; i < transforms.length; i++) {
    const t = at(transforms, i);
    if (t.op === 'mapBatches' && t.fn.isClass) {
      const Cls = (await loadFn(t.fn)) as new (...a: unknown[]) => { call?: unknown };
      const inst = new Cls(...t.ctorArgs);
      if (typeof inst.call !== 'function') {
        throw new TypeError(
          `mapBatches(${t.fn.kind === 'source' ? t.fn.name : t.fn.exportName}): a class given to mapBatches needs a method call(batch) that returns the new batch`,
        );
      }
      out.set(i, inst as { call(batch: unknown): unknown });
    }
  }
  return out;
}

async function runBatches(
  table: arrow.Table,
  t: Extract<Transform, { op: 'mapBatches' }>,
  fn: (b: unknown) => unknown,
): Promise<arrow.Table> {
  const size = t.batchSize ?? table.numRows;
  const outs: arrow.Table[] = [];
  for (
    let start = 0;
    start < table.numRows || (start === 0 && outs.length === 0);
    start += Math.max(1, size)
  ) {
    const slice = start === 0 && size >= table.numRows ? table : table.slice(start, start + size);
    if (slice.numRows === 0 && table.numRows > 0) break;
    const out = await fn(toBatch(slice, t.batchFormat));
    outs.push(tableFromBatch(out, 'mapBatches function'));
    if (table.numRows === 0) break;
  }
  return concatTables(outs);
}

/** Applies a chain of transforms to a table (instances: the actor's class instances). */
export async function applyTransforms(
  input: arrow.Table,
  transforms: Transform[],
  instances?: Instances,
): Promise<arrow.Table> {
  let cur: Current = { table: input };
  for (let i = 0; i < transforms.length; i++) {
    const t = at(transforms, i);
    switch (t.op) {
      case 'map': {
        const fn = (await loadFn(t.fn)) as (r: Row) => Row | Promise<Row>;
        const rows = asRows(cur);
        const out = new Array(rows.length);
        for (let j = 0; j < rows.length; j++) {
          const r = fn(at(rows, j));
          out[j] = r instanceof Promise ? await r : r;
        }
        cur = { rows: out };
        break;
      }
      case 'filter': {
        const fn = (await loadFn(t.fn)) as (r: Row) => unknown;
        const out: Row[] = [];
        for (const r of asRows(cur)) {
          let keep = fn(r);
          if (keep instanceof Promise) keep = await keep;
          if (keep) out.push(r);
        }
        // No rows left: keep the columns (a table of none), so later steps and schema() still see them.
        cur = out.length === 0 && 'table' in cur ? { table: cur.table.slice(0, 0) } : { rows: out };
        break;
      }
      case 'flatMap': {
        const fn = (await loadFn(t.fn)) as (r: Row) => Iterable<Row> | Promise<Iterable<Row>>;
        const out: Row[] = [];
        for (const r of asRows(cur)) {
          let items = fn(r);
          if (items instanceof Promise) items = await items;
          for (const x of items as Iterable<Row>) out.push(x);
        }
        cur = { rows: out };
        break;
      }
      case 'mapBatches': {
        const inst = instances?.get(i);
        let fn: (b: unknown) => unknown;
        if (t.fn.isClass) {
          if (!inst)
            throw new Error('mapBatches with a class runs in an actor pool: its instance is missing');
          fn = (b) => inst.call(b);
        } else {
          fn = (await loadFn(t.fn)) as (b: unknown) => unknown;
        }
        cur = { table: await runBatches(asTable(cur), t, fn) };
        break;
      }
      case 'addColumn': {
        const fn = (await loadFn(t.fn)) as (b: unknown) => unknown;
        const table = asTable(cur);
        const col = await fn(lazyColumnsOf(table));
        const added = tableFromBatch({ [t.name]: col }, `addColumn('${t.name}') function`);
        if (added.numRows !== table.numRows) {
          throw new SchemaMismatchError(
            `addColumn('${t.name}'): the function returned ${added.numRows} values for a batch of ${table.numRows} rows`,
          );
        }
        const kept = table.schema.fields.map((f) => f.name).filter((n) => n !== t.name);
        const cols: Record<string, arrow.Vector> = {};
        for (const n of kept) cols[n] = must(table.getChild(n));
        cols[t.name] = must(added.getChild(t.name));
        cur = { table: new arrow.Table(cols) };
        break;
      }
      case 'selectColumns':
        cur = { table: select(asTable(cur), t.cols, 'selectColumns') };
        break;
      case 'dropColumns': {
        const table = asTable(cur);
        const drop = new Set(t.cols);
        cur = { table: table.select(table.schema.fields.map((f) => f.name).filter((n) => !drop.has(n))) };
        break;
      }
      case 'renameColumns':
        cur = { table: rename(asTable(cur), t.mapping) };
        break;
      case 'slice':
        cur = { table: asTable(cur).slice(t.start, t.end) };
        break;
    }
  }
  return asTable(cur);
}
