// The command line and the worker script as a Node bundle in dist/src/bundle (`npm run build:ts`
// runs `vite build --config vite.cli.config.ts` after tsc). A cold `interbasis` process then loads
// a few files instead of ~250 modules (the compiled sources and their dependencies), in the main
// thread and in every worker: ~150 ms of start-up. The bundle is made from tsc's output in dist/,
// so it runs exactly the compiled code; dist/src/ stays the package's library entry points.
// bin/interbasis.js runs dist/src/bundle/cli.js. The folder sits at the depth of dist/src/cli, so
// the paths the code finds relative to itself (build/kernels.wasm, dist/app) stay the same, and
// the pool finds worker.js beside it.
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * initKernels() loads the Node-only kernel reader through an import that browser bundlers must not
 * follow (src/linalg/init.ts); in the Node bundle it is an ordinary import.
 */
function nodeKernelReader(): Plugin {
  const hidden = 'import(/* @vite-ignore */ spec)';
  return {
    name: 'interbasis-node-kernel-reader',
    transform(code, id) {
      if (!id.replace(/\\/g, '/').endsWith('/dist/src/linalg/init.js')) return null;
      if (!code.includes(hidden)) throw new Error(`${id}: the kernel reader import changed; update vite.cli.config.ts`);
      return { code: code.replace(hidden, "import('./load.nodejs.js')"), map: null };
    },
  };
}

export default defineConfig({
  logLevel: 'warn',
  plugins: [nodeKernelReader()],
  // every dependency is bundled but piscina, whose own worker entry is a file of its package
  ssr: { noExternal: true, external: ['piscina'] },
  build: {
    ssr: true,
    outDir: here('dist/src/bundle'),
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    rollupOptions: {
      input: { cli: here('dist/src/cli/index.js'), worker: here('dist/workers/worker.js') },
      external: [/^node:/, 'piscina'],
      output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
    },
  },
});
