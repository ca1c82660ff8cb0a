// Chunk compression for MCAP recordings: zstd, one of the two compressions the MCAP format
// names (zstd and lz4), through @foxglove/wasm-zstd. Node 20's zlib has no zstd, and this
// package ships its WebAssembly build inside the npm tarball, so it compresses when recording
// and decompresses when replaying with no native build step. Foxglove, the mcap CLI and
// @mcap/core (given a handler) read zstd chunks.

import zstd from '@foxglove/wasm-zstd';
import type { McapTypes } from '@mcap/core';

/** Resolves once the WebAssembly module is ready; call before compressing or reading. */
export async function zstdReady(): Promise<void> {
  await zstd.isLoaded;
}

/** A compressChunk hook for McapWriter. Level 1 compresses fastest; 3 (zstd's default) dedupes more. */
export function zstdChunkCompressor(level: number): (chunk: Uint8Array) => { compression: string; compressedData: Uint8Array } {
  return (chunk) => ({ compression: 'zstd', compressedData: zstd.compress(chunk, level) });
}

/** Decompression handlers for McapIndexedReader and McapStreamReader; call zstdReady() first. */
export const DECOMPRESS_HANDLERS: McapTypes.DecompressHandlers = {
  zstd: (data, decompressedSize) => zstd.decompress(data, Number(decompressedSize)),
};
