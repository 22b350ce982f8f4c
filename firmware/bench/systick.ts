/**
 * Keeps the Cortex-M SysTick interrupt out of (or at a fixed count in) a timed stretch, so that under QEMU
 * -icount a figure is the same in every boot. Espruino's STM32 port reloads SysTick every 2^24 ticks
 * (~10^8 instructions under -icount shift=0); its handler (~30 instructions) runs inside whichever batch
 * the reload falls in, and where it falls follows the host's clock while the board idled between ops.
 * So before a batch that the next reload could reach, the board waits for that reload (reading the
 * counter, SYST_CVR, until it jumps back up): the batch then starts just after it. A batch shorter than
 * a period then has no interrupt in it; a longer one always has the same number.
 *
 * Only for a board with SysTick: the host defines __SYSTICK__ true for a QEMU Cortex-M board under -icount
 * (peek32 of these addresses would fault on the Linux build; the emulated board has no peek32).
 */
declare const __SYSTICK__: boolean;

/** Whether to align: a build-time constant, so other boards' bundles never call peek32. */
export const SYSTICK = __SYSTICK__;
const SYST_RVR = 0xe000e014; // reload value: the counter counts RVR..0, then reloads
const SYST_CVR = 0xe000e018; // current value

/** SysTick ticks per millisecond of getTime(), measured on first use (0: not yet). */
let ticksPerMs = 0;
/** Half the reload value: the counter is above it just after a reload. */
let half = 0;

/*
 * Written so that the heap ends the same however long it waits: Espruino allocates a variable for every
 * number, and a loop that assigned the counter it read to a variable would leave its free list in an order
 * that depends on how many times it went round (on the host's clock), and with it where later objects land,
 * which moves later figures by a few instructions. The loops below only compare a temporary, which is
 * freed where it was allocated; the calibration has no branch or retry.
 */
const calibrate = () => {
  const period = (peek32(SYST_RVR) & 0xffffff) + 1;
  half = period >> 1;
  const t0 = getTime();
  const v0 = peek32(SYST_CVR) & 0xffffff;
  for (let i = 0; i < 100; i++) peek32(SYST_CVR);
  const v1 = peek32(SYST_CVR) & 0xffffff;
  const t1 = getTime();
  // The counter counts down; one reload in between (the stretch is far shorter than a period) adds a period.
  ticksPerMs = ((v0 - v1 + period) % period) / ((t1 - t0) * 1000);
};

/** Waits, when a stretch of about `ms` could see the next reload, until just after it. */
export const sysTickAlign = (ms: number) => {
  if (!ticksPerMs) calibrate();
  // Room for the stretch with a wide margin (its length was estimated from one call).
  const need = ms * ticksPerMs * 2 + 50000;
  if (need < half && need < (peek32(SYST_CVR) & 0xffffff)) return;
  while ((peek32(SYST_CVR) & 0xffffff) >= half);
  while ((peek32(SYST_CVR) & 0xffffff) < half);
};
