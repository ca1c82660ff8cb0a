// Evaluates the exported SegWithU model on the test clips in onnxruntime-node, with the
// manifest's preprocessing, and writes the figures the model card quotes.
//
//   npx tsx models/evaluate.ts [--model-dir models/carotid] [--data-dir ../shared/data]
//
// Definitions (the same as the eval command's): Dice at frame resolution, the model mask mapped
// back through the letterbox by nearest neighbour; pixel figures at model resolution inside the
// letterbox content region, with the ground truth letterboxed like the image and thresholded
// at 0.5; "near the contour" = within 5 model pixels (Euclidean) of the predicted contour.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';

import { letterboxNormalise, loadManifest, maskToFrame } from '../pipeline/index.js';
import type { Letterbox } from '../pipeline/index.js';
import { auroc, averagePrecision, aurc, dice, eAurc } from '../pipeline/eval/metrics.js';
import { contentRegion, groundTruthToModel, marginUncertainty, nearContourBand, normalisedEntropy, softmax } from '../pipeline/eval/pixels.js';
import { listFolderFrames, readPngGray8 } from '../stream/sources/folder.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BATCH = 8;

interface PixelScores {
  rank: number[];
  entropy: number[];
  margin: number[];
  errors: number[];
}

function emptyScores(): PixelScores {
  return { rank: [], entropy: [], margin: [], errors: [] };
}

function summarise(scores: PixelScores) {
  const out: Record<string, unknown> = { pixels: scores.errors.length, error_rate: scores.errors.reduce((a, b) => a + b, 0) / scores.errors.length };
  for (const name of ['rank', 'entropy', 'margin'] as const) {
    out[name] = {
      auroc: auroc(scores[name], scores.errors),
      auprc: averagePrecision(scores[name], scores.errors),
      aurc: aurc(scores[name], scores.errors),
      e_aurc: eAurc(scores[name], scores.errors),
    };
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'model-dir': { type: 'string', default: path.join(repoRoot, 'models/carotid') },
      'data-dir': { type: 'string', default: process.env.SEGWITHU_DATA_DIR ?? path.join(repoRoot, '../shared/data') },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('Usage: npx tsx models/evaluate.ts [--model-dir DIR (default models/carotid)] [--data-dir DIR (default $SEGWITHU_DATA_DIR or ../shared/data)]');
    return;
  }
  const modelDir = path.resolve(values['model-dir']!);
  const dataDir = path.resolve(values['data-dir']!);
  const manifest = await loadManifest(modelDir);
  const split = JSON.parse(readFileSync(path.join(modelDir, 'split.json'), 'utf8')) as { test: string[] };
  const session = await ort.InferenceSession.create(path.join(modelDir, manifest.files.segwithu.path), {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 2,
  });
  const { width, height } = manifest.input;
  const pixels = width * height;

  const frames = await listFolderFrames(path.join(dataDir, 'ccaui-carotid'), { clips: split.test });
  console.log(`evaluating ${manifest.model.id} ${manifest.model.version} on ${frames.length} test frames (${split.test.length} clips)`);
  const dices: number[] = [];
  const image = emptyScores();
  const near = emptyScores();

  for (let start = 0; start < frames.length; start += BATCH) {
    const batch = frames.slice(start, start + BATCH);
    const input = new Float32Array(batch.length * pixels);
    const loaded = [];
    for (const [i, frame] of batch.entries()) {
      const gray = await readPngGray8(frame.imagePath);
      const truth = await readPngGray8(frame.maskPath!);
      const { letterbox } = letterboxNormalise(gray.pixels, gray.width, gray.height, manifest.input, input.subarray(i * pixels, (i + 1) * pixels));
      loaded.push({ gray, truth, letterbox });
    }
    const outputs = await session.run({ [manifest.input.name]: new ort.Tensor('float32', input, [batch.length, 1, height, width]) });
    const logits = outputs[manifest.outputs.logits].data as Float32Array;
    const rank = outputs[manifest.outputs.rank].data as Float32Array;

    for (const [i, { gray, truth, letterbox }] of loaded.entries()) {
      const frameLogits = logits.subarray(i * 2 * pixels, (i + 1) * 2 * pixels);
      const probabilities = softmax(frameLogits, 2);
      const label = new Uint8Array(pixels);
      for (let p = 0; p < pixels; p++) label[p] = probabilities[pixels + p] > probabilities[p] ? 1 : 0;
      dices.push(dice(maskToFrame(label, letterbox as Letterbox, gray.width, gray.height), truth.pixels));

      const content = contentRegion(letterbox);
      const truthModel = groundTruthToModel(truth.pixels, truth.width, truth.height, width, height);
      const band = nearContourBand(label, width, height);
      const entropy = normalisedEntropy(probabilities, 2);
      const margin = marginUncertainty(probabilities, 2);
      for (let p = 0; p < pixels; p++) {
        if (!content[p]) continue;
        const error = label[p] !== truthModel[p] ? 1 : 0;
        for (const target of band[p] ? [image, near] : [image]) {
          target.rank.push(rank[i * pixels + p]);
          target.entropy.push(entropy[p]);
          target.margin.push(margin[p]);
          target.errors.push(error);
        }
      }
    }
    process.stdout.write(`\r  ${Math.min(start + BATCH, frames.length)}/${frames.length} frames`);
  }
  process.stdout.write('\n');

  const figures = {
    model: manifest.model,
    clips: split.test,
    frames: frames.length,
    dice_mean: dices.reduce((a, b) => a + b, 0) / dices.length,
    dice_min: Math.min(...dices),
    pixel_error_detection: { image: summarise(image), near_contour: summarise(near) },
    runtime: `onnxruntime-node ${ort.env.versions.common}`,
  };
  const out = path.join(modelDir, 'test_figures.json');
  writeFileSync(out, `${JSON.stringify(figures, null, 2)}\n`);

  const row = (name: string, s: Record<string, any>) =>
    `| ${name} | ${s.rank.auroc.toFixed(4)} | ${s.entropy.auroc.toFixed(4)} | ${s.margin.auroc.toFixed(4)} | ${s.rank.auprc.toFixed(4)} | ${s.entropy.auprc.toFixed(4)} | ${s.rank.aurc.toFixed(5)} | ${s.entropy.aurc.toFixed(5)} |`;
  console.log(`\nmean Dice (frame resolution): ${figures.dice_mean.toFixed(4)} over ${frames.length} frames\n`);
  console.log('| pixels | AUROC rank | AUROC entropy | AUROC margin | AUPRC rank | AUPRC entropy | AURC rank | AURC entropy |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  console.log(row('whole image', figures.pixel_error_detection.image as Record<string, any>));
  console.log(row('within 5 px of contour', figures.pixel_error_detection.near_contour as Record<string, any>));
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
}

await main();
