#!/usr/bin/env node
// Runs the segwithu-live command line (stream/cli.ts) with tsx, which loads TypeScript directly.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// The protobuf code is generated, not committed, and a bare `npm ci` does not build it because
// .npmrc turns install scripts off. Build it here when it is missing or older than the schema.
// Its progress line goes to stderr, so that `send --json` keeps a clean stdout.
const schema = fileURLToPath(new URL('../proto/segwithu.proto', import.meta.url));
const generated = fileURLToPath(new URL('../proto/generated/segwithu.js', import.meta.url));
if (!existsSync(generated) || statSync(generated).mtimeMs < statSync(schema).mtimeMs) {
  const build = spawnSync(process.execPath, [fileURLToPath(new URL('../proto/build.mjs', import.meta.url))], { stdio: ['ignore', 2, 'inherit'] });
  if (build.status !== 0) {
    console.error('segwithu-live: building the protobuf code failed; run `npm run build:proto` and read its error');
    process.exit(1);
  }
}

register();
const { main } = await import('../stream/cli.ts');
const exitCode = await main(process.argv.slice(2));
process.exitCode = exitCode;

// The process normally ends on its own once the command is done. This timer does not keep the
// process alive, but it ends the process when a stray handle (a socket still closing) would.
setTimeout(() => process.exit(exitCode), 2000).unref();
