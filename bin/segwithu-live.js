#!/usr/bin/env node
// Runs the segwithu-live command line (stream/cli.ts) with tsx, which loads TypeScript directly.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../stream/cli.ts');
const exitCode = await main(process.argv.slice(2));
process.exitCode = exitCode;

// The process normally ends on its own once the command is done. This timer does not keep the
// process alive, but it ends the process when a stray handle (a socket still closing) would.
setTimeout(() => process.exit(exitCode), 2000).unref();
