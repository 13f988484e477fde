// Node-only: read build/kernels.wasm from the package root (works from src/ under vitest and from
// dist/ after tsc). Imported dynamically by initKernels() so browser bundles never include it.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

export function kernelsWasmPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    resolve(here, '../../build/kernels.wasm'), // src/linalg
    resolve(here, '../../../build/kernels.wasm'), // dist/src/linalg
  ];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(
    `initKernels: build/kernels.wasm not found (looked in ${candidates.join(', ')}); run \`npm run build:wasm\``,
  );
}

let optimizedTier = false;

/**
 * V8 compiles Wasm with its baseline compiler (Liftoff) first and moves a function to the
 * optimizing one (TurboFan) only on a later call, so a long first call (a Jacobi
 * eigendecomposition, a whole shard of row updates) runs entirely in baseline code, several times
 * slower. The kernels are small, so they are compiled with TurboFan from the start
 * (--no-liftoff, a process-wide V8 flag that changes only speed, never results; it must be set
 * before the first Wasm compile). INTERBASIS_WASM_LIFTOFF=1 keeps V8's default.
 */
export function preferOptimizedWasm(): void {
  if (optimizedTier || process.env.INTERBASIS_WASM_LIFTOFF === '1') return;
  optimizedTier = true;
  setFlagsFromString('--no-liftoff');
}

export async function readKernelsWasm(): Promise<Uint8Array> {
  preferOptimizedWasm();
  return new Uint8Array(await readFile(kernelsWasmPath()));
}
