/**
 * The console API, global SEALMQ, for host tools talking to the board's REPL (docs/FIRMWARE.md). Every
 * call prints exactly ONE line "SMQ " + JSON, so a host can find the answer among log lines.
 */
import { toHex } from '../core/bytes.js';
import { devChallenge, devProvision, devStatus, devTotp, PLAIN } from './device.js';
import { linkUp, publishUp, sent } from './net-link.js';

/** Prints the one answer line. */
const answer = (o: any) => print('SMQ ' + JSON.stringify(o));
const result = (e: string) => answer(e ? { ok: false, error: e } : { ok: true });

/** Defines global SEALMQ (version, status, provision, challenge, totp, start, stop, align) over main.ts's start, stop and align. */
export const installApi = (start: () => void, stop: () => void, align: (t: number) => boolean) => {
  global.SEALMQ = {
    version: __VERSION__,
    status: () => {
      const s = devStatus();
      s.provisioned = !!s.id;
      s.connected = linkUp();
      s.sent = sent;
      s.board = __BOARD__.name;
      answer(s);
    },
    provision: (cfg: any) => {
      if (cfg && cfg.time > 1e9) setTime(cfg.time);
      stop();
      const e = devProvision(cfg);
      start();
      result(e);
    },
    challenge: (nonce: any) => {
      const f = devChallenge(nonce);
      if (typeof f === 'string') return result(f);
      publishUp(f);
      answer({ frame: toHex(f) });
    },
    totp: () => {
      const t = devTotp();
      t ? answer({ totp: t }) : result(__PLAIN__ ? PLAIN : 'not provisioned');
    },
    start: () => {
      start();
      result('');
    },
    align: (t: any) => {
      result(!(t > 0) ? 'bad time' : align(t) ? '' : 'not reporting');
    },
    stop: (quiet?: boolean) => {
      stop();
      if (!quiet) result('');
    },
  };
};
