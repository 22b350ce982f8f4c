// A cable pulled half-way through provisioning leaves no record, and running the same command again
// (after the board is back) completes it: nothing is recorded before the board has proven its keys.
import test from 'ava';
import { join } from 'node:path';
import { firmwareBundle } from '../host/board/firmware-bundle.js';
import { flashBoard } from '../host/board/flash.js';
import { provisionBoard } from '../host/board/provision.js';
import { spawnEmulator } from '../host/emulator/process.js';
import { openRegistry } from '../host/registry/registry.js';
import { SealmqError } from '../host/errors.js';
import { tmpHome } from './cli-helpers.js';

for (const pullAt of ['write', 'challenge', 'totp'] as const) {
  test(`power gone at the "${pullAt}" step: a device error, no record; the re-run completes with one record`, async (t) => {
    const home = tmpHome();
    const reg = openRegistry({ home });
    await reg.unlock('interrupted provisioning');
    const flashFile = join(home, 'b.flash');
    let board = await spawnEmulator({ name: 'b', flashFile, board: 'emulated' });
    t.teardown(async () => { await board.stop(); reg.close(); });
    const fw = await firmwareBundle('emulated', join(home, 'dist'));
    await flashBoard({ port: board.console, bundle: fw.bundle, version: fw.version });

    const e = await t.throwsAsync(provisionBoard({
      port: board.console, deviceId: 'field-07', broker: 'mqtt://127.0.0.1:1', registry: reg, actor: 'test',
      onStep: (s) => { if (s === pullAt) void board.cut(); },
    }));
    t.true(e instanceof SealmqError && e.kind === 'device', String(e));
    t.is(reg.getDevice('field-07'), null, 'nothing recorded');

    board = await spawnEmulator({ name: 'b', flashFile, board: 'emulated' });
    const r = await provisionBoard({ port: board.console, deviceId: 'field-07', broker: 'mqtt://127.0.0.1:1', registry: reg, actor: 'test' });
    t.is(r.epoch, 0);
    t.is(reg.listDevices().filter((d) => d.id === 'field-07').length, 1);
    t.is(reg.auditLog({ device: 'field-07' }).filter((a) => a.action.startsWith('device.provision')).length, 1);
  });
}
