// A synthetic frame and result with known geometry, for checking that the page maps the
// model-resolution maps through the letterbox onto the frame: a disc of structure in a
// textured grey frame, and an error-probability map with a high-probability block.
import type { LetterboxView } from '../../client/src/wire.js';
import type { MockUpdate } from './mockViewerServer.js';

/** Odd width on purpose: rows of odd length catch a wrong texture row alignment. */
export const SCENE_FRAME = { width: 321, height: 203 };
export const SCENE_MODEL = { width: 128, height: 128 };
/** The disc of structure, in frame pixels. */
export const SCENE_DISC = { centerX: 150, centerY: 95, radius: 48 };
/** Block of error probability 0.9 in the top-left of the frame, in frame pixels. */
export const SCENE_HOT_BLOCK = { x0: 20, y0: 20, x1: 70, y1: 60 };

export function sceneLetterbox(): LetterboxView {
  const scale = Math.min(SCENE_MODEL.width / SCENE_FRAME.width, SCENE_MODEL.height / SCENE_FRAME.height);
  const contentWidth = Math.round(SCENE_FRAME.width * scale);
  const contentHeight = Math.round(SCENE_FRAME.height * scale);
  return {
    modelWidth: SCENE_MODEL.width,
    modelHeight: SCENE_MODEL.height,
    scale,
    offsetX: Math.floor((SCENE_MODEL.width - contentWidth) / 2),
    offsetY: Math.floor((SCENE_MODEL.height - contentHeight) / 2),
    contentWidth,
    contentHeight,
  };
}

export function sceneFrame(sequence: number): Uint8Array {
  const { width, height } = SCENE_FRAME;
  const gray8 = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Smooth bands that move with the sequence, so consecutive frames differ.
      gray8[y * width + x] = 60 + Math.round(40 * Math.sin((x + 3 * sequence) / 17) * Math.cos(y / 23));
    }
  }
  return gray8;
}

/** Maps the disc and the hot block from frame to model pixels through the letterbox. */
export function sceneMaps(): { labelMask: Uint8Array; errorProbability: Uint8Array } {
  const letterbox = sceneLetterbox();
  const labelMask = new Uint8Array(SCENE_MODEL.width * SCENE_MODEL.height);
  const errorProbability = new Uint8Array(SCENE_MODEL.width * SCENE_MODEL.height);
  for (let my = 0; my < SCENE_MODEL.height; my++) {
    for (let mx = 0; mx < SCENE_MODEL.width; mx++) {
      const fx = (mx + 0.5 - letterbox.offsetX) / letterbox.scale;
      const fy = (my + 0.5 - letterbox.offsetY) / letterbox.scale;
      const index = my * SCENE_MODEL.width + mx;
      if (Math.hypot(fx - SCENE_DISC.centerX, fy - SCENE_DISC.centerY) <= SCENE_DISC.radius) labelMask[index] = 1;
      const hot = fx >= SCENE_HOT_BLOCK.x0 && fx < SCENE_HOT_BLOCK.x1 && fy >= SCENE_HOT_BLOCK.y0 && fy < SCENE_HOT_BLOCK.y1;
      errorProbability[index] = hot ? Math.round(0.9 * 255) : 0;
    }
  }
  return { labelMask, errorProbability };
}

export function sceneUpdate(streamId: string, sequence: number, overrides: Partial<MockUpdate> = {}): MockUpdate {
  return {
    streamId,
    sequence,
    frame: { ...SCENE_FRAME, gray8: sceneFrame(sequence) },
    letterbox: sceneLetterbox(),
    ...sceneMaps(),
    frameRisk: 0.2,
    ...overrides,
  };
}
