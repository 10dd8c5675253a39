// Node labels as given to init() and `sunray start --labels`: Ray's key and value rules, the
// reserved sunray.io/ prefix, and errors that name the bad label.
import { describe, expect, test } from 'vitest';
import { InvalidArgumentError } from '../../lib/base/errors.js';
import { checkLabels } from '../../lib/protocol/node-labels.js';

describe('node labels', () => {
  test('keys with or without a prefix, values up to 63 characters (or empty)', () => {
    const ok = { zone: 'eu-1', 'example.com/tier': 'gold', 'a.b_c-d': '', gpu: 'A100_80GB' };
    expect(checkLabels(ok, 'init()')).toEqual(ok);
    expect(checkLabels(undefined, 'init()')).toEqual({});
    expect(checkLabels({ k: 'v'.repeat(63) }, 'x')).toEqual({ k: 'v'.repeat(63) });
  });

  test("the autoscaler's own labels may be given (its providers start nodes with them)", () => {
    const own = {
      'sunray.io/node-type': 'gpu',
      'sunray.io/instance': 'demo-0a1b2c3d',
      'sunray.io/autoscaler': 'demo',
    };
    expect(checkLabels(own, 'sunray start')).toEqual(own);
  });

  test('bad keys, values and shapes are refused, naming the label', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ 'sunray.io/node-id': 'x' }, /'sunray.io\/node-id' is sunray's own/],
      [{ '-zone': 'a' }, /label key '-zone' is not valid/],
      [{ 'Bad_Prefix/zone': 'a' }, /label key 'Bad_Prefix\/zone' is not valid/],
      [{ ['k'.repeat(64)]: 'a' }, /is not valid/],
      [{ zone: 'a b' }, /label 'zone' must have a string value/],
      [{ zone: 'v'.repeat(64) }, /label 'zone' must have a string value/],
      [{ zone: 3 }, /got 3/],
      [['zone'], /labels must be an object/],
      ['zone=a', /labels must be an object/],
    ];
    for (const [labels, message] of bad) {
      expect(() => checkLabels(labels, 'init()')).toThrow(InvalidArgumentError);
      expect(() => checkLabels(labels, 'init()')).toThrow(message);
    }
  });
});
