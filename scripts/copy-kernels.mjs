// Copies build/kernels.wasm to dist/build/kernels.wasm, so `new URL('../../build/kernels.wasm',
// import.meta.url)` finds the kernels from src/browser/ (sources) and dist/src/browser/ (package).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';

if (!existsSync('build/kernels.wasm')) {
  console.error('copy-kernels: build/kernels.wasm is missing (run npm run build:wasm)');
  process.exit(1);
}
mkdirSync('dist/build', { recursive: true });
copyFileSync('build/kernels.wasm', 'dist/build/kernels.wasm');
