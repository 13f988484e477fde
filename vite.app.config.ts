// The explorer app (src/app) as a static, offline bundle in dist/app: `npm run build` (vite build
// --config vite.app.config.ts). Served with COOP/COEP by `interbasis serve` / `npm run app`.
import { defineConfig } from 'vite';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: 'src/app',
  base: './',
  logLevel: 'warn',
  build: {
    outDir: '../../dist/app',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    rollupOptions: { input: { index: 'src/app/index.html', embed: 'src/app/embed.html' } },
  },
  worker: { format: 'es' },
  server: { headers: isolation },
  preview: { headers: isolation },
});
