// A bare capture broker for closed loopback harnesses (power-cut campaign, firmware tests): it accepts
// every login and records every uplink payload. Never a product path: `sealmq broker` is deny-by-default.
import { Aedes } from 'aedes';
import { createServer, type AddressInfo } from 'node:net';

export interface CapturedFrame { topic: string; payload: Uint8Array; at: number }

export interface CaptureBroker {
  port: number;
  url: string;
  frames: CapturedFrame[];
  close(): Promise<void>;
}

export async function startCaptureBroker(): Promise<CaptureBroker> {
  const aedes = await Aedes.createBroker();
  const frames: CapturedFrame[] = [];
  aedes.on('publish', (packet, client) => {
    if (client && packet.topic.endsWith('/up')) frames.push({ topic: packet.topic, payload: new Uint8Array(packet.payload as Buffer), at: Date.now() });
  });
  const server = createServer((s) => { s.setNoDelay(true); aedes.handle(s); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port, url: `mqtt://127.0.0.1:${port}`, frames,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}
