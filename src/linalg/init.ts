// Loading and instantiating the Wasm kernels (browser-safe; Node reads the file via load.nodejs.ts).
import { instantiateKernels, isReady, setInstance } from './wasm.js';

let initPromise: Promise<void> | null = null;

/**
 * Load and instantiate the kernels (idempotent). In Node with no argument, reads build/kernels.wasm;
 * in a browser pass the bytes or a compiled WebAssembly.Module.
 */
export async function initKernels(wasm?: BufferSource | WebAssembly.Module): Promise<void> {
  if (isReady()) return;
  if (!initPromise) {
    initPromise = (async () => {
      let src = wasm;
      if (src === undefined) {
        const isNode = typeof process !== 'undefined' && !!process.versions?.node;
        if (!isNode) throw new Error('initKernels: in a browser, pass the kernels.wasm bytes or a WebAssembly.Module');
        const spec = './load.nodejs.js';
        const mod = (await import(/* @vite-ignore */ spec)) as { readKernelsWasm(): Promise<Uint8Array> };
        src = await mod.readKernelsWasm();
      }
      setInstance(await instantiateKernels(src));
    })();
    initPromise.catch(() => {
      initPromise = null;
    });
  }
  return initPromise;
}

export function kernelsReady(): boolean {
  return isReady();
}
