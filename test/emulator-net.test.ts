// require("net") on the emulated board: real sockets, data as binary strings (one char per byte) both
// ways, events in Espruino's order (libs/network/socketserver.c).
import test from 'ava';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { consoleBoard, outputUntil } from './emulator-helpers.js';

test('bytes above 127 cross intact both ways; data arrives as strings', async (t) => {
  const got: Buffer[] = [];
  let peer: Socket | undefined;
  const srv = createServer((s) => {
    peer = s;
    s.on('data', (d) => {
      got.push(d);
      if (Buffer.concat(got).length >= 4) s.write(Buffer.from([0x00, 0x80, 0xff, 0x41]));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  const c = consoleBoard();
  c.type(`\x10var s = require("net").connect({host:"127.0.0.1", port:${port}}, function(sock){ sock.write("\\xff\\x80\\x00z"); });` +
    `s.on("data", function(d){ var codes=[]; for (var i=0;i<d.length;i++) codes.push(d.charCodeAt(i)); print("DATA", typeof d, codes.join(",")); s.end(); });` +
    `s.on("end", function(){ print("END"); }); s.on("close", function(e){ print("CLOSE", e); });\n`);
  const out = await outputUntil(c.board, (x) => x.includes('CLOSE'), c.text());
  t.deepEqual([...Buffer.concat(got)], [0xff, 0x80, 0x00, 0x7a]);
  t.regex(out, /DATA string 0,128,255,65/);
  t.regex(out, /END\r\n[\s\S]*CLOSE false/);
  peer?.destroy();
  srv.close();
  c.board.close();
});

test('a refused connection fires error {code, message}, then end, then close(true)', async (t) => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const c = consoleBoard();
  c.type(`\x10var s = require("net").connect({host:"127.0.0.1", port:${port}});` +
    `s.on("error", function(e){ print("ERR", e.code, e.message); }); s.on("end", function(){ print("END"); }); s.on("close", function(h){ print("CLOSE", h); });\n`);
  const out = await outputUntil(c.board, (x) => x.includes('CLOSE'), c.text());
  t.regex(out, /ERR -9 connection reset\r\n[\s\S]*END\r\n[\s\S]*CLOSE true/);
  c.board.close();
});

test('a power cut drops the board\'s sockets', async (t) => {
  let closed: () => void = () => undefined;
  const peerClosed = new Promise<void>((r) => (closed = r));
  const srv = createServer((s) => s.on('close', () => closed()));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  const c = consoleBoard();
  c.type(`\x10require("net").connect({host:"127.0.0.1", port:${port}}, function(){ print("UP"); })\n`);
  await outputUntil(c.board, (x) => x.includes('UP'), c.text());
  await c.board.powerCut();
  await peerClosed;
  t.pass();
  srv.close();
});
