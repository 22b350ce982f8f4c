// The bundle checker: parses a bundle with acorn and refuses every construct and global Espruino 2v29
// lacks (DESIGN.md §6), so code that would fail on a board fails at build time instead. Checks:
// syntax (destructuring, spread/rest, async/await, generators, default parameters, optional chaining,
// ??, **, logical assignment, class fields and private names, getters/setters, BigInt, tagged templates,
// labels, regex flags other than g and i), free globals against an allow-list (espruino-api.ts), static
// members of built-ins (Array.from, Number.isInteger, Math.imul, process.exit…), and calls of methods
// that neither Espruino's built-ins nor the bundle itself define (String.prototype.at, Array.prototype.flat…).
import { parse, type Node } from 'acorn';
import { GLOBALS, METHODS, MISSING_GLOBALS, PIN_NAME, REGEX_FLAGS, STATIC_MEMBERS } from './espruino-api.js';

export interface Violation {
  /** What was found, e.g. "spread (...)", "global Map", "Array.from". */
  construct: string;
  /** What to write instead. */
  hint: string;
  /** 1-based line and 0-based column in the checked code. */
  line: number;
  column: number;
  offset: number;
}

export interface CheckOptions {
  /** Extra free globals to allow (e.g. a board's own objects). */
  globals?: Iterable<string>;
}

type N = Node & Record<string, any>;

class Scope {
  readonly names = new Set<string>();
  /** Names declared here as another name for a global (`var M = Math`, firmware/globals.ts): checked as it. */
  readonly aliases = new Map<string, string>();
  constructor(readonly parent?: Scope) {}
  has(name: string): boolean {
    return this.owner(name) !== undefined;
  }
  /** The scope that declares name, if any. */
  owner(name: string): Scope | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) if (s.names.has(name)) return s;
    return undefined;
  }
}

const SYNTAX: Record<string, [string, string]> = {
  ObjectPattern: ['destructuring', 'read the properties one by one'],
  ArrayPattern: ['destructuring', 'index the array'],
  SpreadElement: ['spread (...)', 'use a loop, .concat() or .apply()'],
  RestElement: ['rest element (...)', 'use arguments or pass an array'],
  AwaitExpression: ['await', 'chain .then() callbacks'],
  YieldExpression: ['yield', 'use callbacks or an explicit state object'],
  ChainExpression: ['optional chaining (?.)', 'test for undefined first'],
  PropertyDefinition: ['class field', 'assign it in the constructor'],
  StaticBlock: ['class static block', 'run the code after the class'],
  PrivateIdentifier: ['private name (#x)', 'use a plain property'],
  TaggedTemplateExpression: ['tagged template', 'call the function with a string'],
  LabeledStatement: ['label', 'use a flag or a function and return'],
  ImportExpression: ['import()', 'bundle the module'],
  MetaProperty: ['new.target / import.meta', 'pass the value in'],
  ImportDeclaration: ['import declaration', 'bundle as one script (esbuild format iife)'],
  ExportNamedDeclaration: ['export', 'bundle as one script (esbuild format iife)'],
  ExportDefaultDeclaration: ['export', 'bundle as one script (esbuild format iife)'],
  ExportAllDeclaration: ['export', 'bundle as one script (esbuild format iife)'],
};

const isFunction = (n: N) => n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression';

/** Child nodes of n, in source order. */
function children(n: N): N[] {
  const out: N[] = [];
  for (const k of Object.keys(n)) {
    if (k === 'type' || k === 'loc' || k === 'start' || k === 'end') continue;
    const v = n[k];
    if (Array.isArray(v)) for (const c of v) c && typeof c.type === 'string' && out.push(c);
    else if (v && typeof v === 'object' && typeof v.type === 'string') out.push(v);
  }
  return out;
}

/** Names a binding pattern declares. */
function patternNames(p: N | null, into: Set<string>): void {
  if (!p) return;
  if (p.type === 'Identifier') into.add(p.name);
  else if (p.type === 'ObjectPattern') for (const q of p.properties) patternNames(q.type === 'RestElement' ? q : q.value, into);
  else if (p.type === 'ArrayPattern') for (const q of p.elements) patternNames(q, into);
  else if (p.type === 'RestElement') patternNames(p.argument, into);
  else if (p.type === 'AssignmentPattern') patternNames(p.left, into);
}

/** Hoists a function body's declarations into its scope (block scoping folded into the function: the
 * checker only needs to know a name is bound somewhere in between). Does not enter nested functions. */
function hoist(n: N, into: Set<string>): void {
  if (n.type === 'VariableDeclaration') for (const d of n.declarations) patternNames(d.id, into);
  if ((n.type === 'FunctionDeclaration' || n.type === 'ClassDeclaration') && n.id) into.add(n.id.name);
  if (n.type === 'CatchClause' && n.param) patternNames(n.param, into);
  if (isFunction(n) || n.type === 'ClassDeclaration' || n.type === 'ClassExpression') return;
  for (const c of children(n)) hoist(c, into);
}

/**
 * Property names the bundle defines itself (object keys, class members, member assignments) or tests
 * before use (`p.hmacSha256 ? p.hmacSha256(…) : …`, `typeof x.m`, `x.m && x.m()`): optional methods of
 * injected objects are not calls of missing built-ins.
 */
function definedNames(ast: N): Set<string> {
  const names = new Set<string>();
  const keyName = (k: N, computed: boolean) => (!computed && k.type === 'Identifier' ? k.name : k.type === 'Literal' ? String(k.value) : undefined);
  const tested = (t: N | null) => {
    if (t && t.type === 'MemberExpression') {
      const k = keyName(t.property, t.computed);
      if (k) names.add(k);
    }
  };
  const walk = (n: N) => {
    if (n.type === 'ConditionalExpression' || n.type === 'IfStatement') tested(n.test);
    if (n.type === 'LogicalExpression') {
      tested(n.left);
      tested(n.right);
    }
    if (n.type === 'UnaryExpression') tested(n.argument);
    if ((n.type === 'Property' || n.type === 'MethodDefinition' || n.type === 'PropertyDefinition')) {
      const k = keyName(n.key, n.computed);
      if (k) names.add(k);
    }
    if (n.type === 'AssignmentExpression' && n.left.type === 'MemberExpression') {
      const k = keyName(n.left.property, n.left.computed);
      if (k) names.add(k);
    }
    for (const c of children(n)) walk(c);
  };
  walk(ast);
  return names;
}

/**
 * What a regular expression asks of Espruino's matcher that it lacks (src/jswrap_regexp.c: one char or
 * class, optionally followed by * or +; ^ $ | and ( ) as markers; \d \w \s and friends). These do not
 * throw on a board, they silently match something else: /^[a-z]{0,31}$/ never matches "node-01".
 */
export function regexProblems(source: string): string[] {
  const out = new Set<string>();
  let inClass = false;
  let depth = 0;
  let prev = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') {
      const e = source[++i] ?? '';
      if (/[1-9]/.test(e)) out.add('backreference \\' + e);
      else if (!inClass && (e === 'b' || e === 'B')) out.add(`\\${e} (Espruino reads \\b as a backspace)`);
      else if (e === 'u' || e === 'p' || e === 'P' || e === 'c' || e === 'k') out.add(`escape \\${e}`);
      prev = 'char';
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      prev = 'char';
    } else if (ch === '(') {
      if (source[i + 1] === '?') out.add('group syntax (?…)');
      depth++;
      prev = '(';
    } else if (ch === ')') {
      depth = Math.max(0, depth - 1);
      prev = ')';
    } else if (ch === '{' && /^\{\d+(,\d*)?\}/.test(source.slice(i))) {
      out.add('quantifier {n,m}');
    } else if (ch === '?' && prev !== '(') {
      out.add('quantifier ?');
    } else if ((ch === '*' || ch === '+') && prev === ')') {
      out.add(`quantified group ()${ch}`);
    } else if (ch === '|' && depth > 0) {
      out.add('| inside a group');
    } else prev = 'char';
  }
  return [...out];
}

/** Everything in code that Espruino would reject or silently get wrong; [] when the code is fine. */
export function checkEspruino(code: string, opts: CheckOptions = {}): Violation[] {
  const out: Violation[] = [];
  let ast: N;
  try {
    ast = parse(code, { ecmaVersion: 'latest', sourceType: 'script', locations: true }) as N;
  } catch (e) {
    const err = e as SyntaxError & { loc?: { line: number; column: number }; pos?: number };
    return [{ construct: 'syntax error', hint: err.message, line: err.loc?.line ?? 0, column: err.loc?.column ?? 0, offset: err.pos ?? 0 }];
  }
  const allowed = new Set([...GLOBALS, ...(opts.globals ?? [])]);
  const defined = definedNames(ast);
  const report = (n: N, construct: string, hint: string) =>
    out.push({ construct, hint, line: n.loc!.start.line, column: n.loc!.start.column, offset: n.start });
  const flags = (n: N, f: string) => {
    for (const ch of f) if (!REGEX_FLAGS.includes(ch)) report(n, `regular expression flag '${ch}'`, 'Espruino honours only g and i');
  };
  /** The global an identifier names: itself when free, or the global a declared alias of it holds. */
  const freeGlobal = (n: N, scope: Scope): string | undefined => {
    if (n.type !== 'Identifier') return undefined;
    const s = scope.owner(n.name);
    return s ? s.aliases.get(n.name) : n.name;
  };

  const reference = (n: N, scope: Scope) => {
    const name = n.name as string;
    if (scope.has(name) || allowed.has(name) || PIN_NAME.test(name)) return;
    if (name in MISSING_GLOBALS) report(n, `global ${name}`, `Espruino has no ${name}: ${MISSING_GLOBALS[name]}`);
    else report(n, `unknown global ${name}`, 'not a global on Espruino (declare it, or add it to host/build/espruino-api.ts if Espruino really has it)');
  };

  const pattern = (p: N | null, scope: Scope, parent: N) => {
    if (!p) return;
    if (p.type !== 'Identifier' && p.type !== 'MemberExpression' && SYNTAX[p.type]) report(p, ...SYNTAX[p.type]);
    if (p.type === 'AssignmentPattern') {
      report(p, isFunction(parent) ? 'default parameter' : 'default value', 'test for undefined in the body');
      pattern(p.left, scope, p);
      visit(p.right, scope);
    } else if (p.type === 'ObjectPattern') {
      for (const q of p.properties) {
        if (q.type === 'RestElement') pattern(q, scope, p);
        else {
          if (q.computed) visit(q.key, scope);
          pattern(q.value, scope, p);
        }
      }
    } else if (p.type === 'ArrayPattern') for (const q of p.elements) pattern(q, scope, p);
    else if (p.type === 'RestElement') pattern(p.argument, scope, p);
    else if (p.type === 'MemberExpression') visit(p, scope);
  };

  const visit = (n: N | null, scope: Scope): void => {
    if (!n) return;
    const s = SYNTAX[n.type];
    if (s) report(n, ...s);
    switch (n.type) {
      case 'Identifier':
        return reference(n, scope);
      case 'Literal':
        if (typeof n.bigint === 'string') report(n, 'BigInt literal', 'use two 32-bit numbers');
        if (n.regex) {
          flags(n, n.regex.flags);
          for (const p of regexProblems(n.regex.pattern)) report(n, `regular expression ${p}`, 'Espruino\'s RegExp lacks it and silently matches something else: test lengths and characters in code');
        }
        return;
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression': {
        if (n.async) report(n, 'async function', 'return a Promise and chain .then()');
        if (n.generator) report(n, 'generator function', 'use callbacks or an explicit state object');
        const inner = new Scope(scope);
        if (n.type === 'FunctionExpression' && n.id) inner.names.add(n.id.name);
        if (n.type !== 'ArrowFunctionExpression') inner.names.add('arguments');
        for (const p of n.params) patternNames(p, inner.names);
        hoist(n.body, inner.names);
        for (const p of n.params) pattern(p, inner, n);
        return visit(n.body, inner);
      }
      case 'ClassDeclaration':
      case 'ClassExpression': {
        const inner = new Scope(scope);
        if (n.id) inner.names.add(n.id.name);
        visit(n.superClass, inner);
        return visit(n.body, inner);
      }
      case 'VariableDeclarator': {
        pattern(n.id, scope, n);
        // var X = <a global with static members>: X.member is checked as that global's member.
        const g = n.id.type === 'Identifier' && n.init ? freeGlobal(n.init, scope) : undefined;
        if (g && STATIC_MEMBERS[g]) scope.owner(n.id.name)?.aliases.set(n.id.name, g);
        return visit(n.init, scope);
      }
      case 'CatchClause':
        pattern(n.param, scope, n);
        return visit(n.body, scope);
      case 'MemberExpression': {
        visit(n.object, scope);
        if (n.computed) visit(n.property, scope);
        const g = freeGlobal(n.object, scope);
        const members = g ? STATIC_MEMBERS[g] : undefined;
        const name = !n.computed ? n.property.name : n.property.type === 'Literal' ? String(n.property.value) : undefined;
        if (members && name !== undefined && !members.has(name)) report(n, `${g}.${name}`, `Espruino's ${g} has no ${name}`);
        if ((g === 'global' || g === 'globalThis') && name !== undefined && !allowed.has(name) && !defined.has(name) && !PIN_NAME.test(name)) {
          report(n, `${g}.${name}`, name in MISSING_GLOBALS ? `Espruino has no ${name}: ${MISSING_GLOBALS[name]}` : 'not a global on Espruino');
        }
        return;
      }
      case 'CallExpression':
      case 'NewExpression': {
        const c = n.callee;
        const owner = c.type === 'MemberExpression' ? freeGlobal(c.object, scope) : undefined;
        if (c.type === 'MemberExpression' && !c.computed && !(owner && (STATIC_MEMBERS[owner] || owner === 'global' || owner === 'globalThis'))) {
          const m = c.property.name as string;
          if (!METHODS.has(m) && !defined.has(m)) report(c.property, `method .${m}()`, 'neither Espruino\'s built-ins nor this bundle define it');
        }
        if (freeGlobal(c, scope) === 'RegExp') {
          const [src, f] = n.arguments as N[];
          if (f?.type === 'Literal' && typeof f.value === 'string') flags(n, f.value);
          if (src?.type === 'Literal' && typeof src.value === 'string') for (const p of regexProblems(src.value)) report(n, `regular expression ${p}`, 'Espruino\'s RegExp lacks it');
        }
        break;
      }
      case 'Property':
      case 'MethodDefinition':
      case 'PropertyDefinition':
        if (n.kind === 'get' || n.kind === 'set') report(n, n.kind === 'get' ? 'getter' : 'setter', 'use a method');
        if (n.key.type === 'PrivateIdentifier') report(n.key, ...SYNTAX.PrivateIdentifier);
        if (n.computed) visit(n.key, scope);
        return visit(n.value, scope);
      case 'BinaryExpression':
        if (n.operator === '**') report(n, 'exponent operator (**)', 'use Math.pow');
        break;
      case 'LogicalExpression':
        if (n.operator === '??') report(n, 'nullish coalescing (??)', 'test for undefined/null');
        break;
      case 'AssignmentExpression':
        if (n.operator === '**=') report(n, 'exponent operator (**=)', 'use Math.pow');
        if (n.operator === '||=' || n.operator === '&&=' || n.operator === '??=') report(n, `logical assignment (${n.operator})`, 'write the test out');
        if (n.left.type === 'ObjectPattern' || n.left.type === 'ArrayPattern') {
          pattern(n.left, scope, n);
          return visit(n.right, scope);
        }
        break;
      case 'ForOfStatement':
        if (n.await) report(n, 'for await', 'chain .then() callbacks');
        break;
      case 'LabeledStatement':
        return visit(n.body, scope);
      case 'BreakStatement':
      case 'ContinueStatement':
        if (n.label) report(n, 'label', 'use a flag or a function and return');
        return;
      case 'MetaProperty':
        return;
    }
    for (const c of children(n)) visit(c, scope);
  };

  const top = new Scope();
  hoist(ast, top.names);
  visit(ast, top);
  return out.sort((a, b) => a.offset - b.offset);
}
