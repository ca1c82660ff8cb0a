// Builds the viewer page: client/dist/index.html, viewer.js (bundled three.js, protobufjs and
// the page code) and viewer.css. The schema is parsed from proto/segwithu.proto here and
// inlined as protobufjs JSON, so the page never needs the generated Node code.
// Run: npm run build:client
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import protobuf from 'protobufjs';

const clientDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(clientDir, '..');

export interface BuildClientOptions {
  /** Output folder. Default client/dist. */
  outDir?: string;
  /** Minify the bundle. Default true. */
  minify?: boolean;
}

/** Builds the page into `outDir` and returns the folder. */
export async function buildClient(options: BuildClientOptions = {}): Promise<string> {
  const { outDir = join(clientDir, 'dist'), minify = true } = options;
  const schema = protobuf.loadSync(join(repoRoot, 'proto', 'segwithu.proto')).toJSON();

  await mkdir(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: { viewer: join(clientDir, 'src', 'main.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify,
    sourcemap: true,
    logLevel: 'warning',
    define: { __SEGWITHU_PROTO_JSON__: JSON.stringify(schema) },
  });
  await copyFile(join(clientDir, 'index.html'), join(outDir, 'index.html'));
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = await buildClient();
  console.log(`viewer built into ${outDir}`);
}
