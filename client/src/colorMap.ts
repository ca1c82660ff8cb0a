// The heat map's colour map: viridis (matplotlib's default since 2.0), chosen because it is
// perceptually uniform, ordered by lightness (readable in greyscale) and distinguishable with
// the common colour-vision deficiencies. The stops are the published viridis colours at
// 0, 0.1, ..., 1; the table interpolates linearly between them in sRGB.

const VIRIDIS_STOPS: readonly string[] = [
  '#440154', '#482475', '#414487', '#355f8d', '#2a788e', '#21918c',
  '#22a884', '#44bf70', '#7ad151', '#bddf26', '#fde725',
];

/** Error probabilities below this are not drawn, so confident pixels leave the frame visible. */
export const HEAT_MAP_MIN_PROBABILITY = 0.05;

/** Error probability at which the heat map reaches the full overlay opacity; it fades in below. */
export const HEAT_MAP_FULL_ALPHA_PROBABILITY = 0.25;

function parseHex(hex: string): [number, number, number] {
  return [1, 3, 5].map((start) => Number.parseInt(hex.slice(start, start + 2), 16)) as [number, number, number];
}

/** Returns the colour map as 256 RGBA texels (alpha 255); entry i is the colour for probability i / 255. */
export function buildViridisTable(): Uint8Array {
  const stops = VIRIDIS_STOPS.map(parseHex);
  const table = new Uint8Array(256 * 4);
  for (let i = 0; i < 256; i++) {
    const position = (i / 255) * (stops.length - 1);
    const lower = Math.min(Math.floor(position), stops.length - 2);
    const fraction = position - lower;
    for (let channel = 0; channel < 3; channel++) {
      const value = stops[lower][channel] * (1 - fraction) + stops[lower + 1][channel] * fraction;
      table[i * 4 + channel] = Math.round(value);
    }
    table[i * 4 + 3] = 255;
  }
  return table;
}

/** Returns a CSS linear-gradient over the colour map, left = 0 %, right = 100 %. */
export function viridisCssGradient(): string {
  const stops = VIRIDIS_STOPS.map((hex, index) => `${hex} ${(index * 10).toFixed(0)}%`);
  return `linear-gradient(to right, ${stops.join(', ')})`;
}
