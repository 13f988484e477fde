import type { Command } from 'commander';

/** Placeholder registration; the owning module replaces this file. */
export function register(program: Command): void {
  program.command('compare').description('(not yet built)').action(() => {
    throw new Error('interbasis compare: not built yet');
  });
}
