// Picks the ConsoleLink implementation a URL names.
import { usageError } from '../errors.js';
import type { ConsoleLink } from './console-link.js';
import { TcpLink } from './tcp-link.js';
import { SerialLink } from './serial-link.js';
import { EmulatedLink } from './emulated-link.js';
import type { BoardOptions } from '../emulator/board.js';

export interface LinkOptions {
  /** Serial baud rate (default 115200). */
  baud?: number;
  /** TCP connect timeout (default 5000 ms). */
  connectTimeoutMs?: number;
  /** For emulated:NAME: board options other than the name (flash file, profile, …). */
  emulated?: Omit<BoardOptions, 'name'>;
}

/** A (not yet opened) link for tcp://host:port, emulated:NAME, serial:PATH[?baud=N] or a device path. */
export function linkFor(url: string, opts: LinkOptions = {}): ConsoleLink {
  if (url.startsWith('tcp://')) return new TcpLink(url, opts.connectTimeoutMs);
  if (url.startsWith('emulated:')) {
    const name = url.slice('emulated:'.length);
    if (!name) throw usageError('emulated: needs a board name, e.g. emulated:node-01');
    return new EmulatedLink({ name, ...opts.emulated });
  }
  if (url.startsWith('serial:') || url.startsWith('/') || /^COM\d+$/i.test(url) || url.startsWith('.')) return new SerialLink(url, opts.baud);
  throw usageError(`not a console link: ${JSON.stringify(url)}`, 'use a serial device path (/dev/ttyUSB0), tcp://HOST:PORT or emulated:NAME');
}

/** Opens the link a URL names. */
export async function openLink(url: string, opts: LinkOptions = {}): Promise<ConsoleLink> {
  const link = linkFor(url, opts);
  await link.open();
  return link;
}
