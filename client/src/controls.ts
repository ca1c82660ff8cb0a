// Layer toggles, the overlay-opacity slider, the stream picker and their keyboard shortcuts.
// Every control changes one field of ControlState and then calls onChange, so the render
// loop repaints with the new style.
import type { LayerVisibility } from './viewerScene.js';
import type { StreamInfoView } from './wire.js';

export interface ControlState {
  layers: LayerVisibility;
  /** Overlay opacity, 0..1 in steps of OPACITY_STEP. */
  opacity: number;
}

export interface ControlElements {
  frame: HTMLInputElement;
  contour: HTMLInputElement;
  heatMap: HTMLInputElement;
  opacity: HTMLInputElement;
  opacityValue: HTMLElement;
  picker: HTMLSelectElement;
  pickerLabel: HTMLElement;
  streamName: HTMLElement;
}

export const OPACITY_STEP = 0.1;

/** Keys and what they do, as the top bar lists them; F, C and H switch a layer on or off. */
export const SHORTCUTS: readonly { keys: string; action: string }[] = [
  { keys: 'F', action: 'frame' },
  { keys: 'C', action: 'contour' },
  { keys: 'H', action: 'heat map' },
  { keys: '+ −', action: 'opacity' },
  { keys: 'S', action: 'stream picker' },
];

export class ViewerControls {
  readonly state: ControlState = { layers: { frame: true, contour: true, heatMap: true }, opacity: 0.7 };
  readonly #elements: ControlElements;
  readonly #onChange: () => void;
  readonly #onPickStream: (streamId: string) => void;

  constructor(elements: ControlElements, onChange: () => void, onPickStream: (streamId: string) => void) {
    this.#elements = elements;
    this.#onChange = onChange;
    this.#onPickStream = onPickStream;

    elements.frame.addEventListener('change', () => this.#setLayer('frame', elements.frame.checked));
    elements.contour.addEventListener('change', () => this.#setLayer('contour', elements.contour.checked));
    elements.heatMap.addEventListener('change', () => this.#setLayer('heatMap', elements.heatMap.checked));
    elements.opacity.addEventListener('input', () => this.#setOpacity(Number(elements.opacity.value) / 100));
    elements.picker.addEventListener('change', () => this.#onPickStream(elements.picker.value));
    window.addEventListener('keydown', (event) => this.#handleKey(event));
    this.#sync();
  }

  /**
   * Fills the picker with the live streams and the one shown, which may have ended. The picker
   * is visible only when there is a choice; otherwise the page shows the stream's name.
   */
  setStreams(streams: StreamInfoView[], currentStreamId: string): void {
    const { picker, pickerLabel, streamName } = this.#elements;
    const choices = streams.filter((stream) => stream.state !== 'ended' || stream.streamId === currentStreamId);
    const current = choices.find((stream) => stream.streamId === currentStreamId);
    streamName.textContent = current ? current.streamName : currentStreamId || 'no stream';

    const label = (stream: StreamInfoView) => `${stream.streamName} (${stream.source || 'live'}${stream.state === 'ended' ? ', ended' : ''})`;
    const options = choices.map((stream) => `${stream.streamId}=${label(stream)}`).join('\n');
    if (picker.dataset.options !== options) {
      picker.replaceChildren(...choices.map((stream) => new Option(label(stream), stream.streamId)));
      picker.dataset.options = options;
    }
    picker.value = currentStreamId;
    pickerLabel.hidden = choices.length < 2;
    streamName.hidden = choices.length >= 2;
  }

  #handleKey(event: KeyboardEvent): void {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    switch (event.key) {
      case 'f': case 'F':
        this.#setLayer('frame', !this.state.layers.frame);
        break;
      case 'c': case 'C':
        this.#setLayer('contour', !this.state.layers.contour);
        break;
      case 'h': case 'H':
        this.#setLayer('heatMap', !this.state.layers.heatMap);
        break;
      case '+': case '=':
        this.#setOpacity(this.state.opacity + OPACITY_STEP);
        break;
      case '-': case '_':
        this.#setOpacity(this.state.opacity - OPACITY_STEP);
        break;
      case 's': case 'S':
        if (this.#elements.pickerLabel.hidden) return;
        this.#elements.picker.focus();
        break;
      default:
        return;
    }
    // Without this, a letter typed while the picker has focus would also jump to a stream whose name starts with it.
    event.preventDefault();
  }

  #setLayer(layer: keyof LayerVisibility, visible: boolean): void {
    this.state.layers[layer] = visible;
    this.#sync();
    this.#onChange();
  }

  #setOpacity(opacity: number): void {
    // Rounded to whole steps so that repeated +/- presses never accumulate floating-point drift.
    this.state.opacity = Math.round(Math.min(1, Math.max(0, opacity)) / OPACITY_STEP) * OPACITY_STEP;
    this.#sync();
    this.#onChange();
  }

  #sync(): void {
    const { frame, contour, heatMap, opacity, opacityValue } = this.#elements;
    frame.checked = this.state.layers.frame;
    contour.checked = this.state.layers.contour;
    heatMap.checked = this.state.layers.heatMap;
    opacity.value = String(Math.round(this.state.opacity * 100));
    opacityValue.textContent = `${Math.round(this.state.opacity * 100)}%`;
  }
}
