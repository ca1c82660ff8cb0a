// The viewer's state and render loop. A WebSocket message only stores the newest update in a
// one-element slot. The requestAnimationFrame loop takes it, uploads it, paints it and then
// updates the gauge, timeline, banners and figures. Nothing is queued, so after a slow paint
// the loop shows the newest frame instead of falling further behind. After a paint the loop
// acknowledges the update, and the server sends at most two updates ahead of the
// acknowledgements, so a hidden or starved tab never builds a backlog of old frames.
import { authorizationHeaders, pageAccessToken } from './accessToken.js';
import { browserWallMs, formatClockTime } from './clock.js';
import { ViewerConnection, type ConnectionStatus } from './connection.js';
import { ViewerControls, type ControlElements } from './controls.js';
import { LatestSlot } from './latestSlot.js';
import { RiskGauge } from './riskGauge.js';
import { RiskTimeline } from './riskTimeline.js';
import { staleAfterMs } from './staleness.js';
import { pushSample, type ViewerStats } from './stats.js';
import { formatStatusLine, plausibleCaptureToPaint } from './statusLine.js';
import { parseStreamList } from './streamList.js';
import { ViewerScene } from './viewerScene.js';
import type { AlarmThresholdsView, CountersView, StreamInfoView, UpdateView, ViewerCodec, ViewerEvent } from './wire.js';

/** Contour opacity multiplier while the alarm is on: the contour stays findable but reads as untrusted. */
export const ALARM_CONTOUR_STRENGTH = 0.2;

/** Interval of the stream-list refresh from GET /api/streams, milliseconds. */
const STREAM_LIST_REFRESH_MS = 5000;
/** Minimum interval between redraws of the timeline and the status line, milliseconds. */
const HUD_REFRESH_MS = 100;
/** Window of the painted-frame rate, milliseconds. */
const FPS_WINDOW_MS = 2000;
/** How long a server ErrorReport stays in the connection banner, milliseconds. */
const SERVER_ERROR_SHOWN_MS = 10_000;

export interface ViewerElements {
  root: HTMLElement;
  canvas: HTMLCanvasElement;
  /** The canvas's container; the frame is fitted into its size. */
  canvasBox: HTMLElement;
  gauge: HTMLElement;
  gaugeValue: HTMLElement;
  timeline: HTMLCanvasElement;
  statusLine: HTMLElement;
  /** Neutral banner shown while no other banner is: waiting for frames, or live without alarm. */
  stateBanner: HTMLElement;
  alarmBanner: HTMLElement;
  staleBanner: HTMLElement;
  connectionBanner: HTMLElement;
  controls: ControlElements;
}

interface PendingUpdate {
  update: UpdateView;
  /** performance.now() when the WebSocket delivered the message. */
  arrivalMs: number;
  arrivalWallMs: number;
}

function setText(element: HTMLElement, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

export class ViewerApp {
  readonly #elements: ViewerElements;
  readonly #stats: ViewerStats;
  readonly #scene: ViewerScene;
  readonly #gauge: RiskGauge;
  readonly #timeline: RiskTimeline;
  readonly #controls: ViewerControls;
  readonly #connection: ViewerConnection;
  readonly #slot = new LatestSlot<PendingUpdate>();

  #streams: StreamInfoView[] = [];
  #subscribedStreamId = '';
  #requestedStreamId: string;
  #nominalRateHz = 0;
  #thresholds: AlarmThresholdsView | null = null;
  /** Model id from Subscribed, which names the version too (id@version). */
  #subscribedModelId = '';
  #connectionStatus: ConnectionStatus | null = null;
  #counters: CountersView | null = null;
  #lastCaptureToPaintMs: number | null = null;
  #lastFrameWallMs = 0;
  #paintTimesMs: number[] = [];
  #lastHudRefreshMs = 0;
  #serverError: { text: string; wallMs: number } | null = null;
  #dirty = true;

  constructor(elements: ViewerElements, codec: ViewerCodec, stats: ViewerStats, viewUrl: string, streamId: string) {
    this.#elements = elements;
    this.#stats = stats;
    this.#requestedStreamId = streamId;
    this.#scene = new ViewerScene(elements.canvas);
    this.#gauge = new RiskGauge(elements.gauge, elements.gaugeValue);
    this.#timeline = new RiskTimeline(elements.timeline);
    this.#controls = new ViewerControls(elements.controls, () => this.#handleControlChange(), (id) => this.#pickStream(id));
    this.#connection = new ViewerConnection(viewUrl, codec, {
      onEvent: (event, arrivalMs) => this.#handleEvent(event, arrivalMs),
      onStatus: (status) => this.#handleStatus(status),
      onInvalidMessage: (error) => {
        this.#stats.invalidMessages += 1;
        console.error(`segwithu viewer: ${error.code}: ${error.message}`);
      },
    }, { token: pageAccessToken(window.location.search) });

    new ResizeObserver(() => this.#resize()).observe(elements.canvasBox);
    this.#resize();
  }

  start(): void {
    this.#connection.start(this.#requestedStreamId);
    void this.#refreshStreamList();
    setInterval(() => void this.#refreshStreamList(), STREAM_LIST_REFRESH_MS);
    requestAnimationFrame(this.#tick);
  }

  #handleEvent(event: ViewerEvent, arrivalMs: number): void {
    switch (event.kind) {
      case 'update': {
        const streamId = event.update.result?.streamId;
        // Updates of the previous stream can still be in flight right after a switch.
        if (streamId && this.#subscribedStreamId && streamId !== this.#subscribedStreamId) return;
        this.#stats.received += 1;
        this.#stats.skippedByServer += event.update.skippedSinceLast;
        this.#lastFrameWallMs = browserWallMs();
        this.#slot.put({ update: event.update, arrivalMs, arrivalWallMs: this.#lastFrameWallMs });
        this.#stats.replaced = this.#slot.replaced;
        break;
      }
      case 'subscribed':
        this.#subscribedModelId = event.modelId;
        this.#handleSubscribed(event.stream, event.alarm);
        break;
      case 'streams':
        this.#setStreams(event.streams);
        break;
      case 'pong': {
        const estimate = this.#connection.clock.estimate();
        this.#stats.clockOffsetMs = estimate?.offsetMs ?? null;
        this.#stats.clockRoundTripMs = estimate?.roundTripMs ?? null;
        break;
      }
      case 'error':
        console.error(`segwithu viewer: server error ${event.code}: ${event.message}`);
        this.#serverError = { text: `Server error ${event.code}: ${event.message}`, wallMs: browserWallMs() };
        // A stream named in the URL may be gone after a server restart; show the first live one instead of nothing.
        if (event.code === 'ERR_UNKNOWN_STREAM' && this.#requestedStreamId !== '') this.#pickStream('');
        break;
    }
  }

  #handleSubscribed(stream: StreamInfoView | null, thresholds: AlarmThresholdsView | null): void {
    const streamId = stream?.streamId ?? '';
    if (streamId !== this.#subscribedStreamId) {
      this.#timeline.clear();
      this.#slot.take();
    }
    this.#subscribedStreamId = streamId;
    this.#nominalRateHz = stream?.nominalRateHz ?? 0;
    this.#thresholds = thresholds;
    this.#stats.alarmThresholds = thresholds ? { enter: thresholds.enter, exit: thresholds.exit } : null;
    this.#gauge.setThresholds(thresholds);
    this.#lastFrameWallMs = browserWallMs();

    if (stream && !this.#streams.some((known) => known.streamId === stream.streamId)) this.#streams = [...this.#streams, stream];
    this.#controls.setStreams(this.#streams, streamId);
    if (streamId) {
      const url = new URL(window.location.href);
      url.searchParams.set('stream', streamId);
      window.history.replaceState(null, '', url);
    }
  }

  #handleStatus(status: ConnectionStatus): void {
    this.#connectionStatus = status;
    this.#stats.connected = status.connected;
    this.#stats.connects = status.connects;
    this.#elements.root.dataset.connected = String(status.connected);
  }

  #pickStream(streamId: string): void {
    this.#requestedStreamId = streamId;
    this.#connection.subscribe(streamId);
  }

  /** Takes a new stream list; a list without states (from the WebSocket) keeps the states GET /api/streams reported. */
  #setStreams(streams: StreamInfoView[]): void {
    const knownStates = new Map(this.#streams.map((stream) => [stream.streamId, stream.state]));
    this.#streams = streams.map((stream) => (stream.state ? stream : { ...stream, state: knownStates.get(stream.streamId) ?? '' }));
    this.#controls.setStreams(this.#streams, this.#subscribedStreamId);
  }

  async #refreshStreamList(): Promise<void> {
    if (!this.#stats.connected) return;
    try {
      const response = await fetch('/api/streams', { cache: 'no-store', headers: authorizationHeaders(pageAccessToken(window.location.search)) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.#setStreams(parseStreamList(await response.json()));
    } catch (error) {
      console.warn(`segwithu viewer: GET /api/streams failed (${(error as Error).message}); the picker keeps the last list`);
    }
  }

  #handleControlChange(): void {
    this.#stats.layers = { ...this.#controls.state.layers };
    this.#stats.opacity = this.#controls.state.opacity;
    this.#dirty = true;
  }

  #resize(): void {
    const { width, height } = this.#elements.canvasBox.getBoundingClientRect();
    this.#scene.resize(width, height);
    this.#updateFrameRect();
    this.#dirty = true;
  }

  #updateFrameRect(): void {
    const canvasRect = this.#elements.canvas.getBoundingClientRect();
    const frameRect = this.#scene.frameRect();
    this.#stats.frameRectPage = { ...frameRect, x: canvasRect.x + frameRect.x, y: canvasRect.y + frameRect.y };
  }

  readonly #tick = (): void => {
    requestAnimationFrame(this.#tick);
    const nowWallMs = browserWallMs();

    const pending = this.#slot.take();
    if (pending) this.#upload(pending);
    this.#updateStaleness(nowWallMs);

    if (this.#dirty) {
      this.#scene.setStyle({
        layers: this.#controls.state.layers,
        opacity: this.#controls.state.opacity,
        contourStrength: this.#stats.contourStrength,
        stale: this.#stats.stale,
      });
      this.#scene.render();
      this.#dirty = false;
      if (pending) {
        this.#recordPaint(pending);
        // The ack lets the server send the next update; updates replaced in the slot unpainted are covered by it.
        this.#connection.ack(pending.update.updateId);
      }
    }

    this.#updateConnectionBanner(nowWallMs);
    if (pending || nowWallMs - this.#lastHudRefreshMs >= HUD_REFRESH_MS) {
      this.#lastHudRefreshMs = nowWallMs;
      this.#refreshHud(nowWallMs);
    }
    const { stateBanner, alarmBanner, staleBanner, connectionBanner } = this.#elements;
    stateBanner.hidden = !alarmBanner.hidden || !staleBanner.hidden || !connectionBanner.hidden;
    setText(stateBanner, this.#stats.painted > 0 ? 'Live: no alarm' : 'Waiting for frames…');
  };

  #upload(pending: PendingUpdate): void {
    const { frame, result } = pending.update;
    this.#scene.setFrame(frame);
    this.#scene.setResult(result);
    this.#updateFrameRect();

    const alarm = result?.alarm ?? false;
    this.#stats.alarm = alarm;
    this.#stats.alarmReason = result?.alarmReason ?? '';
    this.#stats.contourStrength = alarm ? ALARM_CONTOUR_STRENGTH : 1;
    if (result) {
      this.#counters = result.counters;
      this.#timeline.add(pending.arrivalWallMs, result.frameRisk, alarm);
    }
    this.#dirty = true;
  }

  #recordPaint(pending: PendingUpdate): void {
    const paintedMs = performance.now();
    const stats = this.#stats;
    pushSample(stats.arrivalToPaintMs, paintedMs - pending.arrivalMs);
    stats.painted += 1;

    const result = pending.update.result;
    stats.shownStreamId = result?.streamId ?? this.#subscribedStreamId;
    stats.shownSequence = result?.sequence ?? -1;
    stats.shownRisk = result?.frameRisk ?? Number.NaN;
    stats.shownModelId = result?.modelId ?? '';
    stats.shownFrameSize = { width: pending.update.frame.width, height: pending.update.frame.height };

    // Capture time is on the device's clock, which is taken to agree with the server's. That holds
    // for replays and the synthetic source. A live device must be synchronised to the server (NTP).
    const clock = this.#connection.clock.estimate();
    this.#lastCaptureToPaintMs = null;
    if (result && clock && result.captureWallMs > 0) {
      this.#lastCaptureToPaintMs = browserWallMs() + clock.offsetMs - result.captureWallMs;
      // A clock difference is shown as such on the status line and kept out of the latency samples.
      if (plausibleCaptureToPaint(this.#lastCaptureToPaintMs)) pushSample(stats.captureToPaintMs, this.#lastCaptureToPaintMs);
    }

    this.#paintTimesMs.push(paintedMs);
    while (this.#paintTimesMs.length > 0 && this.#paintTimesMs[0] < paintedMs - FPS_WINDOW_MS) this.#paintTimesMs.shift();

    const root = this.#elements.root;
    root.dataset.shownSequence = String(stats.shownSequence);
    root.dataset.shownRisk = Number.isNaN(stats.shownRisk) ? '' : stats.shownRisk.toFixed(6);
    root.dataset.alarm = String(stats.alarm);
    root.dataset.painted = String(stats.painted);
  }

  #updateStaleness(nowWallMs: number): void {
    const stats = this.#stats;
    const stale = this.#lastFrameWallMs > 0 && nowWallMs - this.#lastFrameWallMs > staleAfterMs(this.#nominalRateHz);
    if (stale !== stats.stale) {
      stats.stale = stale;
      stats.staleSinceWallMs = stale ? this.#lastFrameWallMs : 0;
      this.#elements.root.dataset.stale = String(stale);
      this.#dirty = true;
    }
  }

  #refreshHud(nowWallMs: number): void {
    const stats = this.#stats;
    const { alarmBanner, staleBanner, statusLine } = this.#elements;

    if (stats.shownSequence >= 0) this.#gauge.show(stats.shownRisk, stats.alarm, stats.stale, this.#thresholds);
    this.#timeline.draw(nowWallMs, this.#thresholds, stats.stale);

    alarmBanner.hidden = !stats.alarm;
    if (stats.alarm) {
      const reason = stats.alarmReason || 'frame risk above the alarm threshold';
      setText(alarmBanner, `ALARM: contour dimmed, do not rely on it. Reason: ${reason}`);
    }

    staleBanner.hidden = !stats.stale;
    if (stats.stale) {
      const seconds = ((nowWallMs - stats.staleSinceWallMs) / 1000).toFixed(0);
      setText(staleBanner, `Feed stale since ${formatClockTime(stats.staleSinceWallMs)} (no frame for ${seconds} s): overlay greyed out, not live`);
    }

    const windowMs = this.#paintTimesMs.length > 1 ? this.#paintTimesMs[this.#paintTimesMs.length - 1] - this.#paintTimesMs[0] : 0;
    stats.paintedFps = windowMs > 0 ? ((this.#paintTimesMs.length - 1) * 1000) / windowMs : 0;
    if (stats.stale) stats.paintedFps = 0;

    setText(statusLine, formatStatusLine({
      paintedFps: stats.paintedFps,
      captureToPaintMs: this.#lastCaptureToPaintMs,
      clock: this.#connection.clock.estimate(),
      counters: this.#counters,
      skippedByServer: stats.skippedByServer,
      replacedInBrowser: stats.replaced,
      sequence: stats.shownSequence,
      modelId: this.#subscribedModelId || stats.shownModelId,
    }));
  }

  #updateConnectionBanner(nowWallMs: number): void {
    const status = this.#connectionStatus;
    const banner = this.#elements.connectionBanner;
    if (status?.connected) {
      const recentError = this.#serverError !== null && nowWallMs - this.#serverError.wallMs < SERVER_ERROR_SHOWN_MS;
      banner.hidden = !recentError;
      if (recentError) setText(banner, this.#serverError!.text);
      return;
    }
    banner.hidden = !status;
    if (!status) return;
    const retryInS = status.nextAttemptWallMs === null ? 0 : Math.max(0, (status.nextAttemptWallMs - nowWallMs) / 1000);
    setText(banner, `Disconnected: ${status.lastError}. Reconnecting in ${retryInS.toFixed(1)} s (attempt ${status.failedAttempts}).`);
  }
}
