// The file a recorder writes to, as a small interface so that tests can stand in a file that
// fails (a full disk) and the recorder never touches fs directly.

import { open } from 'node:fs/promises';

/** An append-only output file. */
export interface RecordingFile {
  /** Writes all of `data` at the end of the file; rejects with the system error (for example ENOSPC). */
  write(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export type OpenRecordingFile = (filePath: string) => Promise<RecordingFile>;

/** Creates the file, failing with EEXIST rather than overwriting an earlier recording. */
export const openRecordingFile: OpenRecordingFile = async (filePath) => {
  const handle = await open(filePath, 'wx');
  return {
    write: async (data) => {
      let offset = 0;
      while (offset < data.length) {
        const { bytesWritten } = await handle.write(data, offset, data.length - offset);
        offset += bytesWritten;
      }
    },
    close: () => handle.close(),
  };
};
