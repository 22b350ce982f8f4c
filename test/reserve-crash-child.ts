// The verifier process of test/verifier-reserve.test.ts's crash test: the product's replay store
// (host/verifier/reserve.ts over the SQLite registry) opening frames from a file (after writing R), writing each accepted
// frame to fd 1 (synchronously, "delivered") before the next. The parent kills it with SIGKILL at random.
// group: as `sealmq verify` runs it (verifier/group.ts): frames in bursts of 30 per event-loop turn, each
// reported (written to fd 1) only after the turn's one commit of reservations and rejection audits.
// The device roots come over IPC (never argv or env); the registry stays locked (replay state needs no key).
import { readFileSync, writeSync } from 'node:fs';
import { openRegistry } from '../host/registry/registry.js';
import { GroupCommit } from '../host/verifier/group.js';
import { DEFAULT_RESERVE, ReservingReplayStore } from '../host/verifier/reserve.js';
import { DeviceRecord, Verifier } from '../host/verifier/verifier.js';

process.once('message', async (m: { home: string; file: string; count: number; roots: Record<string, string>; group?: boolean }) => {
  const reg = openRegistry({ home: m.home });
  const devs = new Map<string, DeviceRecord>(Object.entries(m.roots).map(([id, hex]) => [id, { id, status: 'active', epoch: 0, root: new Uint8Array(Buffer.from(hex, 'hex')) }]));
  const replay = new ReservingReplayStore(reg, DEFAULT_RESERVE, Date.now, !!m.group);
  const group = m.group
    ? new GroupCommit({ store: reg, replay, audit: (r) => reg.audit({ actor: 'verifier', action: 'verify.rejected', device: r.device, detail: { reason: r.reason } }),
      deliver: (r) => { if (r.ok) writeSync(1, `A ${r.device} ${r.counter}\n`); } })
    : null;
  const v = new Verifier({ devices: { device: (id) => devs.get(id) ?? null }, replay, onResult: group ? (r) => group.add(r) : undefined });
  const buf = readFileSync(m.file);
  const ids = [...devs.keys()];
  writeSync(1, 'R\n');
  let off = 0;
  for (let i = 0; i < m.count; i++) {
    const dev = ids[buf[off]];
    const len = buf.readUInt16BE(off + 1);
    const f = new Uint8Array(buf.buffer, buf.byteOffset + off + 3, len);
    off += 3 + len;
    const r = v.handle(`sealmq/${dev}/up`, f);
    if (!group && r.ok) writeSync(1, `A ${dev} ${r.counter}\n`);
    // The group's flush (setImmediate) runs before this turn's end is awaited.
    if (group && i % 30 === 29) await new Promise((resolve) => setImmediate(resolve));
  }
  group?.flush();
  writeSync(1, 'END\n');
  reg.close();
  process.exit(0);
});
