// Child process for the kill tests: records synthetic frames until it is signalled.
// Usage: node --import tsx test/mcap/record-child.ts DIRECTORY
// Prints one JSON line per 5 frames written ({"framesWritten": n, "file": path}); on SIGTERM it
// closes the recorder, prints {"closed": status} and exits 0. It stops by itself after 60 s.

import { McapRecorder } from '../../stream/mcap/recorder.js';
import { makeFrame, makeResult } from './fixtures.js';

const directory = process.argv[2];
if (!directory) {
  console.error('usage: record-child.ts DIRECTORY');
  process.exit(2);
}

const recorder = new McapRecorder({ directory, streamName: 'killed-probe', chunkSizeBytes: 16 * 1024 });

process.once('SIGTERM', () => {
  void recorder.close().then((status) => {
    process.stdout.write(`${JSON.stringify({ closed: status })}\n`);
    process.exit(0);
  });
});

const deadline = Date.now() + 60_000;
let reported = 0;
for (let sequence = 0; sequence < 100_000 && Date.now() < deadline; sequence++) {
  const frame = makeFrame(sequence);
  if (!(await recorder.append(frame, makeResult(frame)))) break;
  const { framesWritten, files } = recorder.status;
  if (framesWritten >= reported + 5) {
    reported = framesWritten;
    process.stdout.write(`${JSON.stringify({ framesWritten, file: files[0] })}\n`);
  }
  // Yield to the event loop so that a signal handler can run between frames.
  await new Promise((resolve) => setTimeout(resolve, 2));
}
await recorder.close();
