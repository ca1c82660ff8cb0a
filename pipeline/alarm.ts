// alarm: per-stream hysteresis on the frame risk, so the alarm does not flicker.
//
// A stream enters the alarm when the frame risk is above `enter` for `enterFrames` consecutive
// frames, and leaves it when the risk is below `exit` for `exitFrames` consecutive frames.
// Between the two thresholds the state holds. A risk that is not a number counts as above
// `enter`: a model that cannot state its risk is not trusted.

import { map, type OperatorFunction } from 'rxjs';

import type { AlarmState, Result } from './types.js';

export interface AlarmThresholds {
  enter: number;
  exit: number;
  enterFrames: number;
  exitFrames: number;
}

interface StreamAlarm {
  state: AlarmState;
  /** Consecutive frames with risk above `enter`. */
  above: number;
  /** Consecutive frames with risk below `exit`. */
  below: number;
}

const formatRisk = (risk: number): string => (Number.isFinite(risk) ? risk.toFixed(2) : 'unavailable');

/** The alarm state of every stream, updated one frame at a time. */
export class AlarmHysteresis {
  readonly thresholds: AlarmThresholds;
  readonly #streams = new Map<string, StreamAlarm>();

  constructor(thresholds: AlarmThresholds) {
    this.thresholds = thresholds;
  }

  /** Advances the stream's state by one frame and returns it with the reason clinicians see. */
  update(streamId: string, frameRisk: number): { alarm: AlarmState; alarmReason: string } {
    const { enter, exit, enterFrames, exitFrames } = this.thresholds;
    let stream = this.#streams.get(streamId);
    if (stream === undefined) {
      stream = { state: 'ok', above: 0, below: 0 };
      this.#streams.set(streamId, stream);
    }

    const isAbove = !(frameRisk <= enter);
    const isBelow = frameRisk < exit;
    stream.above = isAbove ? stream.above + 1 : 0;
    stream.below = isBelow ? stream.below + 1 : 0;

    if (stream.state === 'ok' && stream.above >= enterFrames) stream.state = 'alarm';
    else if (stream.state === 'alarm' && stream.below >= exitFrames) stream.state = 'ok';

    if (stream.state === 'ok') return { alarm: 'ok', alarmReason: '' };

    const risk = formatRisk(frameRisk);
    if (isAbove) {
      const frames = stream.above === 1 ? '1 frame' : `${stream.above} frames`;
      return { alarm: 'alarm', alarmReason: `frame risk ${risk} above ${enter.toFixed(2)} for ${frames}: contour withheld` };
    }
    return {
      alarm: 'alarm',
      alarmReason: `frame risk ${risk}; the alarm holds until the risk is below ${exit.toFixed(2)} for ${exitFrames} frames (${stream.below} so far): contour withheld`,
    };
  }

  state(streamId: string): AlarmState {
    return this.#streams.get(streamId)?.state ?? 'ok';
  }

  forget(streamId: string): void {
    this.#streams.delete(streamId);
  }
}

/**
 * Sets `alarm` and `alarmReason` on each result from the stream's hysteresis state. Emits one
 * job per input job, in order (results of one stream must arrive in sequence order); completes
 * and errors with its source.
 */
export function alarm<T extends { result: Result }>(hysteresis: AlarmHysteresis): OperatorFunction<T, T> {
  return map((job) => ({ ...job, result: { ...job.result, ...hysteresis.update(job.result.streamId, job.result.frameRisk) } }));
}
