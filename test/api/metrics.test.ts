// Prometheus metrics on one node: init({ metricsPort }) serves /metrics on 127.0.0.1 with the
// node's tasks, actors, workers, store, latencies and machine, and the metrics a program
// defines with sunray/metrics, updated from the driver, a task and an actor. The text passes
// `promtool check metrics` (Debian's prometheus package; .ci/run installs it).
import { spawnSync } from 'node:child_process';
import * as sunray from 'sunray';
import { Counter, Gauge, Histogram } from 'sunray/metrics';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { until } from '../helpers.js';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
let address = '';

beforeAll(async () => {
  await sunray.init({ numCpus: 2, objectStoreMemory: 64 << 20, metricsPort: 0 });
  address = (await sunray.metricsAddress()) ?? '';
});
afterAll(async () => {
  await sunray.shutdown();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of Prometheus' text format. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(`http://${address}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, samples: parse(text) };
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

class Shop {
  sell(n: number) {
    return import('sunray/metrics').then((m) => {
      const sold = new m.Histogram('shop_sale_size', { boundaries: [1, 5, 10], tagKeys: ['shop'] });
      sold.observe(n, { shop: 'north' });
      return n;
    });
  }
}

describe('metrics', () => {
  test("/metrics: the node, its tasks and a program's own metrics from the driver, a task and an actor", async () => {
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    const [node] = await sunray.nodes();
    const requests = new Counter('shop_requests_total', {
      description: 'requests served',
      tagKeys: ['route'],
    });
    requests.inc(1, { route: 'a' });
    requests.inc(2, { route: 'a' });
    new Gauge('shop_queue_length', { tagKeys: ['shop'] }).setDefaultTags({ shop: 'north' }).set(7);
    const fromTask = sunray.remote(async (n: number) => {
      const m = await import('sunray/metrics');
      new m.Counter('shop_requests_total', { description: 'requests served', tagKeys: ['route'] }).inc(n, {
        route: 'b',
      });
      return n;
    });
    await sunray.get([fromTask.remote(2), fromTask.remote(3)]);
    const shop = sunray.remote(Shop).remote();
    await sunray.get([shop.sell.remote(3), shop.sell.remote(8)]);
    const kept = sunray.put(Buffer.alloc(1 << 20));
    const boom = sunray.remote(() => {
      throw new Error('no');
    });
    await sunray.get(boom.remote()).catch(() => {});

    // Workers send their updates once a second.
    let samples: Sample[] = [];
    await until(
      async () => {
        samples = (await scrape()).samples;
        return (
          value(samples, 'shop_requests_total', { route: 'b' }) === 5 &&
          value(samples, 'shop_sale_size_count') === 2
        );
      },
      10_000,
      'the task and actor updates on /metrics',
    );
    expect(value(samples, 'shop_requests_total', { route: 'a', node_id: node?.nodeId ?? '' })).toBe(3);
    expect(value(samples, 'shop_queue_length', { shop: 'north' })).toBe(7);
    expect(value(samples, 'shop_sale_size_bucket', { shop: 'north', le: '5' })).toBe(1);
    expect(value(samples, 'shop_sale_size_bucket', { shop: 'north', le: '10' })).toBe(2);
    expect(value(samples, 'shop_sale_size_sum')).toBe(11);

    expect(value(samples, 'sunray_tasks_finished_total')).toBeGreaterThanOrEqual(5);
    expect(value(samples, 'sunray_tasks_failed_total')).toBeGreaterThanOrEqual(1);
    expect(value(samples, 'sunray_actors', { state: 'ALIVE' })).toBe(1);
    expect(value(samples, 'sunray_workers', { state: 'ACTOR' })).toBe(1);
    expect(value(samples, 'sunray_object_store_used_bytes')).toBeGreaterThanOrEqual(1 << 20);
    expect(value(samples, 'sunray_object_store_capacity_bytes')).toBeGreaterThanOrEqual(60 << 20);
    expect(value(samples, 'sunray_task_duration_seconds_count')).toBeGreaterThanOrEqual(5);
    expect(value(samples, 'sunray_scheduling_latency_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(value(samples, 'sunray_node_cpus')).toBeGreaterThan(0);
    expect(value(samples, 'sunray_node_mem_total_bytes')).toBeGreaterThan(0);
    expect(value(samples, 'sunray_node_process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(samples.every((s) => s.labels.node_id === node?.nodeId)).toBe(true);
    kept.release?.();
    sunray.kill(shop);

    expect((await fetch(`http://${address}/other`)).status).toBe(404);
  });

  test.skipIf(!hasPromtool)('the text passes promtool check metrics', async () => {
    const { text } = await scrape();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  test('bad names, tags and values throw InvalidArgumentError', () => {
    expect(() => new Counter('9lives')).toThrow(sunray.InvalidArgumentError);
    expect(() => new Counter('ok', { tagKeys: ['node_id'] })).toThrow(/node_id/);
    expect(() => new Histogram('h', { boundaries: [2, 1] })).toThrow(/increasing/);
    const c = new Counter('needs_tags', { tagKeys: ['route'] });
    expect(() => c.inc(1)).toThrow(/no value for tag route/);
    expect(() => c.inc(1, { colour: 'red' } as never)).toThrow(/no tag key "colour"/);
    expect(() => c.inc(-1, { route: 'a' })).toThrow(/> 0/);
    expect(() => new Gauge('g').set(Number.NaN)).toThrow(/finite/);
  });
});
