/**
 * The `interbasis` command line. Exit codes: 0 success, 1 runtime failure, 2 bad input (config,
 * arguments, files).
 *
 * Adding a command: write `src/cli/<name>.ts` exporting `register(program: Command)` (which
 * defines the command, its options and its action), and add one line to COMMANDS below. A
 * command's module is imported only when that command runs (or for the help listing), so a
 * command's dependencies never slow down the start of another.
 */
import { Command } from 'commander';
import { UserError } from '../errors.js';
import { PACKAGE_VERSION } from '../version.js';

interface CommandModule {
  register(program: Command): void;
}

/** Every command, in help order: name → its module. */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  build: () => import('./build.js'),
  compare: () => import('./compare.js'),
  ablate: () => import('./ablate.js'),
  cluster: () => import('./cluster.js'),
  labels: () => import('./labels.js'),
  report: () => import('./report.js'),
  demo: () => import('./demo.js'),
  plan: () => import('./plan.js'),
  shard: () => import('./shard.js'),
  merge: () => import('./merge.js'),
  slurm: () => import('./slurm.js'),
  run: () => import('./run.js'),
  serve: () => import('./serve.js'),
  inspect: () => import('./inspect.js'),
};

// A closed pipe (`interbasis … | head`) is not an error: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('interbasis')
    .description('Local Interaction Basis (LIB/RIB): build, compare, ablate, cluster and report.')
    .version(PACKAGE_VERSION, '-V, --version', 'print the interbasis version')
    .showHelpAfterError();
  // `interbasis build …` loads only the build command, `--version` none; anything else (help, a
  // typo) loads all
  const first = argv[2];
  const names =
    first !== undefined && Object.hasOwn(COMMANDS, first) ? [first] : first === '--version' || first === '-V' ? [] : Object.keys(COMMANDS);
  const modules = await Promise.all(names.map((n) => COMMANDS[n]!()));
  for (const m of modules) m.register(program);
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof UserError) {
    process.stderr.write(`interbasis: error: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`interbasis: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
});
