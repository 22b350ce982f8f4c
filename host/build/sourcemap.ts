// Just enough of Source Map v3 (https://tc39.es/source-map/) to say where in firmware/*.ts a construct of
// the minified bundle came from: decode the Base64 VLQ "mappings" and look a generated position up.

export interface SourceMapV3 {
  version: number;
  sources: string[];
  mappings: string;
}

export interface Original {
  source: string;
  /** 1-based. */
  line: number;
  /** 0-based. */
  column: number;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Segments per generated line: [generated column, source index, source line, source column]. */
export function decodeMappings(mappings: string): number[][][] {
  const lines: number[][][] = [];
  let src = 0;
  let srcLine = 0;
  let srcCol = 0;
  for (const line of mappings.split(';')) {
    const segs: number[][] = [];
    let genCol = 0;
    for (const seg of line.split(',')) {
      if (!seg) continue;
      const vals: number[] = [];
      let v = 0;
      let shift = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        if (d < 0) throw new Error(`source map: bad character ${JSON.stringify(ch)}`);
        v += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          vals.push(v & 1 ? -(v >>> 1) : v >>> 1);
          v = 0;
          shift = 0;
        }
      }
      genCol += vals[0];
      if (vals.length >= 4) {
        src += vals[1];
        srcLine += vals[2];
        srcCol += vals[3];
        segs.push([genCol, src, srcLine, srcCol]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

/** Where generated (1-based line, 0-based column) came from, or undefined if the map does not say. */
export function originalPosition(map: SourceMapV3, decoded: number[][][], line: number, column: number): Original | undefined {
  const segs = decoded[line - 1];
  if (!segs) return undefined;
  let best: number[] | undefined;
  for (const s of segs) if (s[0] <= column) best = s;
  return best ? { source: map.sources[best[1]], line: best[2] + 1, column: best[3] } : undefined;
}
