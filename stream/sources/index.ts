// In-process sources: frames produced inside the server process instead of sent by a device.

import type { ServerContext } from '../context.js';
import type { SourceOptions } from '../options.js';
import { startMcapSource } from '../mcap/source.js';
import { startReplaySource } from './replay.js';
import type { RunningSource } from './source.js';
import { startSyntheticSource } from './synthetic.js';

export type { RunningSource } from './source.js';

/** Starts the source the options name; undefined for { kind: 'none' }. */
export async function startSource(context: ServerContext, options: SourceOptions): Promise<RunningSource | undefined> {
  switch (options.kind) {
    case 'none':
      return undefined;
    case 'synthetic':
      return startSyntheticSource(context, options);
    case 'replay':
      return startReplaySource(context, options);
    case 'mcap':
      return startMcapSource(context, options);
  }
}
