// The explorer app (src/app) as a static, offline bundle in dist/app (`npm run build` runs
// `vite build --config vite.app.config.ts` after tsc). Served with COOP/COEP by
// `interbasis serve` / `npm run app`. Pages: index.html (the explorer), embed.html (the
// <interbasis-graph> example).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('src/app'),
  base: './',
  logLevel: 'warn',
  publicDir: false,
  build: {
    outDir: here('dist/app'),
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    rollupOptions: { input: { index: here('src/app/index.html'), embed: here('src/app/embed.html') } },
  },
  worker: { format: 'es' },
  server: { headers: isolation, fs: { allow: [here('.')] } },
  preview: { headers: isolation },
});
