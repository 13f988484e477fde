// Node-only: read build/kernels.wasm from the package root (works from src/ under vitest and from
// dist/ after tsc). Imported dynamically by initKernels() so browser bundles never include it.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { existsSync } from 'node:fs';

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

export async function readKernelsWasm(): Promise<Uint8Array> {
  return new Uint8Array(await readFile(kernelsWasmPath()));
}
