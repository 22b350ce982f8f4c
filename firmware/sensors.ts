/**
 * Samples the board profile's sensors (boards/<name>.json "sensors"): temperature (E.getTemperature),
 * analog (analogRead, 0..1), digital (digitalRead), free (interpreter variables free), uptime (seconds
 * since boot). A sensor that fails or reads NaN (the Linux build has no thermometer) reports null.
 */

const boot = getTime();

/** Interpreter variables free now (without a garbage collection first). */
export const freeVars = () => process.memory(false).free;

/** One reading per sensor, rounded to 3 decimals: the uplink's "d" object. */
export const sample = (list: BoardSensor[]) => {
  const d: { [name: string]: number | null } = {};
  for (let i = 0; i < list.length; i++) {
    const s = list[i];
    const k = s.kind;
    let v = NaN;
    try {
      v = k === 'temperature' ? E.getTemperature() : k === 'analog' ? analogRead(s.pin!) : k === 'digital' ? digitalRead(s.pin!) :
        k === 'free' ? freeVars() : k === 'uptime' ? getTime() - boot : NaN;
    } catch (e) {}
    d[s.name] = isFinite(v) ? Math.round(v * 1000) / 1000 : null;
  }
  return d;
};
