// Entry point of the viewer page: builds the codec from the bundled schema, finds the page's
// elements, and starts the connection and the render loop.
import type protobuf from 'protobufjs/light.js';
import './style.css';
import { createViewerStats } from './stats.js';
import { SHORTCUTS } from './controls.js';
import { viridisCssGradient } from './colorMap.js';
import { ViewerApp } from './viewerApp.js';
import { createViewerCodec } from './wire.js';

/** proto/segwithu.proto as protobufjs JSON, inlined by client/build.ts. */
declare const __SEGWITHU_PROTO_JSON__: protobuf.INamespace;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`viewer page has no element #${id}; client/index.html and client/src/main.ts are out of step`);
  return found as T;
}

function fillLegendAndShortcuts(): void {
  element('legend-bar').style.background = viridisCssGradient();
  element('shortcut-list').replaceChildren(...SHORTCUTS.map(({ keys, action }) => {
    const item = document.createElement('span');
    const key = item.appendChild(document.createElement('kbd'));
    key.textContent = keys;
    item.append(` ${action}`);
    return item;
  }));
}

function main(): void {
  fillLegendAndShortcuts();
  const stats = createViewerStats();
  window.__segwithuStats = stats;

  const protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const viewUrl = `${protocol}//${window.location.host}/view`;
  const streamId = new URLSearchParams(window.location.search).get('stream') ?? '';

  const app = new ViewerApp({
    root: element('app'),
    canvas: element('viewer-canvas'),
    canvasBox: element('canvas-box'),
    gauge: element('risk-gauge'),
    gaugeValue: element('risk-value'),
    timeline: element('risk-timeline'),
    statusLine: element('status-line'),
    stateBanner: element('state-banner'),
    alarmBanner: element('alarm-banner'),
    staleBanner: element('stale-banner'),
    connectionBanner: element('connection-banner'),
    controls: {
      frame: element('layer-frame'),
      contour: element('layer-contour'),
      heatMap: element('layer-heat-map'),
      opacity: element('overlay-opacity'),
      opacityValue: element('overlay-opacity-value'),
      picker: element('stream-picker'),
      pickerLabel: element('stream-picker-label'),
      streamName: element('stream-name'),
    },
  }, createViewerCodec(__SEGWITHU_PROTO_JSON__), stats, viewUrl, streamId);
  app.start();
}

main();
