// How a trainable reaches the workers that run trials: by source text (the default, as sunray
// ships remote functions) or by module and export name (withModule). A trainable shipped by
// source may use sunray/tune and sunray through their imports (`tune.report(...)`,
// `sunray.get(...)`, or a named import `report(...)`): those names are found here and bound in
// the worker to the worker's own modules; any other outside variable is refused now, at run(),
// rather than failing in a worker later.
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AnyNode, type Pattern, type Program, parse } from 'acorn';
import { InvalidArgumentError, SerializationError } from '../index.js';
import { isTrainableClass } from './trainable.js';

/** What a free name of a trainable's source is bound to in the worker. */
export type Binding = 'tune' | 'sunray' | `tune.${string}` | `sunray.${string}`;

/** A trainable as shipped to the trial actors. */
export interface TrainableDef {
  /** A hash of what is shipped: actors cache loaded trainables by it. */
  id: string;
  kind: 'function' | 'class';
  /** The trainable's name (trial names, the experiment's default name). */
  name: string;
  /** An expression evaluating to the trainable ('' when shipped by module). */
  source: string;
  /** The names the source reads from sunray/tune and sunray. */
  bindings: Record<string, Binding>;
  /** Where require()/import() in the source resolve from: the driver's main script directory. */
  baseDir: string;
  /** The module exporting the trainable (withModule), or ''. */
  moduleUrl: string;
  exportName: string;
}

const MODULE = Symbol.for('sunray.tune.module');

/**
 * Ships a trainable by module rather than by source: the workers import moduleUrl (usually
 * `import.meta.url`) and take its export named exportName (default: the trainable's name), so
 * the trainable may use the module's imports and top-level values. Returns the trainable itself.
 */
export function withModule<T extends Function>(trainable: T, moduleUrl: string, exportName?: string): T {
  if (typeof trainable !== 'function')
    throw new InvalidArgumentError('withModule() takes a function or class');
  if (typeof moduleUrl !== 'string' || moduleUrl === '') {
    throw new InvalidArgumentError(
      'withModule(trainable, moduleUrl): moduleUrl is the module URL (import.meta.url)',
    );
  }
  const name = exportName ?? trainable.name;
  if (!name) throw new InvalidArgumentError('withModule(): the trainable has no name; pass its export name');
  Object.defineProperty(trainable, MODULE, { value: { moduleUrl, exportName: name }, configurable: true });
  return trainable;
}

/** Names every worker has: not outside variables. */
const ALWAYS = new Set([
  'require',
  'arguments',
  'undefined',
  'NaN',
  'Infinity',
  '__name',
  '__vite_ssr_dynamic_import__',
  '__vite_ssr_import_meta__',
]);

/** Where require()/import() in shipped source resolve from (as sunray's remote functions). */
function driverDir(): string {
  const main = process.argv[1];
  if (main && !main.includes('node_modules')) return dirname(main);
  return process.cwd();
}

/** The shippable definition of a trainable; throws SerializationError for outside variables. */
export async function makeTrainableDef(trainable: unknown): Promise<TrainableDef> {
  if (typeof trainable !== 'function') {
    throw new InvalidArgumentError(
      `a trainable is a function (config) => metrics or a class extending tune.Trainable, got ${trainable === null ? 'null' : typeof trainable}`,
    );
  }
  const source = Function.prototype.toString.call(trainable);
  const isClass = /^class[\s{]/.test(source);
  if (isClass && !isTrainableClass(trainable)) {
    throw new InvalidArgumentError(`trainable class ${trainable.name} must extend tune.Trainable`);
  }
  const kind = isClass ? 'class' : 'function';
  const name = trainable.name || 'trainable';
  const mod = (trainable as unknown as Record<symbol, { moduleUrl: string; exportName: string } | undefined>)[
    MODULE
  ];
  if (mod) {
    let url = mod.moduleUrl;
    if (!/^[a-z]+:/.test(url)) url = `file://${url}`;
    const baseDir = url.startsWith('file:') ? dirname(fileURLToPath(url)) : driverDir();
    const id = createHash('sha1').update(`${kind}:${url}#${mod.exportName}`).digest('hex').slice(0, 24);
    return { id, kind, name, source: '', bindings: {}, baseDir, moduleUrl: url, exportName: mod.exportName };
  }
  if (source.includes('[native code]')) {
    throw new InvalidArgumentError(
      `trainable ${name} is a native or bound function: wrap it in a plain function`,
    );
  }
  const { expression, free } = analyze(source, name);
  const [tuneNames, sunrayNames] = await exportNames();
  const bindings: Record<string, Binding> = {};
  for (const [v, use] of free) {
    if (ALWAYS.has(v) || v in globalThis) continue;
    const members = [...use.members];
    if (!use.bare && members.length > 0 && members.every((m) => tuneNames.has(m))) bindings[v] = 'tune';
    else if (!use.bare && members.length > 0 && members.every((m) => sunrayNames.has(m)))
      bindings[v] = 'sunray';
    else if (tuneNames.has(v)) bindings[v] = `tune.${v}`;
    else if (sunrayNames.has(v)) bindings[v] = `sunray.${v}`;
    else {
      throw new SerializationError(
        `trainable ${name} reads '${v}' from outside itself, but trainables are shipped to workers by source. ` +
          "Import what it needs inside it (await import('pkg')), pass values through the config, or export it " +
          'from a module and pass tune.withModule(trainable, import.meta.url).',
      );
    }
  }
  const id = createHash('sha1')
    .update(`${kind}:${expression}:${JSON.stringify(bindings)}`)
    .digest('hex')
    .slice(0, 24);
  return {
    id,
    kind,
    name,
    source: expression,
    bindings,
    baseDir: driverDir(),
    moduleUrl: '',
    exportName: '',
  };
}

let names: Promise<[Set<string>, Set<string>]> | undefined;
function exportNames(): Promise<[Set<string>, Set<string>]> {
  names ??= Promise.all([import('./index.js'), import('../index.js')]).then(([t, s]) => [
    new Set(Object.keys(t)),
    new Set(Object.keys(s)),
  ]);
  return names;
}

interface Use {
  bare: boolean;
  members: Set<string>;
}

/**
 * The source as an expression (a method `m() {}` is wrapped in an object literal it is taken out
 * of), and its free names: for each, the properties read from it (`tune.report` → report) and
 * whether it is also used on its own. A name declared anywhere inside counts as declared.
 */
function analyze(source: string, name: string): { expression: string; free: Map<string, Use> } {
  let ast: Program | undefined;
  let expression = source;
  for (const [text, expr] of [
    [`(${source})`, source],
    [`({${source}})`, `((o) => o[Reflect.ownKeys(o)[0]])({${source}\n})`],
  ] as const) {
    try {
      ast = parse(text, { ecmaVersion: 'latest', sourceType: 'script' });
      expression = expr;
      break;
    } catch {
      // next form
    }
  }
  if (!ast) throw new SerializationError(`cannot parse trainable ${name}'s source to ship it to workers`);
  const declared = new Set<string>();
  const uses = new Map<string, Use>();
  const use = (n: string): Use => {
    let u = uses.get(n);
    if (!u) uses.set(n, (u = { bare: false, members: new Set() }));
    return u;
  };
  const pattern = (p: Pattern | null | undefined): void => {
    if (!p) return;
    if (p.type === 'Identifier') declared.add(p.name);
    else if (p.type === 'ObjectPattern')
      for (const q of p.properties) {
        if (q.type === 'RestElement') pattern(q.argument);
        else {
          if (q.computed) visit(q.key);
          pattern(q.value);
        }
      }
    else if (p.type === 'ArrayPattern') for (const e of p.elements) pattern(e);
    else if (p.type === 'AssignmentPattern') {
      pattern(p.left);
      visit(p.right);
    } else if (p.type === 'RestElement') pattern(p.argument);
    else visit(p); // member expressions as assignment targets
  };
  const visit = (n: AnyNode | null | undefined): void => {
    if (!n || typeof n.type !== 'string') return;
    switch (n.type) {
      case 'Identifier':
        use(n.name).bare = true;
        return;
      case 'MemberExpression':
        if (n.object.type === 'Identifier' && !n.computed && n.property.type === 'Identifier') {
          use(n.object.name).members.add(n.property.name);
        } else {
          visit(n.object);
          if (n.computed) visit(n.property);
        }
        return;
      case 'VariableDeclarator':
        pattern(n.id);
        visit(n.init);
        return;
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        if (n.id) declared.add(n.id.name);
        for (const p of n.params) pattern(p);
        visit(n.body);
        return;
      case 'ClassDeclaration':
      case 'ClassExpression':
        if (n.id) declared.add(n.id.name);
        visit(n.superClass);
        visit(n.body);
        return;
      case 'CatchClause':
        pattern(n.param);
        visit(n.body);
        return;
      case 'Property':
      case 'MethodDefinition':
      case 'PropertyDefinition':
        if (n.computed) visit(n.key);
        visit(n.value);
        return;
      case 'LabeledStatement':
        visit(n.body);
        return;
      case 'BreakStatement':
      case 'ContinueStatement':
      case 'MetaProperty':
      case 'PrivateIdentifier':
        return;
      default:
        for (const k of Object.keys(n)) {
          if (k === 'type' || k === 'start' || k === 'end') continue;
          // Any other node: its children, whatever fields hold them.
          const c = (n as unknown as Record<string, unknown>)[k];
          if (Array.isArray(c)) for (const x of c) visit(x as AnyNode | null);
          else if (c && typeof c === 'object') visit(c as AnyNode);
        }
    }
  };
  visit(ast);
  for (const d of declared) uses.delete(d);
  return { expression, free: uses };
}
