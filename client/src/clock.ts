// The browser's wall clock in milliseconds since the Unix epoch, from the monotonic
// performance clock so that it never jumps backwards while the page is open.
export function browserWallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Formats a wall-clock time as local HH:MM:SS. */
export function formatClockTime(wallMs: number): string {
  const date = new Date(wallMs);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
}
