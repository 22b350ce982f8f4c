import { Command } from 'commander';
export function register(program: Command): void {
  program.command('build').description('(not yet implemented)').action(() => { throw new Error('build: not yet implemented'); });
}
