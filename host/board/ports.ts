// Finding boards (`sealmq ports`): the serial ports of this computer with their USB ids, and which of them
// look like an Espruino or ESP32 board. The id table is data, each row with where it comes from, so it
// can be checked and extended without touching the logic.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

export type BoardGuess = 'espruino' | 'esp32' | 'usb-serial';

export interface KnownUsbId {
  vendorId: string;
  /** '*' = every product of the vendor. */
  productId: string;
  chip: string;
  guess: BoardGuess;
  source: string;
}

/** USB ids of the bridges and native USB consoles found on Espruino and ESP32 boards. */
export const KNOWN_USB_IDS: readonly KnownUsbId[] = [
  { vendorId: '0483', productId: '5740', chip: 'STM32 virtual COM port (Espruino Original/Pico/WiFi)', guess: 'espruino',
    source: 'espruino.com/Troubleshooting and EspruinoTools core/serial_node_serial.js (vendor 0483, product 5740)' },
  { vendorId: '10c4', productId: 'ea60', chip: 'Silicon Labs CP210x USB-UART bridge', guess: 'esp32',
    source: 'linux-usb.org usb.ids; Espressif ESP-IDF "Establish Serial Connection" (CP210x on ESP32-DevKitC)' },
  { vendorId: '1a86', productId: '7523', chip: 'WCH CH340 USB-serial', guess: 'esp32',
    source: 'linux-usb.org usb.ids (QinHeng HL-340); common on ESP32 clone boards' },
  { vendorId: '1a86', productId: '55d4', chip: 'WCH CH9102 USB-serial', guess: 'esp32',
    source: 'linux-usb.org usb.ids; ESP32-DevKitC V4 rev. with CH9102 (Espressif docs)' },
  { vendorId: '0403', productId: '6001', chip: 'FTDI FT232R USB-UART', guess: 'esp32',
    source: 'linux-usb.org usb.ids; Espressif ESP-IDF "Establish Serial Connection" (FTDI)' },
  { vendorId: '0403', productId: '6010', chip: 'FTDI FT2232H (ESP-WROVER-KIT)', guess: 'esp32',
    source: 'linux-usb.org usb.ids; Espressif ESP-WROVER-KIT user guide (FT2232HL)' },
  { vendorId: '0403', productId: '6015', chip: 'FTDI FT-X series USB-UART', guess: 'esp32',
    source: 'linux-usb.org usb.ids' },
  { vendorId: '303a', productId: '*', chip: 'Espressif native USB (USB-Serial-JTAG / CDC on ESP32-S2/S3/C3/C6)', guess: 'esp32',
    source: 'USB-IF vendor id 0x303A = Espressif; ESP-IDF "USB Serial/JTAG Controller Console" (303a:1001)' },
];

export interface PortInfo {
  path: string;
  vendorId: string | null;
  productId: string | null;
  manufacturer: string | null;
  product: string | null;
  serialNumber: string | null;
}

export interface ClassifiedPort extends PortInfo {
  /** What the USB ids suggest, or null: not a known board or bridge. */
  likely: BoardGuess | null;
  chip: string | null;
}

const hex4 = (v: string | null | undefined): string | null => {
  if (!v) return null;
  const s = v.trim().toLowerCase().replace(/^0x/, '');
  return /^[0-9a-f]{1,4}$/.test(s) ? s.padStart(4, '0') : null;
};

/** Which known id, if any, a port's USB vendor/product matches. */
export function classifyPort(p: PortInfo): ClassifiedPort {
  const v = hex4(p.vendorId);
  const pr = hex4(p.productId);
  const hit = v ? KNOWN_USB_IDS.find((k) => k.vendorId === v && (k.productId === '*' || k.productId === pr)) : undefined;
  let likely: BoardGuess | null = hit ? hit.guess : null;
  // An unknown bridge that says "Espruino" about itself is one.
  if (!hit && /espruino/i.test(`${p.manufacturer ?? ''} ${p.product ?? ''}`)) likely = 'espruino';
  return { ...p, vendorId: v, productId: pr, likely, chip: hit ? hit.chip : null };
}

const read = (f: string): string | null => {
  try { return readFileSync(f, 'utf8').trim() || null; } catch { return null; }
};

/**
 * Linux without udevadm (containers, minimal images), where serialport's list() fails: the same facts
 * from sysfs. USB-attached ttys only (ttyUSB, ttyACM), plus on-board UARTs with a real driver.
 */
export function listPortsSysfs(root = '/sys/class/tty', dev = '/dev'): PortInfo[] {
  let names: string[];
  try { names = readdirSync(root); } catch { return []; }
  const out: PortInfo[] = [];
  for (const name of names.sort()) {
    if (!/^(ttyUSB|ttyACM|ttyAMA|ttyWCH|rfcomm)\d+$/.test(name)) continue;
    const devLink = join(root, name, 'device');
    if (!existsSync(devLink)) continue;
    let dir: string;
    try { dir = realpathSync(devLink); } catch { continue; }
    let usb: string | null = null;
    for (let d = dir, i = 0; i < 6 && d.length > 1; i++, d = join(d, '..')) {
      if (existsSync(join(d, 'idVendor'))) { usb = d; break; }
    }
    out.push({
      path: join(dev, name),
      vendorId: usb ? read(join(usb, 'idVendor')) : null,
      productId: usb ? read(join(usb, 'idProduct')) : null,
      manufacturer: usb ? read(join(usb, 'manufacturer')) : null,
      product: usb ? read(join(usb, 'product')) : null,
      serialNumber: usb ? read(join(usb, 'serial')) : null,
    });
  }
  return out;
}

function hasUdevadm(): boolean {
  const r = spawnSync('udevadm', ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/** The serial ports of this computer, classified; boards first. */
export async function listPorts(): Promise<ClassifiedPort[]> {
  let ports: PortInfo[];
  // serialport's Linux list() runs `udevadm info -e`; without udevadm it crashes the process (the spawn
  // error is not handled), so read sysfs instead.
  if (process.platform === 'linux' && !hasUdevadm()) {
    ports = listPortsSysfs();
  } else {
    const { SerialPort } = await import('serialport');
    ports = (await SerialPort.list()).map((p) => ({
      path: p.path, vendorId: p.vendorId ?? null, productId: p.productId ?? null, manufacturer: p.manufacturer ?? null,
      product: null, serialNumber: p.serialNumber ?? null,
    }));
  }
  const rank = (c: ClassifiedPort) => (c.likely === 'espruino' ? 0 : c.likely === 'esp32' ? 1 : c.vendorId ? 2 : 3);
  return ports.map(classifyPort).sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path));
}
