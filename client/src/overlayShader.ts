// GLSL (WebGL2, GLSL ES 3.00) of the frame plane: the grey frame, the error-probability heat
// map and the contour of the label mask, composited in one pass. The result maps are at model
// resolution; each fragment finds its model pixel through the letterbox, model = frame ×
// scale + offset, so the overlay lines up with the frame whatever the two resolutions are.

/** Contour colour (sRGB, 0..1): magenta, which the viridis heat map and the grey frame never contain. */
export const CONTOUR_RGB: readonly [number, number, number] = [1.0, 0.2, 0.8];

export const overlayVertexShader = /* glsl */ `
out vec2 vUv;
void main() {
  vUv = uv;
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
}
`;

export const overlayFragmentShader = /* glsl */ `
precision highp float;
precision highp sampler2D;

in vec2 vUv;
out vec4 outColor;

uniform sampler2D frameTexture;     // R8, frame resolution, row 0 = top row of the image
uniform sampler2D labelTexture;     // R8, model resolution, class index / 255, nearest filtering
uniform sampler2D errorTexture;     // R8, model resolution, P(pixel wrong), linear filtering
uniform sampler2D colorMapTexture;  // RGBA8, 256 x 1, viridis

uniform vec2 frameSize;             // frame width, height in pixels
uniform vec2 modelSize;             // model input width, height in pixels
uniform float letterboxScale;       // model pixels per frame pixel
uniform vec2 letterboxOffset;       // model pixels of padding, left and top
uniform vec2 contentSize;           // model pixels covered by the frame

uniform float hasResult;            // 1 when the maps belong to the frame shown
uniform float showFrame;
uniform float showContour;
uniform float showHeatMap;
uniform float overlayOpacity;       // 0..1, both overlay layers
uniform float contourStrength;      // 1 normally, lower in alarm (the contour is not trusted)
uniform float contourWidthPx;       // screen pixels on each side of a label change
uniform float heatMinProbability;   // below: not drawn
uniform float heatFullProbability;  // from here: full overlay opacity
uniform float stale;                // 1 when the feed has stopped: grey everything out
uniform vec3 contourColor;

float labelAt(vec2 modelPixel) {
  vec2 texel = clamp(floor(modelPixel), vec2(0.0), modelSize - 1.0) + 0.5;
  return texture(labelTexture, texel / modelSize).r;
}

bool insideContent(vec2 modelPixel) {
  vec2 contentMin = letterboxOffset;
  vec2 contentMax = letterboxOffset + contentSize;
  return all(greaterThanEqual(modelPixel, contentMin)) && all(lessThan(modelPixel, contentMax));
}

void main() {
  // Frame pixel coordinates with the origin at the top-left corner, as the wire sends rows.
  vec2 framePixel = vec2(vUv.x, 1.0 - vUv.y) * frameSize;
  float grey = texture(frameTexture, framePixel / frameSize).r;
  vec3 color = vec3(grey) * showFrame;

  vec2 modelPixel = framePixel * letterboxScale + letterboxOffset;
  if (hasResult > 0.5 && insideContent(modelPixel)) {
    float probability = texture(errorTexture, modelPixel / modelSize).r;
    float heatAlpha = probability < heatMinProbability
      ? 0.0
      : clamp(probability / heatFullProbability, 0.0, 1.0);
    vec3 heatColor = texture(colorMapTexture, vec2(probability, 0.5)).rgb;
    color = mix(color, heatColor, heatAlpha * overlayOpacity * showHeatMap);

    // Edge detection: a fragment is on the contour when a neighbour contourWidthPx screen
    // pixels away lies in another class. fwidth gives model pixels per screen pixel per axis.
    // Labels are class / 255, so any two classes differ by at least 0.0039.
    vec2 reach = max(fwidth(modelPixel), vec2(1e-4)) * contourWidthPx;
    float center = labelAt(modelPixel);
    float edge = 0.0;
    edge = max(edge, step(0.002, abs(labelAt(modelPixel + vec2(reach.x, 0.0)) - center)));
    edge = max(edge, step(0.002, abs(labelAt(modelPixel - vec2(reach.x, 0.0)) - center)));
    edge = max(edge, step(0.002, abs(labelAt(modelPixel + vec2(0.0, reach.y)) - center)));
    edge = max(edge, step(0.002, abs(labelAt(modelPixel - vec2(0.0, reach.y)) - center)));
    color = mix(color, contourColor, edge * overlayOpacity * showContour * contourStrength);
  }

  if (stale > 0.5) {
    float luma = dot(color, vec3(0.299, 0.587, 0.114));
    color = vec3(luma * 0.55 + 0.08);
  }
  outColor = vec4(color, 1.0);
}
`;
