#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerAdminCommands } from './cli/admin-commands.js';
import { registerStartCommand } from './cli/start-command.js';
import { registerDeployCommands } from './cli/deploy-commands.js';
import { registerTapCommand } from './cli/tap-command.js';
import { registerRegisterCommand } from './cli/register-command.js';
import { VERSION } from './version.js';

const program = new Command('switchyard')
  .description('Switchyard: a reverse-proxy gateway with hot-swapped routes and blue/green upstream pools')
  .version(VERSION)
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(str) });

registerStartCommand(program);
registerAdminCommands(program);
registerDeployCommands(program);
registerTapCommand(program);
registerRegisterCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are "errors" with exit code 0; usage errors exit 2.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  throw err;
}
