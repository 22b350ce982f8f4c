// The build flags esbuild's define puts into firmware bundles (host/build/bundle.ts), as globals for the
// firmware sources that Node tests import directly: the production values. Import this first.
const g = globalThis as unknown as { __PLAIN__: boolean; __TS__: number; __NETWORK__: string };
g.__PLAIN__ = false;
g.__TS__ = 1000;
g.__NETWORK__ = 'native';
export {};
