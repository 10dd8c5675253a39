// The flags of the sunray command's verbs: each verb declares its flags once (name,
// switch or value, help line); this module parses them with node:util parseArgs in
// strict mode, so an unknown or misspelled flag is an error that names it (the CLI
// exits 2), and prints each verb's --help from the same declarations.
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../base/errors.js';

/** One flag of a verb. */
export interface FlagSpec {
  /** 'string' takes a value (--name VALUE or --name=VALUE); 'boolean' is a switch. */
  type: 'string' | 'boolean';
  /** How the value is shown in --help, e.g. 'HOST:PORT'. */
  value?: string;
  help: string;
  /** A value flag that may be given more than once (its values come as a string[]). */
  multiple?: boolean;
}

/** A verb's command line: what --help prints and what parseFlags accepts. */
export interface VerbSpec {
  name: string;
  /** The line after the usage line in --help. */
  summary: string;
  flags: Record<string, FlagSpec>;
  /** More text after the flags in --help. */
  details?: string;
}

/** Parsed flags by name: a string for value flags, true for switches given. */
export interface Flags {
  [name: string]: string | boolean | string[] | undefined;
}

/** A command line that cannot be right (unknown flag, missing value): the CLI exits 2. */
export class UsageError extends InvalidArgumentError {
  static override readonly code: string = 'SUNRAY_USAGE';
}

const HELP: FlagSpec = { type: 'boolean', help: 'print these flags and exit' };

/** The verb's --help text. */
export function usage(verb: VerbSpec): string {
  const flags = Object.entries({ ...verb.flags, help: HELP });
  const shown = flags.map(([name, f]) => `--${name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`);
  const width = Math.max(...shown.map((s) => s.length)) + 2;
  const lines = [`usage: sunray ${verb.name} [flags]`, '', verb.summary, '', 'flags:'];
  flags.forEach(([, f], i) => {
    lines.push(`  ${(shown[i] ?? '').padEnd(width)}${f.help}`);
  });
  if (verb.details) lines.push('', verb.details);
  return `${lines.join('\n')}\n`;
}

/** Parses argv against the verb's flags; `help` is true for --help or -h. Throws UsageError. */
export function parseFlags(verb: VerbSpec, argv: string[]): Flags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, f] of Object.entries(verb.flags))
    options[name] = f.multiple ? { type: f.type, multiple: true } : { type: f.type };
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Flags;
  } catch (err) {
    throw new UsageError(explain(verb, err as NodeJS.ErrnoException));
  }
}

/** parseArgs' message, said as this command would. */
function explain(verb: VerbSpec, err: NodeJS.ErrnoException): string {
  const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? '';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const near = closest(quoted.replace(/^-+/, ''), Object.keys(verb.flags));
      return `unknown flag ${quoted}${near ? ` (did you mean --${near}?)` : ''}`;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted}' (flags are --name VALUE)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = quoted.split(' ')[0] ?? quoted;
      if (/does not take an argument/.test(err.message)) return `${flag} is a switch and takes no value`;
      if (/ambiguous/.test(err.message))
        return `${flag} needs a value, not another flag (for a value that starts with '-', write ${flag}=VALUE)`;
      return `${flag} needs a value`;
    }
    default:
      return err.message;
  }
}

/** The flag name nearest to a misspelling (at most 2 edits away, or one containing the other). */
function closest(name: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const n of names) {
    const d = n.startsWith(name) || name.startsWith(n) ? 1 : distance(name, n);
    if (d < bestD) {
      best = n;
      bestD = d;
    }
  }
  return best;
}

/** Levenshtein distance (rows of the table, indexed by positions that always exist). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const subst = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, subst);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** A flag that must be a number >= 0 (undefined when not given). */
export function numberFlag(f: Flags, name: string): number | undefined {
  const v = f[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${name} must be a non-negative number, got '${String(v)}'`);
  }
  return n;
}

/** A value flag's string (undefined when not given). */
export function stringFlag(f: Flags, name: string): string | undefined {
  const v = f[name];
  if (typeof v === 'boolean') throw new UsageError(`--${name} needs a value`);
  return Array.isArray(v) ? v.at(-1) : v;
}

/** The values of a flag given any number of times (FlagSpec.multiple). */
export function stringFlags(f: Flags, name: string): string[] {
  const v = f[name];
  if (typeof v === 'boolean') throw new UsageError(`--${name} needs a value`);
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
