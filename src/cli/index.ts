/**
 * The `interbasis` command line. Each subcommand lives in its own module and registers itself.
 * Exit codes: 0 success, 1 runtime failure, 2 bad input (config, arguments, files).
 */
import { Command } from 'commander';
import { register as registerBuild } from './build.js';
import { register as registerCompare } from './compare.js';
import { register as registerAblate } from './ablate.js';
import { register as registerCluster } from './cluster.js';
import { register as registerLabels } from './labels.js';
import { register as registerReport } from './report.js';
import { register as registerDemo } from './demo.js';
import { register as registerInspect } from './inspect.js';
import { UserError } from '../errors.js';

// A closed pipe (`interbasis … | head`) is not an error: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

const program = new Command();
program
  .name('interbasis')
  .description('Local Interaction Basis (LIB/RIB): build, compare, ablate, cluster and report.')
  .showHelpAfterError();

registerBuild(program);
registerCompare(program);
registerAblate(program);
registerCluster(program);
registerLabels(program);
registerReport(program);
registerDemo(program);
registerInspect(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof UserError) {
    process.stderr.write(`interbasis: error: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`interbasis: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
});
