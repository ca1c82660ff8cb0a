// Parsing of the stream list from `GET /api/streams`. The endpoint returns JSON, either an
// array of stream descriptions or an object with a `streams` array. Entries may use camelCase
// (the server's JSON) or snake_case (the proto's field names).
import type { StreamInfoView } from './wire.js';

function readString(entry: Record<string, unknown>, ...keys: string[]): string {
  for (const key of keys) {
    const value = entry[key];
    if (typeof value === 'string') return value;
  }
  return '';
}

function readNumber(entry: Record<string, unknown>, ...keys: string[]): number {
  for (const key of keys) {
    const value = entry[key];
    if (typeof value === 'number') return value;
  }
  return 0;
}

/** Parses the endpoint's JSON; entries without a stream id are skipped. */
export function parseStreamList(json: unknown): StreamInfoView[] {
  const entries = Array.isArray(json) ? json : (json as { streams?: unknown } | null)?.streams;
  if (!Array.isArray(entries)) return [];
  const streams: StreamInfoView[] = [];
  for (const raw of entries) {
    if (typeof raw !== 'object' || raw === null) continue;
    const entry = raw as Record<string, unknown>;
    const streamId = readString(entry, 'streamId', 'stream_id', 'id');
    if (!streamId) continue;
    streams.push({
      streamId,
      streamName: readString(entry, 'streamName', 'stream_name', 'name') || streamId,
      nominalRateHz: readNumber(entry, 'nominalRateHz', 'nominal_rate_hz'),
      width: readNumber(entry, 'width'),
      height: readNumber(entry, 'height'),
      viewers: readNumber(entry, 'viewers'),
      source: readString(entry, 'source'),
      state: readString(entry, 'state'),
    });
  }
  return streams;
}
