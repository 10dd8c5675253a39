// Remote functions are shipped by source text, so a function that reads a
// variable from its surrounding scope would find it missing in the worker.
// This finds such variables when `remote` is called, so the mistake surfaces
// at the line that made it rather than as a ReferenceError in a worker later.
// It also turns the source into an expression a worker can evaluate: a method
// (`{ m(x) {} }.m`, or a class's static `A.f`) prints as `m(x) {}`, which is
// no expression on its own.
import { createRequire } from 'node:module';
import type { AnyNode, Options, Pattern, Program, Property } from 'acorn';
import { InvalidArgumentError, SerializationError } from '../base/errors.js';

/**
 * acorn's parse, loaded on first use: a worker that never makes a remote function of its
 * own never loads the parser (a quarter of a worker process's start, measured).
 */
let acornParse: ((input: string, options: Options) => Program) | undefined;
function parse(input: string, options: Options): Program {
  acornParse ??= (createRequire(import.meta.url)('acorn') as typeof import('acorn')).parse;
  return acornParse(input, options);
}

// Free names that are fine: what every worker has.
const ALWAYS_AVAILABLE = new Set([
  'require',
  'arguments',
  'undefined',
  'NaN',
  'Infinity',
  '__name', // esbuild's keepNames helper (tsx, vitest)
  '__vite_ssr_dynamic_import__', // Vite/Vitest's rewrite of import()
]);

interface Parsed {
  ast: Program;
  /** 'method': the source is a method (`m() {}`, `async m() {}`), parsed inside an object literal. */
  form: 'expression' | 'method';
}

/** Parses a function's or class's source; methods (`m() {}`) are parsed inside an object literal. */
function parseSource(source: string): Parsed {
  const attempts: Array<[string, Parsed['form']]> = [
    [`(${source})`, 'expression'],
    [`({${source}})`, 'method'],
  ];
  let lastError: unknown;
  for (const [text, form] of attempts) {
    try {
      return { ast: parse(text, { ecmaVersion: 'latest', sourceType: 'script' }), form };
    } catch (err) {
      lastError = err;
    }
  }
  throw new SerializationError(
    `cannot parse the function's source to ship it to workers (${(lastError as Error).message}). ` +
      'Native and bound functions have no source: wrap them in a plain function.',
  );
}

/**
 * The names a function reads from outside itself. Deliberately simple: a name
 * declared anywhere inside counts as declared everywhere inside, so it can
 * miss a use outside the declaring block, but never rejects a correct function.
 */
export function freeVariables(source: string): string[] {
  return freeVariablesOf(parseSource(source).ast);
}

function freeVariablesOf(ast: Program): string[] {
  const declared = new Set<string>();
  const referenced = new Set<string>();

  const declarePattern = (p: Pattern | null | undefined): void => {
    if (!p) return;
    switch (p.type) {
      case 'Identifier':
        declared.add(p.name);
        break;
      case 'ObjectPattern':
        for (const prop of p.properties) {
          if (prop.type === 'RestElement') declarePattern(prop.argument);
          else {
            if (prop.computed) visit(prop.key);
            declarePattern(prop.value);
          }
        }
        break;
      case 'ArrayPattern':
        for (const el of p.elements) declarePattern(el);
        break;
      case 'AssignmentPattern':
        declarePattern(p.left);
        visit(p.right);
        break;
      case 'RestElement':
        declarePattern(p.argument);
        break;
      default:
        visit(p); // member expressions as assignment targets
    }
  };

  const visit = (n: AnyNode | null | undefined): void => {
    if (!n || typeof n.type !== 'string') return;
    switch (n.type) {
      case 'Identifier':
        referenced.add(n.name);
        return;
      case 'VariableDeclarator':
        declarePattern(n.id);
        visit(n.init);
        return;
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        if (n.id) declared.add(n.id.name);
        for (const p of n.params) declarePattern(p);
        visit(n.body);
        return;
      case 'ClassDeclaration':
      case 'ClassExpression':
        if (n.id) declared.add(n.id.name);
        visit(n.superClass);
        visit(n.body);
        return;
      case 'CatchClause':
        declarePattern(n.param);
        visit(n.body);
        return;
      case 'MemberExpression':
        visit(n.object);
        if (n.computed) visit(n.property);
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
        for (const key of Object.keys(n)) {
          if (key === 'type' || key === 'start' || key === 'end') continue;
          // Any other node: its children, whatever fields hold them.
          const child = (n as unknown as Record<string, unknown>)[key];
          if (Array.isArray(child)) for (const c of child) visit(c as AnyNode | null);
          else if (child && typeof child === 'object') visit(child as AnyNode);
        }
    }
  };
  visit(ast);

  return [...referenced].filter(
    (name) => !declared.has(name) && !ALWAYS_AVAILABLE.has(name) && !(name in globalThis),
  );
}

/**
 * The source to ship for a function or class: checked to be self-contained, and as an
 * expression that evaluates to it. Functions, arrows and classes are that already; a
 * method (shorthand or static, async too) is wrapped in an object literal that it is
 * taken back out of, so it stays a method (its `super`, its name) in the worker.
 * Throws SerializationError naming the first outside variable it reads, and
 * InvalidArgumentError for a getter or setter. `name` is the function's name: a method's
 * computed key (`[key]() {}`) is replaced by it.
 */
export function shippableSource(source: string, what: string, name?: string): string {
  let { ast, form } = parseSource(source);
  if (form === 'method') {
    const stmt = ast.body[0];
    const expr = stmt?.type === 'ExpressionStatement' ? stmt.expression : undefined;
    const first = expr?.type === 'ObjectExpression' ? expr.properties[0] : undefined;
    const member = first?.type === 'Property' ? first : undefined;
    if (member?.kind === 'get' || member?.kind === 'set') {
      throw new InvalidArgumentError(
        `${what} is a ${member.kind === 'get' ? 'getter' : 'setter'}, not a function that can run as a task: ` +
          'pass a plain function (or method) that does what it does',
      );
    }
    const keyed = member?.computed && name !== undefined ? withLiteralKey(source, member, name) : undefined;
    if (keyed !== undefined) {
      source = keyed;
      ast = parseSource(source).ast;
    }
  }
  assertFree(freeVariablesOf(ast), what);
  // Taken out by position: the key may be a symbol ([Symbol.iterator]() {}).
  return form === 'method' ? `((o) => o[Reflect.ownKeys(o)[0]])({${source}\n})` : source;
}

/**
 * A method `[key]() {}` as `"name"() {}`. Its key was computed where the method was made
 * (often from a variable the worker lacks); the method is taken out of its object by
 * position, so all the key still gives is the method's name. Undefined when the brackets
 * are not where expected (a comment inside them): the key is then shipped as written.
 */
function withLiteralKey(source: string, member: Property, name: string): string | undefined {
  // Positions are in the parsed text `({${source}})`: two characters ahead of source.
  let open = member.key.start - 3;
  while (open >= 0 && /\s/.test(source.charAt(open))) open--;
  let close = member.key.end - 2;
  while (close < source.length && /\s/.test(source.charAt(close))) close++;
  if (source[open] !== '[' || source[close] !== ']') return undefined;
  return `${source.slice(0, open)}${JSON.stringify(name)}${source.slice(close + 1)}`;
}

/** Throws SerializationError naming the first outside variable a remote function reads. */
export function assertSelfContained(source: string, what: string): void {
  assertFree(freeVariables(source), what);
}

function assertFree(free: string[], what: string): void {
  if (free.length === 0) return;
  const names = free.map((n) => `'${n}'`).join(', ');
  throw new SerializationError(
    `${what} reads ${names} from outside itself, but remote functions are shipped to workers by source ` +
      'and run there without their surrounding scope. Pass the value as an argument (or an ObjectRef), ' +
      "import what you need inside the body (`await import('pkg')`), or export the function from a module " +
      'and use sunray.remote(fn, { module: import.meta.url }).',
    free[0],
  );
}
