/**
 * `npm run bench [-- --json FILE] [--quick] [--filter STR[,STR…]]`: runs every area benchmark (or
 * those the filters name) in turn, prints one table per area and optionally writes all rows as JSON.
 */
import { environment, formatTable, type BenchContext, type BenchRow } from './harness.js';
import { writeFileAtomic } from '../src/io/files.nodejs.js';

type BenchModule = { run(ctx: BenchContext): Promise<BenchRow[]> };

// One line per area (owners add theirs here).
const MODULES: Array<[string, () => Promise<BenchModule>]> = [
  ['kernels', () => import('./kernels.js')],
  ['jacobian', () => import('./jacobian.js')],
  ['attention', () => import('./attention.js')],
  ['graph', () => import('./leiden.js')],
  ['pool', () => import('./pool.js')],
  ['build', () => import('./build.js')],
  ['ablation', () => import('./ablation.js')],
  ['cli', () => import('./cli.js')],
  ['dist', () => import('./dist.js')],
  ['browser', () => import('./browser.js')],
  ['lm', () => import('./lm-scale.js')],
];

function parseArgs(argv: string[]): BenchContext {
  const ctx: BenchContext = { log: (m) => process.stderr.write(`${m}\n`) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') {
      const f = argv[++i];
      if (!f) throw new Error('--json needs a file name');
      ctx.json = f;
    } else if (a.startsWith('--json=')) ctx.json = a.slice(7);
    else if (a === '--quick') ctx.quick = true;
    else if (a === '--filter') ctx.filter = argv[++i];
    else if (a.startsWith('--filter=')) ctx.filter = a.slice(9);
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npm run bench -- [--json FILE] [--quick] [--filter STR[,STR…]]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return ctx;
}

async function main(): Promise<void> {
  const ctx = parseArgs(process.argv.slice(2));
  const env = environment();
  process.stdout.write(`interbasis benchmarks — node ${env.node}, ${env.cpu} × ${env.cores}${ctx.quick ? ' (quick)' : ''}\n`);
  const all: BenchRow[] = [];
  const failures: string[] = [];
  // --filter A,B,…: the areas any of them names (each area sees the one that named it)
  const filters = ctx.filter ? ctx.filter.split(',').map((f) => f.trim()).filter(Boolean) : [null];
  for (const [name, load] of MODULES) {
    const f = filters.find((x) => x === null || name.includes(x) || x.startsWith(`${name}/`));
    if (f === undefined) continue;
    ctx.log(`# ${name}`);
    try {
      const rows = await (await load()).run({ ...ctx, filter: f ?? undefined });
      all.push(...rows);
      process.stdout.write(`\n## ${name}\n${formatTable(rows)}\n`);
    } catch (e) {
      failures.push(name);
      process.stderr.write(`bench ${name} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    }
  }
  if (ctx.json) {
    await writeFileAtomic(ctx.json, `${JSON.stringify({ environment: env, quick: !!ctx.quick, rows: all }, null, 2)}\n`);
    process.stdout.write(`\nwrote ${all.length} rows to ${ctx.json}\n`);
  }
  if (failures.length) {
    process.stderr.write(`failed: ${failures.join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
