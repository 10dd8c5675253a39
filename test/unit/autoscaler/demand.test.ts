// The demand the autoscaler reads from the head's table: shape keys read back, infeasible
// tasks and actors and waiting actors one entry each, dead nodes left out; the standing
// request read from the KV, a bad value counting as none.
import { describe, expect, test } from 'vitest';
import { demandShapes, parseRequest } from '../../../lib/autoscaler/demand.js';
import { shapeOfKey } from '../../../lib/protocol/autoscaler.js';
import { classKey } from '../../../lib/protocol/resources.js';
import { nodeInfo } from '../../cluster/parts/fakes.js';

describe('demand from heartbeats', () => {
  test('shape keys as nodes report them read back into resources', () => {
    expect(shapeOfKey(classKey({ CPU: 1, special: 1 }))).toEqual({ CPU: 1, special: 1 });
    expect(shapeOfKey(`actor ${classKey({ CPU: 0.5 })}`)).toEqual({ CPU: 0.5 });
    expect(shapeOfKey('{}')).toEqual({});
    expect(shapeOfKey('CPU')).toBeUndefined();
    expect(shapeOfKey('CPU=x')).toBeUndefined();
  });

  test('infeasible shapes and waiting actors of alive nodes, one entry per task or actor', () => {
    const a = { ...nodeInfo('aa'.repeat(16)), infeasible: { 'CPU=1,special=1': 2, 'actor GPU=1': 1 } };
    const b = { ...nodeInfo('bb'.repeat(16)), waitingActors: { 'actor CPU=1': 1 } };
    const dead = { ...nodeInfo('cc'.repeat(16), false), infeasible: { 'CPU=9': 4 } };
    expect(demandShapes([a, b, dead])).toEqual([
      { CPU: 1, special: 1 },
      { CPU: 1, special: 1 },
      { GPU: 1 },
      { CPU: 1 },
    ]);
  });

  test('the standing request from the KV', () => {
    expect(parseRequest(undefined)).toEqual([]);
    expect(parseRequest(Buffer.from('[{"CPU":1},{"special":2}]'))).toEqual([{ CPU: 1 }, { special: 2 }]);
    expect(parseRequest(Buffer.from('[{"CPU":-1},{"CPU":"x"},3,{"GPU":1}]'))).toEqual([{ GPU: 1 }]);
    expect(parseRequest(Buffer.from('not json'))).toEqual([]);
    expect(parseRequest(Buffer.from('{"CPU":1}'))).toEqual([]);
  });
});
