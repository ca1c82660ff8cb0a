// Replays a recorded folder of frames (see folder.ts for the layout) as one in-process stream,
// with its masks as ground truth when the folder has them.
//
// Backpressure policy: a live replay is latest-wins like a device, so a frame the pipeline has
// not taken when the next one comes is dropped as 'superseded'. A lossless replay waits for the
// pipeline to take each frame before sending the next, so every frame gets a result.

import path from 'node:path';

import type { ServerContext } from '../context.js';
import type { ReplaySourceOptions } from '../options.js';
import { listFolderFrames } from './folder.js';
import { decodedFrames, FramePacer } from './playback.js';
import { gray8Frame, runReplayLoop, type RunningSource } from './source.js';

export async function startReplaySource(context: ServerContext, options: ReplaySourceOptions): Promise<RunningSource> {
  const frames = await listFolderFrames(options.dir, { clips: options.clips });
  const fps = options.fps ?? 30;
  const lossless = options.lossless ?? false;
  const loop = options.loop ?? false;

  const stream = context.registry.open({
    name: options.name ?? path.basename(path.resolve(options.dir)),
    source: 'replay',
    nominalRateHz: fps === 'max' ? 0 : fps,
    width: 0,
    height: 0,
    lossless,
  });
  const abort = new AbortController();
  const pacer = new FramePacer(fps);
  context.logger.info({ streamId: stream.id, dir: options.dir, frames: frames.length, fps, lossless, loop, clips: options.clips }, 'replay source started');

  const run = async (): Promise<void> => {
    let sequence = 0;
    for await (const decoded of decodedFrames(frames, { loop })) {
      try {
        await pacer.next(abort.signal);
      } catch {
        return;
      }
      stream.width = decoded.width;
      stream.height = decoded.height;
      stream.lastSequence = sequence;
      context.telemetry.stream(stream.id).arrivals.mark();

      let mask = decoded.mask;
      if (mask !== undefined && mask.length !== decoded.pixels.length) {
        context.errorLog.warn(`replay:${stream.id}:ERR_MASK_SIZE`, { streamId: stream.id, sequence, file: decoded.frame.maskPath, code: 'ERR_MASK_SIZE' }, 'mask size differs from its frame; frame replayed without ground truth');
        mask = undefined;
      }
      const frame = gray8Frame(stream, sequence, decoded.width, decoded.height, decoded.pixels, mask);
      const taken = context.pipeline.submit(frame, lossless ? 'lossless' : 'live');
      if (lossless) {
        await taken;
      }
      sequence += 1;
      if (abort.signal.aborted) {
        return;
      }
    }
  };

  return runReplayLoop(context, stream, abort, 'replay source', {}, run);
}
