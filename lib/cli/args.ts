// A small flag parser for the sunray command: --name value, --name=value, and bare --switch.
import { InvalidArgumentError } from '../core/errors.js';

export interface Flags {
  [name: string]: string | true;
}

export function parseFlags(argv: string[], switches: readonly string[]): Flags {
  const out: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new InvalidArgumentError(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (eq > 0) out[name] = a.slice(eq + 1);
    else if (switches.includes(name)) out[name] = true;
    else {
      const v = argv[++i];
      if (v === undefined) throw new InvalidArgumentError(`--${name} needs a value`);
      out[name] = v;
    }
  }
  return out;
}

export function numberFlag(f: Flags, name: string): number | undefined {
  const v = f[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v === true || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`--${name} must be a non-negative number, got '${String(v)}'`);
  }
  return n;
}

export function stringFlag(f: Flags, name: string): string | undefined {
  const v = f[name];
  if (v === true) throw new InvalidArgumentError(`--${name} needs a value`);
  return v;
}
