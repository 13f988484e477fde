// Browser side of test/pool-browser.test.ts: Gram over 31 fixed shards with the comlink pool
// (1, 2, 4 module workers, X in a SharedArrayBuffer), plus error/destroy behaviour.
import { createBrowserPool } from '../../workers/browser.js';
import { parallelGram } from '../../src/parallel/gram.js';
import { isShared, toShared } from '../../src/parallel/pool.js';
import wasmUrl from '../../build/kernels.wasm?url';

const hex = (a: Float64Array) =>
  Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), (b) => b.toString(16).padStart(2, '0')).join('');

const params = new URLSearchParams(location.search);
const n = Number(params.get('n'));
const d = Number(params.get('d'));
const shardRows = Number(params.get('shardRows'));

async function main(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  // integer-only generator: Math.sin & co. may differ between JS engines
  const X = new Float64Array(n * d).map((_, i) => (((i * 2654435761) % 1000003) / 1000003 - 0.5) * (1 + (i % 13)));
  const Xs = toShared(X);
  out.shared = isShared(Xs);
  for (const workers of [1, 2, 4]) {
    const pool = await createBrowserPool({ wasm: wasmUrl, workers });
    out[`size${workers}`] = pool.size;
    out[`gram${workers}`] = hex(await parallelGram(pool, Xs, n, d, { shardRows }));
    if (workers === 2) {
      out.error = await pool.run('__fail', { message: 'boom' }).catch((e: Error) => e.message);
      out.userError = await pool.run('__fail', { message: 'bad', user: true }).catch((e: Error) => `${e.name}: ${e.message}`);
      out.unknown = await pool.run('nope', {}).catch((e: Error) => e.message);
    }
    await pool.destroy();
    if (workers === 4) out.destroyed = await pool.run('ping', 1).catch((e: Error) => e.message);
  }
  return out;
}

main().then(
  (r) => ((globalThis as { __result?: unknown }).__result = r),
  (e) => ((globalThis as { __result?: unknown }).__result = { fatal: String(e?.stack ?? e) }),
);
