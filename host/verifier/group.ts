// Group commit for the registry verifier (docs/PROTOCOL.md, "Replay state on the host"): whatever the frames
// of one I/O turn must write — reservations (reserve.ts, deferred) and the audit rows of rejections — goes
// into ONE transaction, one fsync, and those frames are reported only after it commits, in arrival order.
// A frame that needs no write while nothing waits is reported at once, so the steady state adds no delay.
import type { ReservingReplayStore } from './reserve.js';
import type { Rejection, VerifyResult } from './verifier.js';

/** What the group needs of the registry: one transaction around its writes (nested ones become savepoints). */
export interface TransactionStore {
  transaction<T>(fn: () => T): T;
}

export interface GroupCommitOptions {
  store: TransactionStore;
  replay: ReservingReplayStore;
  /** Writes a rejection's audit row; called inside the group's transaction. */
  audit: (r: Rejection) => void;
  /** Reports a result: only after everything it depends on is durable. */
  deliver: (r: VerifyResult) => void;
  /** When the held results are written and reported: after this turn's I/O callbacks (default setImmediate). */
  schedule?: (fn: () => void) => void;
}

export class GroupCommit {
  private held: VerifyResult[] = [];
  private scheduled = false;
  /** Transactions written, for benchmarks and tests. */
  commits = 0;

  constructor(private readonly o: GroupCommitOptions) {}

  /** Takes each result as the verifier produces it (Verifier onResult). */
  add(r: VerifyResult): void {
    if (this.held.length === 0 && r.ok && !this.o.replay.pending) {
      this.o.deliver(r);
      return;
    }
    this.held.push(r);
    if (!this.scheduled) {
      this.scheduled = true;
      (this.o.schedule ?? setImmediate)(() => this.flush());
    }
  }

  /**
   * Writes what the held frames need in one transaction, then reports them. An acceptance whose reservation
   * another process beat is reported as 'stale-after-restart' instead (never delivered, never accepted twice).
   * A failed write throws and reports nothing.
   */
  flush(): void {
    this.scheduled = false;
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    const out = this.o.store.transaction(() => {
      const beaten = this.o.replay.commitPending();
      const rs = held.map((r): VerifyResult => (r.ok && beaten.has(r.device + '\u0000up')
        ? { ok: false, topic: r.topic, device: r.device, reason: 'stale-after-restart', counter: r.counter, epoch: r.epoch }
        : r));
      for (const r of rs) if (!r.ok) this.o.audit(r);
      return rs;
    });
    this.commits++;
    for (const r of out) this.o.deliver(r);
  }
}
