// The three.js scene: one plane with the frame's aspect ratio, fitted into the canvas, drawn
// by the overlay shader. Textures are re-created only when a size changes; otherwise each
// update uploads new bytes into the existing ones.
import * as THREE from 'three';
import { buildViridisTable, HEAT_MAP_FULL_ALPHA_PROBABILITY, HEAT_MAP_MIN_PROBABILITY } from './colorMap.js';
import { CONTOUR_RGB, overlayFragmentShader, overlayVertexShader } from './overlayShader.js';
import type { DisplayFrameView, ResultView } from './wire.js';

export interface LayerVisibility {
  frame: boolean;
  contour: boolean;
  heatMap: boolean;
}

export interface OverlayStyle {
  layers: LayerVisibility;
  /** Opacity of the overlay layers (contour and heat map), 0..1. */
  opacity: number;
  /** Multiplier on the contour's opacity: 1 normally, lower in alarm. */
  contourStrength: number;
  stale: boolean;
}

/** A rectangle in CSS pixels relative to the canvas's top-left corner. */
export interface CssRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Share of the canvas the frame may cover along its limiting axis, leaving a small margin. */
const FIT_FRACTION = 0.98;

function createR8Texture(width: number, height: number, filter: THREE.MagnificationTextureFilter): THREE.DataTexture {
  const texture = new THREE.DataTexture(new Uint8Array(width * height), width, height, THREE.RedFormat, THREE.UnsignedByteType);
  texture.magFilter = filter;
  texture.minFilter = filter;
  texture.generateMipmaps = false;
  // Rows are tightly packed and widths are often odd (709, 739), so WebGL's default 4-byte row alignment would shear the image.
  texture.unpackAlignment = 1;
  texture.needsUpdate = true;
  return texture;
}

/** Replaces `texture` when the size changed, then uploads `bytes`; returns the texture in use. */
function uploadR8(texture: THREE.DataTexture, bytes: Uint8Array, width: number, height: number): THREE.DataTexture {
  let target = texture;
  if (texture.image.width !== width || texture.image.height !== height) {
    target = createR8Texture(width, height, texture.magFilter);
    texture.dispose();
  }
  target.image.data = bytes;
  target.needsUpdate = true;
  return target;
}

export class ViewerScene {
  readonly #renderer: THREE.WebGLRenderer;
  readonly #scene = new THREE.Scene();
  readonly #camera = new THREE.OrthographicCamera(-1, 1, 1, -1, -10, 10);
  readonly #material: THREE.ShaderMaterial;
  readonly #plane: THREE.Mesh;
  #canvasWidthCss = 1;
  #canvasHeightCss = 1;
  #frameWidth = 1;
  #frameHeight = 1;

  constructor(canvas: HTMLCanvasElement) {
    this.#renderer = new THREE.WebGLRenderer({ canvas, antialias: false, alpha: false });
    this.#renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.#renderer.setClearColor(0x101214, 1);

    const colorMap = new THREE.DataTexture(buildViridisTable(), 256, 1, THREE.RGBAFormat, THREE.UnsignedByteType);
    colorMap.magFilter = THREE.LinearFilter;
    colorMap.minFilter = THREE.LinearFilter;
    colorMap.needsUpdate = true;

    this.#material = new THREE.ShaderMaterial({
      glslVersion: THREE.GLSL3,
      vertexShader: overlayVertexShader,
      fragmentShader: overlayFragmentShader,
      uniforms: {
        frameTexture: { value: createR8Texture(1, 1, THREE.LinearFilter) },
        labelTexture: { value: createR8Texture(1, 1, THREE.NearestFilter) },
        errorTexture: { value: createR8Texture(1, 1, THREE.LinearFilter) },
        colorMapTexture: { value: colorMap },
        frameSize: { value: new THREE.Vector2(1, 1) },
        modelSize: { value: new THREE.Vector2(1, 1) },
        letterboxScale: { value: 1 },
        letterboxOffset: { value: new THREE.Vector2(0, 0) },
        contentSize: { value: new THREE.Vector2(1, 1) },
        hasResult: { value: 0 },
        showFrame: { value: 1 },
        showContour: { value: 1 },
        showHeatMap: { value: 1 },
        overlayOpacity: { value: 0.7 },
        contourStrength: { value: 1 },
        contourWidthPx: { value: 1 },
        heatMinProbability: { value: HEAT_MAP_MIN_PROBABILITY },
        heatFullProbability: { value: HEAT_MAP_FULL_ALPHA_PROBABILITY },
        stale: { value: 0 },
        contourColor: { value: new THREE.Vector3(...CONTOUR_RGB) },
      },
    });
    this.#plane = new THREE.Mesh(new THREE.PlaneGeometry(1, 1), this.#material);
    this.#scene.add(this.#plane);
  }

  /** Uploads the frame to display; the plane takes its aspect ratio (square pixels assumed). */
  setFrame(frame: DisplayFrameView): void {
    const uniforms = this.#material.uniforms;
    uniforms.frameTexture.value = uploadR8(uniforms.frameTexture.value, frame.gray8, frame.width, frame.height);
    uniforms.frameSize.value.set(frame.width, frame.height);
    this.#frameWidth = frame.width;
    this.#frameHeight = frame.height;
    this.#fitPlane();
  }

  /** Uploads the result maps of the frame shown, or hides the overlay when there is none. */
  setResult(result: ResultView | null): void {
    const uniforms = this.#material.uniforms;
    if (!result) {
      uniforms.hasResult.value = 0;
      return;
    }
    const { letterbox } = result;
    uniforms.labelTexture.value = uploadR8(uniforms.labelTexture.value, result.labelMask, letterbox.modelWidth, letterbox.modelHeight);
    uniforms.errorTexture.value = uploadR8(uniforms.errorTexture.value, result.errorProbability, letterbox.modelWidth, letterbox.modelHeight);
    uniforms.modelSize.value.set(letterbox.modelWidth, letterbox.modelHeight);
    uniforms.letterboxScale.value = letterbox.scale;
    uniforms.letterboxOffset.value.set(letterbox.offsetX, letterbox.offsetY);
    uniforms.contentSize.value.set(letterbox.contentWidth, letterbox.contentHeight);
    uniforms.hasResult.value = 1;
  }

  setStyle(style: OverlayStyle): void {
    const uniforms = this.#material.uniforms;
    uniforms.showFrame.value = style.layers.frame ? 1 : 0;
    uniforms.showContour.value = style.layers.contour ? 1 : 0;
    uniforms.showHeatMap.value = style.layers.heatMap ? 1 : 0;
    uniforms.overlayOpacity.value = style.opacity;
    uniforms.contourStrength.value = style.contourStrength;
    uniforms.stale.value = style.stale ? 1 : 0;
  }

  /** Sets the drawing-buffer size from the canvas's CSS size. */
  resize(widthCss: number, heightCss: number): void {
    this.#canvasWidthCss = Math.max(1, widthCss);
    this.#canvasHeightCss = Math.max(1, heightCss);
    this.#renderer.setSize(this.#canvasWidthCss, this.#canvasHeightCss, false);
    this.#camera.left = -this.#canvasWidthCss / 2;
    this.#camera.right = this.#canvasWidthCss / 2;
    this.#camera.top = this.#canvasHeightCss / 2;
    this.#camera.bottom = -this.#canvasHeightCss / 2;
    this.#camera.updateProjectionMatrix();
    this.#fitPlane();
  }

  render(): void {
    this.#renderer.render(this.#scene, this.#camera);
  }

  /** Returns the rectangle the frame is drawn in, CSS pixels relative to the canvas. */
  frameRect(): CssRect {
    const { width, height } = this.#planeSizeCss();
    return { x: (this.#canvasWidthCss - width) / 2, y: (this.#canvasHeightCss - height) / 2, width, height };
  }

  #planeSizeCss(): { width: number; height: number } {
    const scale = FIT_FRACTION * Math.min(this.#canvasWidthCss / this.#frameWidth, this.#canvasHeightCss / this.#frameHeight);
    return { width: this.#frameWidth * scale, height: this.#frameHeight * scale };
  }

  #fitPlane(): void {
    const { width, height } = this.#planeSizeCss();
    this.#plane.scale.set(width, height, 1);
  }
}
