// What Espruino's parser accepts, applied before V8 runs anything, so code that would fail on a board
// fails on the emulated one too (DESIGN.md §6: no destructuring, spread, async/await, generators or
// default parameters). Also makes top-level let/const/class behave as Espruino's REPL does, where
// sending the same code twice redeclares instead of throwing "has already been declared".
import { parse, type Node } from 'acorn';
import { full } from 'acorn-walk';
import type { Realm } from './realm.js';

export class EspruinoSyntaxError extends Error {}

const UNSUPPORTED: Record<string, string> = {
  ObjectPattern: 'destructuring',
  ArrayPattern: 'destructuring',
  SpreadElement: 'spread (...)',
  RestElement: 'rest parameters (...)',
  AssignmentPattern: 'default parameters',
  AwaitExpression: 'await',
  YieldExpression: 'generators',
};

/** Checks the code and returns it with top-level let/const/class turned into var. */
export function prepareForBoard(code: string): string {
  let ast: Node;
  try {
    ast = parse(code, { ecmaVersion: 'latest', sourceType: 'script', allowReturnOutsideFunction: false });
  } catch (e) {
    throw new EspruinoSyntaxError((e as Error).message);
  }
  const lineOf = (pos: number) => code.slice(0, pos).split('\n').length;
  full(ast, (node: any) => {
    const what = UNSUPPORTED[node.type] ??
      (/Function/.test(node.type) && node.async ? 'async functions' : undefined) ??
      (/Function/.test(node.type) && node.generator ? 'generators' : undefined) ??
      (node.type === 'Literal' && typeof node.bigint === 'string' ? 'BigInt literals' : undefined);
    if (what) throw new EspruinoSyntaxError(`${what} not supported by Espruino (line ${lineOf(node.start)})`);
  });
  const edits: { at: number; del: number; text: string }[] = [];
  for (const st of (ast as any).body as any[]) {
    if (st.type === 'VariableDeclaration' && st.kind !== 'var') edits.push({ at: st.start, del: st.kind.length, text: 'var' });
    else if (st.type === 'ClassDeclaration' && st.id) {
      edits.push({ at: st.start, del: 0, text: `var ${st.id.name} = ` });
      edits.push({ at: st.end, del: 0, text: ';' });
    }
  }
  let out = code;
  for (const e of edits.sort((a, b) => b.at - a.at)) out = out.slice(0, e.at) + e.text + out.slice(e.at + e.del);
  return out;
}

/** prepareForBoard, with a refusal thrown as the sandbox's own SyntaxError (what the board's code can catch). */
export function prepareOrThrow(code: string, realm: Pick<Realm, 'error'>): string {
  try {
    return prepareForBoard(code);
  } catch (e) {
    if (e instanceof EspruinoSyntaxError) throw realm.error('SyntaxError', e.message);
    throw e;
  }
}
