// The emulated board's REPL against Espruino's behaviour (src/jsinteractive.c): echo, the '>' prompt,
// DLE echo-off lines, Ctrl-C, multi-line input, "=result" printing and "Uncaught" errors.
import test from 'ava';
import { consoleBoard, outputUntil } from './emulator-helpers.js';
import { countBrackets } from '../host/emulator/repl.js';
import { formatValue, REPL_MODE } from '../host/emulator/format.js';

test('typed characters are echoed, then the result and a new prompt', (t) => {
  const c = consoleBoard();
  t.is(c.type('1+2\r'), '1+2\r\n=3\r\n>');
  t.is(c.type('"abc"\n'), '"abc"\r\n="abc"\r\n>');
  t.is(c.type('undefined\n'), 'undefined\r\n=undefined\r\n>');
  c.board.close();
});

test('the board starts with a prompt', (t) => {
  const c = consoleBoard();
  t.is(c.text(), '\r\n>');
  c.board.close();
});

test('DLE at the start of a line: no echo, no =result, output still printed', (t) => {
  const c = consoleBoard();
  t.is(c.type('\x10var x = 5\n'), '');
  t.is(c.type('\x10print(x*2)\n'), '10\r\n>');
  t.is(c.type('\x10x\n'), '');
  t.is(c.type('x\n'), 'x\r\n=5\r\n>');
  c.board.close();
});

test('DLE in the middle of a line does not turn echo off', (t) => {
  const c = consoleBoard();
  t.is(c.type('1\x10+1\n'), '1+1\r\n=2\r\n>');
  c.board.close();
});

test('Ctrl-C clears the line being typed and gives a fresh prompt', (t) => {
  const c = consoleBoard();
  t.is(c.type('abc'), 'abc');
  t.is(c.type('\x03'), '\x1B[D\x1B[D\x1B[D\r\x1B[J>');
  t.is(c.type('2*3\n'), '2*3\r\n=6\r\n>');
  t.is(c.type('\x03'), '', 'Ctrl-C on an empty line prints nothing on an embedded board');
  c.board.close();
});

test('multi-line input waits until brackets are balanced, prompting with ":"', (t) => {
  const c = consoleBoard();
  t.is(c.type('function f(a,b) {\n'), 'function f(a,b) {\r\n:');
  t.is(c.type('  return a+b;\n'), '  return a+b;\r\n:');
  t.regex(c.type('}\n'), /^}\r\n=.*\r\n>$/);
  t.is(c.type('f(2,3)\n'), 'f(2,3)\r\n=5\r\n>');
  t.is(c.type('"unfinished\n'), '"unfinished\r\nUncaught SyntaxError: Unterminated string constant (1:0)\r\n>');
  c.board.close();
});

test('backspace erases the last character on screen', (t) => {
  const c = consoleBoard();
  t.is(c.type('12\x7f'), '12\x08 \x08');
  t.is(c.type('\n'), '\r\n=1\r\n>');
  c.board.close();
});

test('results are printed in Espruino\'s layout', (t) => {
  const c = consoleBoard();
  t.is(c.type('({a:1,b:2})\n'), '({a:1,b:2})\r\n={ a: 1, b: 2 }\r\n>');
  t.is(c.type('({a:1,s:"x"})\n'), '({a:1,s:"x"})\r\n={ a: 1, \r\n  s: "x"\r\n }\r\n>');
  t.is(c.type('[1,2,3]\n'), '[1,2,3]\r\n=[ 1, 2, 3 ]\r\n>');
  t.is(c.type('new Uint8Array([1,2])\n'), 'new Uint8Array([1,2])\r\n=new Uint8Array([1, 2])\r\n>');
  t.is(c.type('new ArrayBuffer(4)\n'), 'new ArrayBuffer(4)\r\n=new ArrayBuffer(4)\r\n>');
  t.is(c.type('"\\x01\\xff\\n"\n'), '"\\x01\\xff\\n"\r\n="\\1\\xFF\\n"\r\n>');
  t.is(c.type('null\n'), 'null\r\n=null\r\n>');
  c.board.close();
});

test('long arrays and strings are elided in results (JSON_LIMIT)', (t) => {
  const arr = Array.from({ length: 20 }, (_, i) => i);
  t.is(formatValue(arr, REPL_MODE), '[ 0, 1, 2, 3, 4,  ... 15, 16, 17, 18, 19 ]');
  t.is(formatValue('x'.repeat(70), REPL_MODE), `"${'x'.repeat(27)}" ... "${'x'.repeat(27)}"`);
});

test('uncaught errors are printed like Espruino', (t) => {
  const c = consoleBoard();
  t.is(c.type('throw new Error("boom")\n'), 'throw new Error("boom")\r\nUncaught Error: boom\r\n>');
  t.is(c.type('nope()\n'), 'nope()\r\nUncaught ReferenceError: "nope" is not defined\r\n>');
  t.is(c.type('\x10throw new TypeError("quiet line, loud error")\n'), 'Uncaught TypeError: quiet line, loud error\r\n>');
  c.board.close();
});

test('syntax Espruino lacks is refused before it runs', (t) => {
  const c = consoleBoard();
  for (const code of ['var {a} = {a:1}', 'f(...[1])', 'function g(a=1){}', 'async function h(){}', 'function* k(){}']) {
    t.regex(c.type(code + '\n'), /Uncaught SyntaxError: .* not supported by Espruino/, code);
  }
  c.board.close();
});

test('sending the same let/const/class twice redeclares, as on Espruino', (t) => {
  const c = consoleBoard();
  c.type('\x10let a = 1; const b = 2; class K {}\n');
  t.is(c.type('\x10let a = 3; const b = 4; class K {}\n'), '');
  t.is(c.type('a+b\n'), 'a+b\r\n=7\r\n>');
  c.board.close();
});

test('output from a timer takes the half-typed line off the screen and puts it back', async (t) => {
  const c = consoleBoard();
  c.type('\x10setTimeout(function(){print("tick")}, 1)\n');
  c.type('ab');
  const out = await outputUntil(c.board, (s) => s.endsWith('>ab'));
  t.is(out, '\x1B[D\x1B[D\r\x1B[Jtick\r\n>ab');
  c.board.close();
});

test('Ctrl-E on an empty line says what the board is', (t) => {
  const c = consoleBoard();
  t.regex(c.type('\x05'), /^\r\x1B\[JEspruino 2v29-emu ESP32\r\n>$/);
  c.board.close();
});

test('bracket counting ignores strings, comments, regexes and templates', (t) => {
  t.is(countBrackets('f(")")'), 0);
  t.is(countBrackets('f(/\\)/)'), 0);
  t.is(countBrackets('x = `${a}(`'), 0);
  t.is(countBrackets('{ // }'), 1);
  t.is(countBrackets('/* (('), 1000);
  t.is(countBrackets('"abc'), 0);
  t.is(countBrackets('function(){'), 1);
});

test('a line that never ends is stopped by the watchdog: "Execution Interrupted"', (t) => {
  const c = consoleBoard({ watchdogMs: 50 });
  t.is(c.type('while(1);\n'), 'while(1);\r\nExecution Interrupted\r\n>');
  t.is(c.type('1\n'), '1\r\n=1\r\n>');
  c.board.close();
});
