// Errors raised by the pipeline. Each carries a stable `code` (ERR_...) that callers and logs
// match on, and a message that states what failed, on which value, and what to do.

export type PipelineErrorCode =
  | 'ERR_MANIFEST_NOT_FOUND'
  | 'ERR_MANIFEST_INVALID'
  | 'ERR_MODEL_FILE_NOT_FOUND'
  | 'ERR_MODEL_CHECKSUM'
  | 'ERR_MODEL_CONTRACT'
  | 'ERR_FRAME_INVALID'
  | 'ERR_MASK_SIZE_MISMATCH'
  | 'ERR_INFERENCE_FAILED'
  | 'ERR_PIPELINE_OPTIONS'
  | 'ERR_PIPELINE_CLOSED';

export class PipelineError extends Error {
  readonly code: PipelineErrorCode;

  constructor(code: PipelineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PipelineError';
    this.code = code;
  }
}
