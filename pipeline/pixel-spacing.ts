// The warning a result carries when its frame's pixel spacing lies outside the range the model
// was trained on: structures then appear at a scale the model has not seen.

/**
 * Returns the warning text, or undefined when the spacing is inside the range, when the frame
 * declared no spacing, or when the manifest gives no range (both unknown, so nothing to compare).
 */
export function pixelSpacingWarning(spacingMm: [number, number] | undefined, rangeMm: { min: number; max: number } | null): string | undefined {
  if (spacingMm === undefined || rangeMm === null) return undefined;

  const [x, y] = spacingMm;
  const inside = (value: number) => value >= rangeMm.min && value <= rangeMm.max;
  if (inside(x) && inside(y)) return undefined;

  return `pixel spacing ${x.toFixed(3)} × ${y.toFixed(3)} mm is outside the training range ${rangeMm.min.toFixed(3)}–${rangeMm.max.toFixed(3)} mm: structures appear at a scale the model has not seen`;
}
