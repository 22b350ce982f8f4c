/**
 * Espruino globals the firmware names most often, given to the bundler as aliases (esbuild `inject`,
 * host/build/bundle.ts): every `Uint8Array`, `Math` and `JSON` in firmware/ and core/ becomes a variable of
 * the bundle's own scope, which the minifier names with one letter. That is ~300 bytes of a 16 KB budget, and
 * on the board a name found in the bundle's scope, which Espruino searches anyway before its root scope and
 * its built-ins (and, on the emulated board, no global look-up through node:vm for each). The values are the
 * globals themselves: nothing changes but where the name is found.
 */
const U8 = Uint8Array;
const M = Math;
const J = JSON;
export { U8 as Uint8Array, M as Math, J as JSON };
