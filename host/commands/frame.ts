// `sealmq frame seal|open`: seal or open one frame by hand, for people debugging a capture.
import { Command, Option } from 'commander';
import { fromHex, toHex, utf8Decode, utf8Encode } from '../../core/bytes.js';
import { deriveKeys, MAX_COUNTER, open, seal } from '../../core/frame.js';
import { isDeviceId } from '../../core/ids.js';
import { nodePrimitives } from '../protocol/node-primitives.js';
import { EXIT, inputError } from '../errors.js';
import { hexSecret } from './secrets.js';
import { readFileSync } from 'node:fs';

function intIn(name: string, lo: number, hi: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw inputError(`--${name}: not a whole number: ${JSON.stringify(v)}`);
    const n = Number(v);
    if (n < lo || n > hi) throw inputError(`--${name}: must be ${lo}..${hi}, got ${v}`);
    return n;
  };
}

function deviceId(v: string): string {
  if (!isDeviceId(v)) throw inputError(`--device: ${JSON.stringify(v)} is not a device id`, 'device ids match [a-z0-9][a-z0-9-]{0,31}');
  return v;
}

function channel(v: string): string {
  if (!/^[a-z0-9-]{1,32}$/.test(v)) throw inputError(`--channel: ${JSON.stringify(v)} is not a topic level`, 'channels are the last topic level: up or down');
  return v;
}

const rootOptions = (c: Command) =>
  c
    .option('--root <hex>', '32-byte root secret as hex (visible in ps: prefer --root-env for real keys)')
    .option('--root-env <var>', 'read the root secret (hex) from this environment variable')
    .option('--root-file <path>', 'read the root secret (hex) from this file, - for stdin');

export function register(program: Command): void {
  const frame = program.command('frame').description('seal or open a single frame by hand (debugging captures)');

  rootOptions(frame.command('seal'))
    .description('seal a plaintext into a frame and print it as hex')
    .requiredOption('--device <id>', 'device id', deviceId)
    .addOption(new Option('--direction <dir>', 'frame direction').choices(['up', 'down']).makeOptionMandatory())
    .option('--channel <name>', 'channel the MAC binds (last topic level); defaults to the direction', channel)
    .requiredOption('--epoch <n>', 'key epoch 0..255', intIn('epoch', 0, 255))
    .requiredOption('--counter <n>', 'counter 1..2^32-1', intIn('counter', 1, MAX_COUNTER))
    .requiredOption('--plaintext <text>', 'plaintext (UTF-8), usually JSON')
    .action((o) => {
      const root = hexSecret('root', { value: o.root, env: o.rootEnv, file: o.rootFile }, 32);
      const keys = deriveKeys(nodePrimitives, root, o.device, o.direction, o.epoch);
      const f = seal(nodePrimitives, keys, o.device, o.channel ?? o.direction, o.direction, o.epoch, o.counter, utf8Encode(o.plaintext));
      process.stdout.write(toHex(f) + '\n');
    });

  rootOptions(frame.command('open'))
    .description('open one frame (hex, or - for stdin) and print one JSON object; exit 0 only if it opened')
    .requiredOption('--device <id>', 'device id the frame claims to come from', deviceId)
    .requiredOption('--channel <name>', 'channel it arrived on (last topic level: up or down)', channel)
    .argument('<hex>', 'the frame as hex, or - to read it from stdin')
    .action((hexArg: string, o) => {
      const root = hexSecret('root', { value: o.root, env: o.rootEnv, file: o.rootFile }, 32);
      const hex = (hexArg === '-' ? readFileSync(0, 'utf8') : hexArg).trim();
      const out = openHex(root, o.device, o.channel, hex);
      process.stdout.write(JSON.stringify(out) + '\n');
      process.exitCode = out.ok ? EXIT.OK : EXIT.REJECTED;
    });
}

/** Opens a hex frame with no replay state; the direction and epoch come from the frame's own header. */
export function openHex(root: Uint8Array, device: string, ch: string, hex: string): Record<string, unknown> {
  let bytes: Uint8Array;
  try {
    bytes = fromHex(hex.replace(/\s+/g, ''));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (bytes.length < 3) return { ok: false, reason: 'malformed' };
  const direction = bytes[1] === 1 ? 'down' : 'up';
  const keys = deriveKeys(nodePrimitives, root, device, direction, bytes[2]);
  const r = open(nodePrimitives, keys, device, ch, bytes);
  if (!r.ok) return { ok: false, reason: r.reason };
  const text = utf8Decode(r.plaintext!);
  return text === null
    ? { ok: true, direction: r.direction, epoch: r.epoch, counter: r.counter, plaintextHex: toHex(r.plaintext!) }
    : { ok: true, direction: r.direction, epoch: r.epoch, counter: r.counter, plaintext: text };
}
