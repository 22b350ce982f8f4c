// The board's uplink counter, "save every K" (RFC 8613 App. B.1.1; DESIGN.md §4), as pure functions over
// a fake flash that behaves like Espruino's Storage.write (jsfWriteFile erases the old file, then writes
// the new one) and can lose power in the middle of any write, leaving nothing or a torn prefix.
import test from 'ava';
import { MAX_COUNTER } from '../core/frame.js';
import { Counter, CTR, ctrEpoch, ctrLoad, ctrNext, ctrReset } from '../firmware/counter.js';
import { fnv, recParse, recText, slotLoad, slotSave, Store } from '../firmware/slots.js';

class PowerCut extends Error {}

/** Storage with Espruino's write order; cutAt: the write (1-based) during which power fails. */
class Flash implements Store {
  files = new Map<string, string>();
  writes = 0;
  dead = false;
  constructor(private cutAt = 0, private tornChars = -1, private failWrites = false) {}
  read(n: string) {
    return this.files.get(n);
  }
  write(n: string, t: string) {
    if (this.dead) throw new PowerCut('dead');
    if (this.failWrites) return false;
    this.writes++;
    this.files.delete(n);
    if (this.writes === this.cutAt) {
      this.dead = true;
      if (this.tornChars >= 0) this.files.set(n, t.slice(0, this.tornChars) + '\xff'.repeat(t.length - this.tornChars));
      throw new PowerCut('cut');
    }
    this.files.set(n, t);
    return true;
  }
  erase(n: string) {
    this.files.delete(n);
  }
  /** The same flash after a reboot: power back, nothing cut any more. */
  reboot(): Flash {
    const f = new Flash();
    f.files = new Map(this.files);
    return f;
  }
}

test('FNV-1a 32 known answers (the record checksum)', (t) => {
  t.is(fnv(''), 0x811c9dc5);
  t.is(fnv('a'), 0xe40c292c);
  t.is(fnv('foobar'), 0xbf9cf968);
});

test('records: text round trip; torn, corrupt or absent records are null', (t) => {
  const text = recText({ e: 1, n: 64, s: 3 });
  t.is(text, `{"e":1,"n":64,"s":3,"x":${fnv('{"e":1,"n":64,"s":3}')}}`);
  t.deepEqual(recParse(text), { e: 1, n: 64, s: 3 });
  t.is(recParse(undefined), null);
  t.is(recParse(''), null);
  t.is(recParse(text.replace('"n":64', '"n":65')), null, 'a changed value fails the checksum');
  for (let i = 0; i < text.length; i++) t.is(recParse(text.slice(0, i) + '\xff'.repeat(text.length - i)), null, `torn at ${i}`);
  t.is(recParse('{"e":1,"n":64,"s":3}'), null, 'no checksum');
});

test('slots: the newest valid copy wins; a copy in the wrong file is not trusted', (t) => {
  const f = new Flash();
  t.true(slotSave(f, 'r', { e: 0, n: 5, s: 0 }, -1));
  t.true(slotSave(f, 'r', { e: 0, n: 9, s: 0 }, 0));
  t.deepEqual(slotLoad(f, 'r', (r) => r.n), { e: 0, n: 9, s: 1 });
  t.truthy(f.read('r0'));
  t.truthy(f.read('r1'));
  f.files.set('r0', recText({ e: 0, n: 99, s: 3 }));
  t.deepEqual(slotLoad(f, 'r', (r) => r.n), { e: 0, n: 9, s: 1 }, 's=3 belongs in r1, so r0 is ignored');
});

test('a fresh counter starts at 1; one Storage write per K counters (RFC 8613 B.1.1)', (t) => {
  const f = new Flash();
  const c = ctrReset(f, 0)!;
  t.deepEqual(c, { e: 0, c: 1, n: 0, s: 0 });
  const writes0 = f.writes;
  const sent: number[] = [];
  for (let i = 0; i < 100; i++) sent.push(ctrNext(f, c, 10));
  t.deepEqual(sent, Array.from({ length: 100 }, (_, i) => i + 1));
  t.is(f.writes - writes0, 10);
  t.is(c.n, 100);
});

test('after a reboot the counter resumes past the last recorded block end', (t) => {
  const f = new Flash();
  const c = ctrReset(f, 0)!;
  for (let i = 0; i < 13; i++) ctrNext(f, c, 5);
  t.is(c.n, 15);
  const again = ctrLoad(f.reboot())!;
  t.is(again.c, 16);
  t.is(ctrNext(f, again, 5), 16);
});

test('a write torn by a power cut leaves the older copy, and nothing recorded in it was ever exceeded', (t) => {
  const f = new Flash(3, 7);
  const c = ctrReset(f, 0)!;
  const sent: number[] = [];
  for (let i = 0; i < 20 && !f.dead; i++) {
    const n = ctrNext(f, c, 4);
    if (n > 0) sent.push(n);
  }
  t.deepEqual(sent, [1, 2, 3, 4], 'the cut came while recording the second block: nothing of it was sent');
  const again = ctrLoad(f.reboot())!;
  t.is(again.c, 5);
});

test('no valid record at all = null: the board refuses to send (fail closed)', (t) => {
  const f = new Flash();
  ctrReset(f, 0);
  f.files.set(CTR + '0', 'garbage');
  t.is(ctrLoad(f), null);
  t.is(ctrLoad(new Flash()), null);
});

test('a record that cannot be written means nothing is sent, and the next call tries again', (t) => {
  const ok = new Flash();
  const c = ctrReset(ok, 0)!;
  const bad = new Flash(0, -1, true);
  bad.files = ok.files;
  t.is(ctrNext(bad, c, 8), -1);
  t.deepEqual(c, { e: 0, c: 1, n: 0, s: 0 });
  t.is(ctrNext(ok, c, 8), 1);
});

test('exhaustion: 2^32-1 is the last counter; then 0 (a new epoch is needed) and again after a reboot', (t) => {
  const f = new Flash();
  const c: Counter = ctrReset(f, 0)!;
  t.true(slotSave(f, CTR, { e: 0, n: MAX_COUNTER - 3, s: 0 }, c.s));
  const x = ctrLoad(f)!;
  t.is(ctrNext(f, x, 64), MAX_COUNTER - 2);
  t.is(x.n, MAX_COUNTER, 'the block end is capped');
  t.is(ctrNext(f, x, 64), MAX_COUNTER - 1);
  t.is(ctrNext(f, x, 64), MAX_COUNTER);
  t.is(ctrNext(f, x, 64), 0);
  t.is(ctrNext(f, x, 64), 0);
  t.is(ctrNext(f, ctrLoad(f.reboot())!, 64), 0);
});

test('a new epoch restarts the counter at 1 and outranks any block end of an older epoch', (t) => {
  const f = new Flash();
  const c = ctrReset(f, 0)!;
  for (let i = 0; i < 50; i++) ctrNext(f, c, 16);
  t.true(ctrEpoch(f, c, 1, 16));
  t.deepEqual([c.e, c.c, c.n], [1, 1, 16]);
  t.is(ctrNext(f, c, 16), 1);
  const again = ctrLoad(f.reboot())!;
  t.deepEqual([again.e, again.c], [1, 17]);
});

test('whatever write the power fails in, and however much of it lands, no counter is ever sent twice under one epoch', (t) => {
  const K = 3;
  const provisioned = new Flash();
  ctrReset(provisioned, 0);
  let cuts = 0;
  for (let cut = 1; cut <= 12; cut++) {
    for (const torn of [-1, 0, 1, 5, 12, 20, 30]) {
      let f = new Flash(cut, torn);
      f.files = new Map(provisioned.files);
      let c = ctrLoad(f)!;
      const sent = new Set<string>();
      for (let i = 0; i < 40; i++) {
        if (f.dead) {
          cuts++;
          f = f.reboot();
          const x = ctrLoad(f);
          t.truthy(x, `cut ${cut} torn ${torn}: a valid record always survives`);
          c = x!;
        }
        if (i === 25 && c.e === 0) ctrEpoch(f, c, 1, K);
        const n = ctrNext(f, c, K);
        if (n > 0) {
          const key = `${c.e}:${n}`;
          t.false(sent.has(key), `cut ${cut} torn ${torn}: ${key} sent twice`);
          sent.add(key);
        }
      }
    }
  }
  t.is(cuts, 84, 'every run lost power once');
});
