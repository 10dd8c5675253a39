// The source shipped for a remote function (function-source.ts), without processes: it is
// an expression that evaluates to an equivalent function, whatever form the function had.
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { shippableSource } from '../../lib/api/function-source.js';
import { InvalidArgumentError, SerializationError } from '../../lib/base/errors.js';

const evaluate = (source: string) => vm.runInThisContext(`(${source}\n)`) as (...a: unknown[]) => unknown;

describe('shippable source', () => {
  it('functions, arrows and classes ship as they are', () => {
    for (const s of ['function f(x) { return x }', '(x) => x', 'async x => x', 'class A {}'])
      expect(shippableSource(s, 'f')).toBe(s);
  });

  it('methods ship wrapped, and evaluate back to a method of that name', async () => {
    const cases: Array<[string, unknown[], unknown, string]> = [
      ['m(x) { return x + 1 }', [1], 2, 'm'],
      ['async m(x) { return x * 2 }', [2], 4, 'm'],
      ['"quoted key"(a) { return a }', ['q'], 'q', 'quoted key'],
      ['[Symbol.iterator]() { return 7 }', [], 7, '[Symbol.iterator]'],
      ['42(a) { return -a }', [3], -3, '42'],
      ['get(x) { return x }', [5], 5, 'get'],
    ];
    for (const [source, args, result, name] of cases) {
      const fn = evaluate(shippableSource(source, 'm'));
      expect(typeof fn, source).toBe('function');
      expect(fn.name, source).toBe(name);
      expect(await fn(...args), source).toEqual(result);
    }
  });

  it('refuses getters and setters, and outside variables of a method', () => {
    expect(() => shippableSource('get p() { return 1 }', 'g')).toThrow(InvalidArgumentError);
    expect(() => shippableSource('set p(v) {}', 's')).toThrow(/setter/);
    expect(() => shippableSource('m() { return outside }', 'm')).toThrow(SerializationError);
  });

  it('a computed key is not evaluated in the worker: the method keeps its name', () => {
    for (const s of ['[key]() { return 1 }', 'async [ make(key) ] () { return 1 }', '*[key]() {}']) {
      const shipped = shippableSource(s, 'm', 'theName');
      expect(shipped).not.toMatch(/key/);
      expect(evaluate(shipped).name).toBe('theName');
    }
    // A key the brackets cannot be found around is shipped as written, so its variable is named.
    expect(() => shippableSource('[/* c */ key]() {}', 'm', 'x')).toThrow(/'key'/);
  });
});
