// Replays an MCAP recording as one in-process stream of the server (`serve --source mcap:FILE`,
// `segwithu-live replay FILE`), with its recorded ground truth when there is one.
//
// Backpressure policy: a live replay (the default at the original or a scaled rate) is
// latest-wins like a device, so a frame the pipeline has not taken when the next one comes is
// dropped as 'superseded'. A lossless replay waits for the pipeline to take each frame before
// reading the next, so every frame gets a result. `rate: 'max'` is lossless by default.
// Frames, sequence numbers and capture timestamps come from the recording, so two lossless
// replays of one file through one model give the same results.

import path from 'node:path';

import type { ServerContext } from '../context.js';
import { OptionError } from '../errors.js';
import type { McapSourceOptions } from '../options.js';
import { runReplayLoop, type RunningSource } from '../sources/source.js';
import { openRecording } from './reader.js';
import { MAX_CAPTURE_STEP_MS, replayRecording, type ReplacedCaptureStep } from './replayer.js';

export async function startMcapSource(context: ServerContext, options: McapSourceOptions): Promise<RunningSource> {
  const rate = options.rate ?? 'original';
  const lossless = options.lossless ?? rate === 'max';
  const loop = options.loop ?? false;

  // Fail at start-up, not in the background, when the file is missing or not MCAP.
  try {
    await (await openRecording(options.file)).close();
  } catch (error) {
    throw new OptionError(`recording ${options.file} cannot be read (${(error as Error).message}); pass an .mcap file made by segwithu-live record or serve --record`);
  }

  const stream = context.registry.open({
    name: options.name ?? path.basename(options.file, '.mcap'),
    source: 'replay',
    nominalRateHz: 0,
    width: 0,
    height: 0,
    lossless,
  });
  const abort = new AbortController();
  let stepsReplaced = 0;
  const onStepReplaced = (step: ReplacedCaptureStep): void => {
    stepsReplaced += 1;
    context.telemetry.stream(stream.id).captureStepsReplaced += 1;
    // Logged once per replay, because a looped recording repeats the same steps on every pass.
    if (stepsReplaced === 1) {
      context.logger.warn(
        { streamId: stream.id, file: options.file, ...step, maxCaptureStepMs: MAX_CAPTURE_STEP_MS },
        'capture timestamp step out of range; replay paced at the nominal frame interval (logged once per replay, counted in segwithu_replay_capture_steps_replaced_total)',
      );
    }
  };
  const frames = replayRecording(options.file, {
    pacing: rate === 'max' ? 'fast' : 'original',
    rate: typeof rate === 'number' ? rate : 1,
    passes: loop ? Infinity : 1,
    startAtMs: (options.fromSeconds ?? 0) * 1000,
    streamId: stream.id,
    signal: abort.signal,
    onStepReplaced,
  });
  context.logger.info({ streamId: stream.id, file: options.file, rate, lossless, loop, fromSeconds: options.fromSeconds ?? 0 }, 'recording replay started');

  const run = async (): Promise<void> => {
    for await (const frame of frames) {
      stream.width = frame.width;
      stream.height = frame.height;
      stream.lastSequence = frame.sequence;
      context.telemetry.stream(stream.id).arrivals.mark();
      const taken = context.pipeline.submit(frame, lossless ? 'lossless' : 'live');
      if (lossless) await taken;
      if (abort.signal.aborted) return;
    }
  };

  return runReplayLoop(context, stream, abort, 'recording replay', { file: options.file }, run);
}
