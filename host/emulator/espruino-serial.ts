// A UART as Espruino's Serial class offers it (src/jswrap_serial.c), for a board profile that names one
// ("uart": {"port": "Serial2", "baud": …}): setup(baud, options) configures it, write(…) sends bytes
// (strings one byte per char, numbers, arrays, typed arrays, as jsvIterateCallback reads data), print and
// println send text, and what arrives is emitted as 'data' events carrying a binary string (one char per
// byte), as a Serial's #ondata does. The wire is the host's: bytes written go to `transmit`, bytes that
// arrive come in through the returned `receive`.
//
// Bytes that arrive while no 'data' listener is attached are kept, as Espruino keeps them
// (jswrap_stream_pushData): up to 512 bytes (STREAM_MAX_BUFFER_SIZE; the rest is lost), for available()
// and read(chars) (jswrap_stream_read: all of it for chars ≤ 0 or ≥ what is kept, else the first chars);
// a listener attached later does not get them. Flow control is off unless setup() asks for {flow: "xon"}
// (jswrap_serial_setup), so every byte value passes: the emulator has none. Where the emulator chooses
// (and says so): nothing is sent or received before setup() (Espruino sets a USART up at 9600 baud on a
// first write; here a firmware that forgets setup() is caught). Event methods (on, removeAllListeners) are
// every object's.
import { bytesOf, binaryString, type Realm } from './realm.js';

/** Espruino's STREAM_MAX_BUFFER_SIZE (src/jswrap_stream.h): what a Serial keeps with no listener. */
const STREAM_MAX_BUFFER = 512;

export interface SerialHost {
  realm: Realm;
  guard: <T>(f: () => T) => T;
  /** Runs a sandbox listener as an event of the board (errors reported, nothing if the board is off). */
  emit: (target: object, event: string, args: unknown[]) => void;
  /** Bytes the board's firmware wrote, for the wire. */
  transmit: (b: Uint8Array) => void;
}

export interface EmulatedSerial {
  /** The sandbox object (the global Serial2, …). */
  object: Record<string, unknown>;
  /** Bytes from the wire: delivered to the firmware as one 'data' event. */
  receive(b: Uint8Array): void;
  /** The baud rate setup() was given (undefined before setup()). */
  readonly baud: number | undefined;
}

export function serialObject(h: SerialHost): EmulatedSerial {
  const { realm, guard } = h;
  const n = realm.native;
  let baud: number | undefined;
  const obj = realm.object({}) as Record<string, unknown>;
  const send = (args: unknown[]) => {
    if (baud === undefined) return;
    const b = bytesOf(args);
    if (b === undefined) throw realm.error('Error', 'Serial.write: data must be a string, number, array or typed array');
    if (b.length) h.transmit(b);
  };
  Object.defineProperties(obj, {
    setup: {
      value: n((b?: unknown, _options?: unknown) => guard(() => {
        // jswrap_serial_setup: the default is 9600; a rate ≤ 100 or over 10 M is refused (and the port left as it was).
        const v = b === undefined ? 9600 : Math.trunc(Number(b));
        if (!(v > 100 && v <= 10_000_000)) throw realm.error('Error', 'Invalid baud rate specified');
        baud = v;
      })),
      enumerable: false,
    },
    unsetup: { value: n(() => guard(() => void (baud = undefined))), enumerable: false },
    write: { value: n((...args: unknown[]) => guard(() => send(args))), enumerable: false },
    print: { value: n((s: unknown) => guard(() => send([String(s)]))), enumerable: false },
    println: { value: n((s: unknown) => guard(() => send([String(s) + '\r\n']))), enumerable: false },
  });
  // What arrived with no 'data' listener (a binary string), as Espruino's hidden buffer of the Serial.
  let kept = '';
  // Runs as the board's event: the sandbox's emit() says whether a listener took the data.
  const sink = {
    emit: (event: string, data: string) => {
      if (!(obj.emit as (e: string, d: string) => boolean).call(obj, event, data)) kept = (kept + data).slice(0, STREAM_MAX_BUFFER);
    },
  };
  Object.defineProperties(obj, {
    available: { value: n(() => guard(() => kept.length)), enumerable: false },
    read: {
      value: n((chars?: unknown) => guard(() => {
        const c = Math.trunc(Number(chars)) || 0;
        const out = c <= 0 || c >= kept.length ? kept : kept.slice(0, c);
        kept = kept.slice(out.length);
        return out;
      })),
      enumerable: false,
    },
  });
  return {
    object: obj,
    receive: (b) => {
      if (b.length && baud !== undefined) h.emit(sink, 'data', [binaryString(b)]);
    },
    get baud() {
      return baud;
    },
  };
}
