// Entry of the recording worker thread. A worker starts a fresh module loader, so it registers
// tsx itself before loading the TypeScript worker, whether the main thread runs under tsx,
// vitest or plain Node.
import { register } from 'tsx/esm/api';

register();
await import('./recording-worker.ts');
