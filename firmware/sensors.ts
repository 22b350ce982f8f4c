/**
 * Samples the board profile's sensors (boards/<name>.json "sensors"): temperature (E.getTemperature),
 * analog (analogRead, 0..1), digital (digitalRead), free (interpreter variables free), uptime (seconds
 * since boot). A sensor that fails or reads NaN (the Linux build has no thermometer) reports null.
 */

// Pure: dropped from bundles whose board has no uptime sensor.
const boot = /* @__PURE__ */ getTime();

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
      // __HAS__.<kind> is a build constant (the profile's sensor kinds): the kinds a board lacks fold away.
      v = __HAS__.temperature && k === 'temperature' ? E.getTemperature() : __HAS__.analog && k === 'analog' ? analogRead(s.pin!) :
        __HAS__.digital && k === 'digital' ? digitalRead(s.pin!) : __HAS__.free && k === 'free' ? freeVars() :
        __HAS__.uptime && k === 'uptime' ? getTime() - boot : NaN;
    } catch (e) {}
    d[s.name] = isFinite(v) ? Math.round(v * 1000) / 1000 : null;
  }
  return d;
};
