// require("net") as Espruino's socket layer behaves (libs/network/jswrap_net.c, socketserver.c):
// connect(options, cb) returns a Socket at once; cb runs on 'connect' with the socket; 'data' carries a
// binary string (one char per byte); an error fires 'error' {code, message} with Espruino's negative
// codes, then 'end', then 'close'(hadError); a clean remote close fires 'end' then 'close'(false).
// write() takes a string whose chars are bytes. Real Node sockets underneath, Nagle off.
import { connect as tcpConnect, type Socket } from 'node:net';
import { binaryString, type Realm } from './realm.js';

export interface NetHost {
  realm: Realm;
  guard: <T>(f: () => T) => T;
  /** Runs a sandbox callback as an event of the board (errors reported, nothing if the board is off). */
  emit: (target: object, event: string, args: unknown[]) => void;
  /** Registers a live host socket so a power cut can drop it. */
  track: (s: Socket) => void;
}

/** Espruino's socket error codes (libs/network/socketerrors.c). */
const ERRORS: Record<string, [number, string]> = {
  ETIMEDOUT: [-3, 'timeout'],
  EHOSTUNREACH: [-4, 'no route'],
  ENETUNREACH: [-4, 'no route'],
  ENOTFOUND: [-6, 'not found'],
  EAI_AGAIN: [-6, 'not found'],
  ECONNREFUSED: [-9, 'connection reset'],
  ECONNRESET: [-9, 'connection reset'],
  EPIPE: [-8, 'unsent data'],
};

/** Bytes of what write() was given: a string's chars are bytes; anything else as Espruino's String(x). */
function latin1(v: unknown): Buffer {
  return Buffer.from(typeof v === 'string' ? v : String(v), 'latin1');
}

export function netModule(h: NetHost): Record<string, unknown> {
  const { realm, guard } = h;
  const n = realm.native;
  const connect = (options: unknown, callback?: unknown) => guard(() => {
    let host = 'localhost';
    let port = 80;
    if (typeof options === 'string') {
      const u = new URL(options.includes('://') ? options : 'tcp://' + options);
      host = u.hostname;
      port = Number(u.port) || 80;
    } else if (options !== null && typeof options === 'object') {
      const o = options as { host?: unknown; port?: unknown };
      if (o.host !== undefined) host = String(o.host);
      if (o.port !== undefined) port = Number(o.port);
    } else throw realm.error('Error', `Expecting Options to be an Object but it was ${typeof options}`);
    if (callback !== undefined && typeof callback !== 'function') throw realm.error('Error', `Expecting Callback Function but got ${typeof callback}`);

    const sock = realm.object({}) as Record<string, unknown>;
    let ended = false;
    let closed = false;
    let hadError = false;
    const s = tcpConnect({ host, port });
    s.setNoDelay(true);
    h.track(s);
    if (typeof callback === 'function') (sock as { on: Function }).on('connect', callback);
    s.on('connect', () => {
      h.emit(sock, 'connect', [sock]);
      h.emit(sock, 'drain', [sock]);
    });
    s.on('data', (d: Buffer) => h.emit(sock, 'data', [binaryString(d)]));
    s.on('error', (e: NodeJS.ErrnoException) => {
      hadError = true;
      const [code, message] = ERRORS[e.code ?? ''] ?? [-10, 'unknown error'];
      h.emit(sock, 'error', [realm.object({ code, message })]);
    });
    s.on('close', () => {
      closed = true;
      if (!ended) {
        ended = true;
        h.emit(sock, 'end', []);
      }
      h.emit(sock, 'close', [hadError]);
    });

    const write = (data: unknown) => guard(() => {
      if (closed || s.destroyed) throw realm.error('Error', 'This socket is closed');
      if (data === undefined) return true;
      return s.write(latin1(data));
    });
    Object.defineProperties(sock, {
      write: { value: n(write), enumerable: false },
      end: {
        value: n((data?: unknown) => guard(() => {
          if (data !== undefined && !closed) s.write(latin1(data));
          s.end();
        })),
        enumerable: false,
      },
      destroy: { value: n(() => guard(() => void s.destroy())), enumerable: false },
    });
    return sock;
  });
  return realm.object({ connect: n(connect) });
}
