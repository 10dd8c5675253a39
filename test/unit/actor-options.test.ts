// Actor-creation options (protocol/actor-options.ts): what the API writes into an
// ActorCreate spec is what the hosting and the placing node read back, with Ray's defaults.
import { describe, expect, test } from 'vitest';
import {
  ACTOR_PLACE_DEMAND,
  type ActorCreateOptions,
  actorHoldDemand,
  actorPlaceDemand,
  decodeActorOptions,
  encodeActorOptions,
  restartBudget,
} from '../../lib/protocol/actor-options.js';

const opts: ActorCreateOptions = {
  name: 'counter',
  namespace: 'ns',
  getIfExists: true,
  detached: true,
  maxRestarts: 3,
  maxTaskRetries: -1,
  methods: ['inc', 'get'],
  className: 'Counter',
  explicitResources: true,
  isolation: 'process',
  actorsPerProcess: 1000,
};

describe('actor create options', () => {
  test('read back as written', () => {
    expect(decodeActorOptions(encodeActorOptions(opts))).toEqual(opts);
    const { name: _, ...unnamed } = opts;
    expect(decodeActorOptions(encodeActorOptions(unnamed))).toEqual(unnamed);
    const grouped = { ...opts, concurrencyGroups: { io: 10, compute: 1 } };
    expect(decodeActorOptions(encodeActorOptions(grouped))).toEqual(grouped);
    const shared = { ...opts, isolation: 'shared' as const, actorsPerProcess: 50 };
    expect(decodeActorOptions(encodeActorOptions(shared))).toEqual(shared);
  });

  test('a shared actor needs no CPU to be placed unless it asks; a process actor keeps the default', () => {
    const shared = decodeActorOptions(JSON.stringify({ isolation: 'shared' }));
    expect(shared).toMatchObject({ isolation: 'shared', actorsPerProcess: 1000 });
    expect(actorPlaceDemand(shared, {})).toEqual({});
    expect(actorPlaceDemand({ ...shared, explicitResources: true }, { CPU: 1 })).toEqual({ CPU: 1 });
    expect(decodeActorOptions('').isolation).toBe('process');
  });

  test('a budget without end: negative or Infinity, which JSON cannot carry, reads back as Infinity', () => {
    for (const n of [-1, Number.POSITIVE_INFINITY]) {
      const back = decodeActorOptions(encodeActorOptions({ ...opts, maxRestarts: n, maxTaskRetries: n }));
      expect([restartBudget(back.maxRestarts), restartBudget(back.maxTaskRetries)]).toEqual([
        Number.POSITIVE_INFINITY,
        Number.POSITIVE_INFINITY,
      ]);
    }
    expect(restartBudget(0)).toBe(0);
    expect(restartBudget(4)).toBe(4);
  });

  test("Ray's defaults: one CPU to place an actor that asked for nothing, and nothing held after", () => {
    const plain = decodeActorOptions('');
    expect(plain).toMatchObject({
      namespace: 'default',
      maxRestarts: 0,
      maxTaskRetries: 0,
      explicitResources: false,
    });
    expect(actorPlaceDemand(plain, { CPU: 0 })).toEqual({ CPU: 1 });
    expect(actorPlaceDemand(plain, {})).toBe(ACTOR_PLACE_DEMAND);
    expect(actorHoldDemand(plain, {})).toEqual({});
    expect(actorPlaceDemand(opts, { GPU: 1 })).toEqual({ GPU: 1 });
    expect(actorHoldDemand(opts, { GPU: 1 })).toEqual({ GPU: 1 });
  });
});
