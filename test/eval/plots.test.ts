import { describe, expect, it } from 'vitest';

import { reliabilityBins, riskCoverageCurve } from '../../pipeline/eval/metrics.js';
import { frameRiskTimelineSvg, reliabilityDiagramSvg, riskCoverageSvg } from '../../pipeline/eval/plots.js';
import { createRandom } from '../../pipeline/eval/random.js';

/** Throws unless every element is closed in order; enough to catch broken markup. */
function checkBalancedTags(svg: string): void {
  const stack: string[] = [];
  for (const match of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (selfClosing) continue;
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      stack.push(name);
    }
  }
  if (stack.length > 0) throw new Error(`unclosed elements: ${stack.join(', ')}`);
}

function countMatches(svg: string, pattern: RegExp): number {
  return [...svg.matchAll(pattern)].length;
}

/** Checks that every point in path data lies within the SVG. */
function checkCoordinatesInside(svg: string, width: number, height: number): void {
  for (const [, x, y] of svg.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)) {
    expect(Number(x)).toBeGreaterThanOrEqual(0);
    expect(Number(x)).toBeLessThanOrEqual(width);
    expect(Number(y)).toBeGreaterThanOrEqual(0);
    expect(Number(y)).toBeLessThanOrEqual(height);
  }
}

describe('riskCoverageSvg', () => {
  const random = createRandom(1);
  const loss = Array.from({ length: 5000 }, () => (random.next() < 0.2 ? 1 : 0));
  const good = loss.map((l) => l + random.normal() * 0.5);
  const noise = loss.map(() => random.next());

  it('risk-coverage plot is well formed', () => {
    const svg = riskCoverageSvg(
      [
        { label: 'SegWithU', curve: riskCoverageCurve(good, loss), aurc: 0.05 },
        { label: 'Entropy', curve: riskCoverageCurve(noise, loss) },
      ],
      'Pixel risk-coverage',
    );
    expect(() => checkBalancedTags(svg)).not.toThrow();
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Pixel risk-coverage');
    expect(svg).toContain('Coverage');
    expect(svg).toContain('Selective risk');
    expect(svg).toContain('SegWithU (AURC 0.05)');
    expect(svg).toContain('Entropy');
    expect(svg).not.toContain('NaN');
    checkCoordinatesInside(svg, 720, 420);
  });

  it('risk-coverage thins long curves', () => {
    const svg = riskCoverageSvg([{ label: 'one', curve: riskCoverageCurve(good, loss) }], 'Thinned');
    const curvePath = svg.match(/<path d="([^"]+)" fill="none" stroke="#0072B2"/);
    expect(curvePath).not.toBeNull();
    expect(countMatches(curvePath![1], /[ML]/g)).toBe(1000);
  });

  it('risk-coverage escapes markup in labels', () => {
    const svg = riskCoverageSvg([{ label: 'TTA <4> & MC', curve: riskCoverageCurve([1, 2], [0, 1]) }], 'A & B');
    expect(svg).toContain('TTA &lt;4&gt; &amp; MC');
    expect(svg).toContain('A &amp; B');
    expect(() => checkBalancedTags(svg)).not.toThrow();
  });
});

describe('reliabilityDiagramSvg', () => {
  it('reliability diagram draws one bar per filled bin', () => {
    const bins = reliabilityBins([0.05, 0.1, 0.5, 0.55, 0.95], [0, 0, 1, 0, 1], 10);
    const svg = reliabilityDiagramSvg(bins, 'Tempered foreground probability', { expectedCalibrationError: 0.123 });
    expect(() => checkBalancedTags(svg)).not.toThrow();
    // Filled bins: 0 (two items), 1, 5 and 9: one frequency bar and one share bar each, bin 0
    // with frequency 0 drawing a zero-height bar.
    expect(countMatches(svg, /<rect [^>]*fill="#0072B2"/g)).toBe(4);
    expect(countMatches(svg, /<rect [^>]*fill="#555555"/g)).toBe(4);
    expect(svg).toContain('ECE 0.123');
    expect(svg).toContain('Perfect calibration');
    expect(svg).toContain('Predicted probability');
    expect(svg).not.toContain('NaN');
  });
});

describe('frameRiskTimelineSvg', () => {
  it('timeline shows thresholds and failures', () => {
    const time = Array.from({ length: 50 }, (_, i) => i);
    const risk = time.map((t) => (t === 20 ? NaN : 0.5 + 0.4 * Math.sin(t / 5)));
    const svg = frameRiskTimelineSvg([{ label: 'clip 3', time, risk }], 'Frame risk, clip 3', {
      alarmEnter: 0.7,
      alarmExit: 0.4,
      failures: [12, 13, 14],
      width: 800,
      height: 300,
    });
    expect(() => checkBalancedTags(svg)).not.toThrow();
    expect(svg).toContain('width="800"');
    expect(svg).toContain('Alarm entry (0.7)');
    expect(svg).toContain('Alarm exit (0.4)');
    expect(svg).toContain('Failing frame');
    // The NaN at frame 20 splits the curve into two subpaths.
    const curvePath = svg.match(/<path d="([^"]+)" fill="none" stroke="#0072B2"/)![1];
    expect(countMatches(curvePath, /M/g)).toBe(2);
    expect(svg).not.toContain('NaN');
    checkCoordinatesInside(svg, 800, 300);
  });

  it('timeline of a single frame', () => {
    const svg = frameRiskTimelineSvg([{ label: 'one', time: [0], risk: [0.2] }], 'One frame');
    expect(() => checkBalancedTags(svg)).not.toThrow();
    expect(svg).not.toContain('NaN');
    expect(svg).not.toContain('Infinity');
  });
});
