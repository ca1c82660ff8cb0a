// Generates the static protobuf code in proto/generated/ from proto/segwithu.proto:
// an ES module (pbjs -t static-module -w es6) and its TypeScript declarations (pbts).
// The output is git-ignored and rebuilt by `npm run build:proto`; never edit it by hand.
// 64-bit fields decode as Long (the `long` package protobufjs depends on) so that
// nanosecond timestamps keep every bit; stream/wire.ts converts them to bigint.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pbjs, pbts } from 'protobufjs-cli';

const protoDir = dirname(fileURLToPath(import.meta.url));
const outDir = join(protoDir, 'generated');
const schema = join(protoDir, 'segwithu.proto');
const moduleFile = join(outDir, 'segwithu.js');
const typesFile = join(outDir, 'segwithu.d.ts');

function run(tool, args) {
  return new Promise((resolve, reject) => {
    tool.main(args, (error) => (error ? reject(error) : resolve()));
  });
}

mkdirSync(outDir, { recursive: true });
await run(pbjs, ['-t', 'static-module', '-w', 'es6', '-o', moduleFile, schema]);
await run(pbts, ['-o', typesFile, moduleFile]);
console.log(`build:proto wrote ${moduleFile} and ${typesFile}`);
