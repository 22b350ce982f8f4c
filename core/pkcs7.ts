/** PKCS#7 padding to 16-byte blocks (RFC 5652 §6.3). Always adds 1..16 bytes, so n ≥ 1 block. */
export function pad16(data: Uint8Array): Uint8Array {
  const p = 16 - (data.length % 16);
  const out = new Uint8Array(data.length + p);
  out.set(data, 0);
  out.fill(p, data.length);
  return out;
}

/** Removes PKCS#7 padding, checking every pad byte without an early exit; null if invalid. */
export function unpad16(data: Uint8Array): Uint8Array | null {
  if (data.length === 0 || data.length % 16 !== 0) return null;
  const p = data[data.length - 1];
  let bad = (p === 0 || p > 16) ? 1 : 0;
  for (let i = 1; i <= 16; i++) {
    const inPad = i <= p ? 1 : 0;
    bad |= inPad & (data[data.length - i] !== p ? 1 : 0);
  }
  if (bad) return null;
  return data.subarray(0, data.length - p);
}
