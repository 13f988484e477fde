// <interbasis-graph> as one self-contained ES module (lit bundled): dist/app/interbasis-graph.js.
// `interbasis report --explorer` inlines it into a single HTML file.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  logLevel: 'warn',
  publicDir: false,
  build: {
    outDir: here('dist/app'),
    emptyOutDir: false,
    target: 'es2022',
    lib: { entry: here('src/browser/component.ts'), formats: ['es'], fileName: () => 'interbasis-graph.js' },
    rollupOptions: { output: { codeSplitting: false } },
  },
});
