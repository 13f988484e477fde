import type { Command } from 'commander';

/** Placeholder registration; the owning module replaces this file. */
export function register(program: Command): void {
  program.command('ablate').description('(not yet built)').action(() => {
    throw new Error('interbasis ablate: not built yet');
  });
}
