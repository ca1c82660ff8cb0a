import { describe, expect, it } from 'vitest';

import { AlarmHysteresis } from '../../pipeline/alarm.js';

const thresholds = { enter: 0.5, exit: 0.3, enterFrames: 3, exitFrames: 3 };

function states(risks: number[]): string[] {
  const hysteresis = new AlarmHysteresis(thresholds);
  return risks.map((risk) => hysteresis.update('s', risk).alarm);
}

describe('AlarmHysteresis', () => {
  it('enters after three frames above', () => {
    expect(states([0.6, 0.6, 0.6, 0.6])).toEqual(['ok', 'ok', 'alarm', 'alarm']);
  });

  it('interrupted run does not enter', () => {
    expect(states([0.6, 0.6, 0.4, 0.6, 0.6])).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('holds between the thresholds', () => {
    // Risk 0.4 is neither above 0.5 nor below 0.3: the alarm stays on.
    expect(states([0.9, 0.9, 0.9, 0.4, 0.4, 0.4, 0.4])).toEqual(['ok', 'ok', 'alarm', 'alarm', 'alarm', 'alarm', 'alarm']);
  });

  it('leaves after three frames below', () => {
    expect(states([0.9, 0.9, 0.9, 0.2, 0.2, 0.2, 0.6])).toEqual(['ok', 'ok', 'alarm', 'alarm', 'alarm', 'ok', 'ok']);
  });

  it('risk oscillating near enter never flickers', () => {
    // Alternating 0.49 / 0.51 around the entry threshold, then around the exit threshold.
    const nearEnter = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 0.51 : 0.49));
    expect(new Set(states(nearEnter))).toEqual(new Set(['ok']));
    const nearExit = [0.9, 0.9, 0.9, ...Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 0.29 : 0.31))];
    expect(states(nearExit).slice(2)).toEqual(Array(21).fill('alarm'));
  });

  it('not-a-number risk counts as high', () => {
    expect(states([Number.NaN, Number.NaN, Number.NaN])).toEqual(['ok', 'ok', 'alarm']);
  });

  it('reason names risk, threshold, frames', () => {
    const hysteresis = new AlarmHysteresis(thresholds);
    hysteresis.update('s', 0.82);
    hysteresis.update('s', 0.82);
    expect(hysteresis.update('s', 0.82).alarmReason).toBe('frame risk 0.82 above 0.50 for 3 frames: contour withheld');
    expect(hysteresis.update('s', 0.4).alarmReason).toMatch(/^frame risk 0\.40; the alarm holds until the risk is below 0\.30 for 3 frames \(0 so far\)/);
    expect(hysteresis.update('s', 0.1).alarmReason).toMatch(/\(1 so far\)/);
  });

  it('streams are independent', () => {
    const hysteresis = new AlarmHysteresis(thresholds);
    for (let i = 0; i < 3; i++) hysteresis.update('a', 0.9);
    expect(hysteresis.state('a')).toBe('alarm');
    expect(hysteresis.update('b', 0.1).alarm).toBe('ok');
    hysteresis.forget('a');
    expect(hysteresis.state('a')).toBe('ok');
  });
});
