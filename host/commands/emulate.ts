import { Command } from 'commander';
export function register(program: Command): void {
  program.command('emulate').description('(not yet implemented)').action(() => { throw new Error('emulate: not yet implemented'); });
}
