/**
 * Espruino's built-in modules (Storage, crypto, net, Wifi). Reached as global.require: esbuild turns a
 * bare require() in an ES module into a shim that needs Proxy, which Espruino lacks, and the bundle
 * checker refuses it. Espruino finds built-in functions as members of the global object too
 * (jspGetNamedFieldInParents → jswFindBuiltInFunction in src/jsparse.c).
 */
export const espruinoRequire: typeof require = function (name: string) {
  return global.require(name);
} as typeof require;
