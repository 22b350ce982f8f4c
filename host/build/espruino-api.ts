// What Espruino 2v29 offers a program, as name tables for the bundle checker (check.ts). Read off the
// JSON blocks that generate Espruino's wrappers (src/jswrap_*.c, libs/crypto/jswrap_crypto.c,
// libs/network/jswrap_net.c, libs/network/esp32/jswrap_esp32_network.c at github.com/espruino/Espruino,
// 2v29 + fixes) and DESIGN.md §6 (measured on the Linux build). Names only: if the firmware needs a name
// that is missing here, check Espruino's reference (espruino.com/Reference) before adding it.

const words = (s: string): string[] => s.split(/\s+/).filter(Boolean);

/** Free globals a program may use on every Espruino board sealmq targets. */
export const GLOBALS = new Set(words(`
  undefined NaN Infinity eval isNaN isFinite parseInt parseFloat encodeURIComponent decodeURIComponent
  Object Function Array String Number Boolean Math JSON Date RegExp Promise Error TypeError RangeError
  ReferenceError SyntaxError InternalError ArrayBuffer ArrayBufferView DataView Int8Array Uint8Array
  Uint8ClampedArray Int16Array Uint16Array Int32Array Uint32Array Float32Array Float64Array Uint24Array
  global globalThis console print require E process getTime setTime setTimeout setInterval clearTimeout
  clearInterval changeInterval analogRead analogWrite digitalRead digitalWrite digitalPulse pinMode getPinMode
  setWatch clearWatch shiftOut setDeepSleep setSleepIndicator setBusyIndicator peek8 peek16 peek32 poke8
  poke16 poke32 btoa atob load reset save echo edit dump trace getSerial Pin Serial SPI I2C OneWire Waveform
  StorageFile Modules HIGH LOW LED LED1 LED2 LED3 BTN BTN1 Serial1 Serial2 Serial3 Serial4 Serial5 Serial6 LoopbackA LoopbackB
  Telnet USB __FILE__
`));

/** Pin names (D0, A5, …) are globals on boards. */
export const PIN_NAME = /^[A-Z][0-9]{1,2}$/;

/** Globals of modern JavaScript that Espruino does not have, with what to do instead. */
export const MISSING_GLOBALS: Record<string, string> = {
  Map: 'use a plain object keyed by string',
  Set: 'use a plain object or an array',
  WeakMap: 'use a property on the object',
  WeakSet: 'use a property on the object',
  WeakRef: 'hold the reference',
  FinalizationRegistry: 'free resources explicitly',
  Symbol: 'use a string key',
  Proxy: 'write the accessors out (esbuild emits a Proxy shim for a bare require() in an ES module: call global.require("…") instead)',
  Reflect: 'use Object.* or call the function',
  BigInt: 'use two 32-bit numbers',
  BigInt64Array: 'use two 32-bit numbers',
  BigUint64Array: 'use two 32-bit numbers',
  TextEncoder: 'use core/bytes.ts utf8Encode',
  TextDecoder: 'use core/bytes.ts utf8Decode',
  Buffer: 'use Uint8Array and core/bytes.ts',
  Intl: 'format by hand',
  WebAssembly: 'not available on a microcontroller',
  SharedArrayBuffer: 'use ArrayBuffer',
  Atomics: 'there is one thread',
  structuredClone: 'copy by hand',
  queueMicrotask: 'use setTimeout(fn, 0)',
  fetch: 'use require("http")',
  URL: 'parse by hand',
  AggregateError: 'use Error',
  crypto: 'use require("crypto") (not a global on Espruino)',
};

/** Static members a global object or constructor has; members of these not listed do not exist. */
export const STATIC_MEMBERS: Record<string, Set<string>> = Object.fromEntries(Object.entries({
  Array: 'isArray',
  Number: 'MAX_VALUE MIN_VALUE NEGATIVE_INFINITY NaN POSITIVE_INFINITY',
  Math: 'E LN10 LN2 LOG10E LOG2E PI SQRT1_2 SQRT2 abs acos asin atan atan2 ceil clip cos exp floor log max min pow randInt random round sign sin sqrt tan wrap',
  Object: 'assign create defineProperties defineProperty entries fromEntries getOwnPropertyDescriptor getOwnPropertyDescriptors getOwnPropertyNames getPrototypeOf keys setPrototypeOf values',
  String: 'fromCharCode',
  JSON: 'parse stringify',
  Promise: 'all reject resolve',
  Date: 'now parse',
  ArrayBuffer: '',
  DataView: '',
  Int8Array: '', Uint8Array: '', Uint8ClampedArray: '', Int16Array: '', Uint16Array: '', Int32Array: '',
  Uint32Array: '', Float32Array: '', Float64Array: '', Uint24Array: '',
  E: 'CRC32 FFT HSBtoRGB asUTF8 asm clip compiledC convolve decodeUTF8 defrag dumpFragmentation dumpFreeList dumpLockedVars dumpStr dumpVariables enableWatchdog fromUTF8 getAddressOf getAnalogVRef getBattery getClock getConsole getErrorFlags getFlags getPowerUsage getRTCPrescaler getSizeOf getTemperature getVDDH hwRand internal isUTF8 kickWatchdog lockConsole lookupNoCase mapInPlace memoryArea memoryMap nativeCall pipe reboot rebootToDFU reverseByte sendUSBHID setBootCode setClock setComparator setConsole setDST setFlags setPassword setRTCPrescaler setTimeZone setUSBHID srand stopEventPropagation sum toArrayBuffer toFlatString toJS toString toUint8Array variance on emit removeListener removeAllListeners',
  process: 'env memory version',
  console: 'debug error info log trace warn',
}).map(([k, v]) => [k, new Set([...words(v), 'prototype', 'name', 'length', 'call', 'apply', 'bind', 'constructor'])]));

/**
 * Methods built-in objects and modules (Storage, crypto, net, Wifi, sockets) have on Espruino. A call
 * x.m(…) on anything but a known global must name one of these or a property the bundle itself defines.
 */
export const METHODS = new Set(words(`
  AES PBKDF2 SHA1 SHA224 SHA256 SHA384 SHA512 add addCached addListener addMembership analog apply available
  bind buffer byteLength byteOffset call catch ccmDecrypt ccmEncrypt charAt charCodeAt clone close compact
  concat connect createServer createSocket debug decrypt disconnect emit encrypt end endsWith erase eraseAll
  erasePage error every exec fill filter find findIndex flush forEach get getAPDetails getAPIP getCached
  getDate getDay getDetails getFloat32 getFloat64 getFree getFullYear getHostByName getHostname getHours
  getIP getInfo getInt16 getInt32 getInt8 getIsDST getLength getMilliseconds getMinutes getMode getMonth
  getPage getPosition getSeconds getStats getStatus getTime getTimezoneOffset getUTCDate getUTCDay
  getUTCFullYear getUTCHours getUTCMilliseconds getUTCMinutes getUTCMonth getUTCSeconds getUint16 getUint32
  getUint8 hasOwnProperty hash includes indexOf info inject isConnected join lastIndexOf length list listen
  log map match mode moveTo on open optimise padEnd padStart parse ping pipe pop prependListener print
  println pulse push pwm read readArrayBuffer readFrom readJSON readLine readReg reduce remove removeAccents
  removeAllCached removeAllListeners removeCached removeListener repeat replace replaceAll replaceWith reset
  restore reverse save scan search select send send4bit send8bit set setAPIP setConfig setConsole setDate
  setFloat32 setFloat64 setFullYear setHostname setHours setIP setInt16 setInt32 setInt8 setMilliseconds
  setMinutes setMonth setSNTP setSeconds setTime setUint16 setUint32 setUint8 setup shift skip slice some
  sort splice split startAP startInput startOutput startsWith stop stopAP subarray substr substring test
  then toFixed toISOString toJSON toLocalISOString toLowerCase toString toUTCString toUpperCase toggle trace
  trim turbo unsetup unshift valueOf warn write writeJSON writeTo
`));

/** Regular-expression flags Espruino honours: jswrap_regexp.c looks at g and i; others are stored and ignored. */
export const REGEX_FLAGS = 'gi';
