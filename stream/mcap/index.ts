// Public API of MCAP recording and replay; the server and the CLI import from here only.

export { McapRecorder, recordedFrameFromResult } from './recorder.js';
export type { McapRecorderOptions, RecordedFrame, RecorderState, RecorderStatus, RecorderStopReason } from './recorder.js';
export { openRecording } from './reader.js';
export type { ReadMessagesOptions, Recording, RecordingMessage } from './reader.js';
export { readRecordedFrames } from './frames.js';
export { MAX_CAPTURE_STEP_MS, replayRecording } from './replayer.js';
export type { ReplacedCaptureStep, ReplayOptions } from './replayer.js';
export { convertFolderToRecordings } from './convert.js';
export type { ConvertFolderOptions, ConvertedClip } from './convert.js';
export { TOPICS } from './schemas.js';
export { openRecordingFile } from './file.js';
export type { OpenRecordingFile, RecordingFile } from './file.js';
