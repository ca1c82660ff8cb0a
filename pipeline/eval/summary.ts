// Formats an evaluation report as a Markdown summary. It starts with what was evaluated: clips,
// frames, conditions, what was subsampled and which corruption families the head never saw.
// Tables follow: cost, Dice, pixel error detection, calibration, frame failure detection, the
// out-of-distribution sweep and, for two models, their differences.

import { CORRUPTION_IDS, HELD_OUT_CORRUPTIONS } from './corruptions.js';
import { METHOD_LABELS, type Method } from './frame-scores.js';
import type { EvalReport, FrameFailureFigures, Interval, ModelReport } from './report.js';

function number(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

/** Formats a small figure (AURC, E-AURC) with 3 significant digits, so 1.2e-5 does not print as 0.0000. */
function small(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value === 0) return '0';
  return Math.abs(value) < 1e-3 ? value.toExponential(2) : value.toPrecision(3);
}

function interval(value: Interval | undefined, format: (x: number) => string = (x) => number(x)): string {
  if (value === undefined || !Number.isFinite(value.estimate)) return 'n/a';
  const bounds = Number.isFinite(value.lower) && Number.isFinite(value.upper) ? ` [${format(value.lower)}, ${format(value.upper)}]` : '';
  return `${format(value.estimate)}${bounds}`;
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

function groupName(group: string): string {
  if (group === 'clean_and_corrupted') return 'clean + corrupted';
  if (group === 'seen_families') return 'families seen in training';
  if (group === 'held_out_families') return 'held-out families (unseen)';
  if ((HELD_OUT_CORRUPTIONS as readonly string[]).includes(group)) return `${group} (unseen)`;
  return group;
}

function conditionName(condition: string): string {
  const family = CORRUPTION_IDS.find((id) => condition.startsWith(`${id}_s`));
  return family !== undefined && HELD_OUT_CORRUPTIONS.includes(family) ? `${condition} (unseen)` : condition;
}

const COST_LABELS = { backbone: 'backbone only', segwithu: 'SegWithU (backbone + head)', tta4: METHOD_LABELS.tta4, tta8: METHOD_LABELS.tta8, mc8: METHOD_LABELS.mc8 };

function costSection(model: ModelReport): string {
  const cost = model.cost_ms;
  const rows = (['backbone', 'segwithu', 'tta4', 'tta8', 'mc8'] as const)
    .filter((name) => cost[name].runs > 0)
    .map((name) => [COST_LABELS[name], String(cost[name].batch), number(cost[name].median_ms, 1), String(cost[name].runs)]);
  return [
    table(['method', 'batch', 'median ms per frame', 'timed runs'], rows),
    '',
    `Ratios: head cost ${number(cost.ratios.head_vs_backbone, 2)}× the backbone (must ≤ 1.15); TTA-4 ${number(cost.ratios.tta4_vs_segwithu, 2)}× SegWithU (must ≥ 3.4); MC dropout-8 ${number(cost.ratios.mc8_vs_segwithu, 2)}× SegWithU (must ≥ 6.8). SegWithU median over every frame the pipeline ran: ${number(cost.segwithu_all_frames_median_ms, 1)} ms.`,
  ].join('\n');
}

function pixelSection(model: ModelReport): string {
  const parts: string[] = [];
  const clean = model.pixel_error_detection.clean;
  if (clean !== undefined) {
    const methods = Object.keys(clean.image.methods) as Method[];
    const rows = methods.map((method) => {
      const image = clean.image.methods[method]!;
      const near = clean.near_contour.methods[method];
      return [METHOD_LABELS[method], interval(image.auroc), interval(near?.auroc), interval(image.auprc), interval(image.aurc, small), interval(image.e_aurc, small), interval(near?.aurc, small)];
    });
    const [clips, frames] = [clean.image.methods.segwithu?.auroc.clips, clean.image.methods.segwithu?.auroc.frames];
    parts.push(`Clean frames (${frames} frames, ${clips} clips; ${clean.image.pixels} content pixels, error rate ${number(clean.image.error_rate, 4)}; ${clean.near_contour.pixels} pixels near the contour):`, '');
    parts.push(table(['method', 'AUROC image', 'AUROC near contour', 'AUPRC image', 'AURC image', 'E-AURC image', 'AURC near contour'], rows));
  }

  const groups = Object.keys(model.pixel_error_detection).filter((group) => group !== 'clean');
  if (groups.length > 0) {
    const methods = Object.keys(model.pixel_error_detection[groups[0] as 'corrupted']!.image.methods) as Method[];
    const rows = groups.map((group) => {
      const figures = model.pixel_error_detection[group as 'corrupted']!;
      return [
        groupName(group),
        String(figures.image.methods.segwithu?.auroc.frames ?? 'n/a'),
        ...methods.map((method) => `${number(figures.image.methods[method]?.auroc.estimate)} / ${number(figures.near_contour.methods[method]?.auroc.estimate)}`),
      ];
    });
    parts.push('', 'Pixel AUROC under corruption, whole image / near the contour (intervals in report.json):', '');
    parts.push(table(['group', 'frames', ...methods.map((method) => METHOD_LABELS[method])], rows));
  }
  return parts.join('\n');
}

function calibrationSection(model: ModelReport): string {
  const fourDigits = (x: number): string => number(x, 4);
  const rows = Object.entries(model.calibration).map(([group, figures]) => [
    groupName(group),
    interval(figures!.raw.ece, fourDigits),
    interval(figures!.tempered.ece, fourDigits),
    interval(figures!.raw.nll, fourDigits),
    interval(figures!.tempered.nll, fourDigits),
    interval(figures!.raw.brier, fourDigits),
    interval(figures!.tempered.brier, fourDigits),
  ]);
  return table(['group', 'ECE raw', 'ECE tempered', 'NLL raw', 'NLL tempered', 'Brier raw', 'Brier tempered'], rows);
}

function frameRow(name: string, figures: FrameFailureFigures): string[] {
  return [
    name,
    String(figures.frames),
    String(figures.failures),
    String(figures.clips),
    interval(figures.dice_mean),
    interval(figures.auroc_frame_risk),
    interval(figures.auroc_mean_entropy),
    interval(figures.auroc_tta4),
    interval(figures.auroc_mc8),
    interval(figures.gap_frame_risk_minus_tta4),
    interval(figures.frame_risk_ece),
    interval(figures.spearman_frame_risk_vs_1_minus_dice),
  ];
}

const FRAME_HEADER = ['frames', 'failures', 'clips', 'Dice mean', 'AUROC frame risk', 'AUROC mean entropy', 'AUROC TTA-4', 'AUROC MC-8', 'gap frame risk − TTA-4', 'frame-risk ECE', 'Spearman risk vs 1 − Dice'];

function frameSection(model: ModelReport): string {
  const order = ['clean_and_corrupted', 'clean', 'corrupted', 'seen_families', 'held_out_families', ...CORRUPTION_IDS];
  const rows = order.filter((group) => model.frame_failure[group] !== undefined).map((group) => frameRow(groupName(group), model.frame_failure[group]));
  const conditionRows = Object.entries(model.frame_failure_by_condition).map(([condition, figures]) => frameRow(conditionName(condition), figures));
  return [
    `A frame fails when its Dice is below ${model.failure_dice_threshold}. Mean entropy, TTA-4 and MC-8 frame scores average over the predicted structure.`,
    '',
    table(['group', ...FRAME_HEADER], rows),
    '',
    'By condition:',
    '',
    table(['condition', ...FRAME_HEADER], conditionRows),
  ].join('\n');
}

function modelSection(model: ModelReport, files: string[]): string {
  const prefix = model.label === 'model' ? '' : `${model.label}-`;
  const plots = files.filter((file) => file.endsWith('.svg') && (prefix === '' || file.startsWith(prefix)));
  const lines = [
    `## ${model.label === 'model' ? 'Model' : `Model ${model.label}`}: ${model.model.id} ${model.model.version}`,
    '',
    `Folder ${model.model_dir}; evaluated in ${number(model.duration_s / 60, 1)} min. Held-out corruption families (never seen by the head in training): ${model.held_out_families.join(', ') || 'none evaluated'}.`,
    '',
    '### Cost',
    '',
    costSection(model),
    '',
    '### Pixel error detection',
    '',
    pixelSection(model),
    '',
    '### Calibration of the foreground probability, raw against tempered',
    '',
    calibrationSection(model),
    '',
    '### Frame failure detection',
    '',
    frameSection(model),
  ];
  if (model.ood !== undefined) {
    lines.push('', '### Out of distribution', '', `${model.ood.frames} frames of ${model.ood.folder}: share with frame risk above the alarm entry (${model.ood.alarm_enter}) ${interval(model.ood.share_above_alarm_enter)} (must ≥ 0.80); mean frame risk ${number(model.ood.frame_risk_mean)}.`);
  }
  lines.push('', '### Plots', '', ...plots.map((file) => `- [${file}](${file})`), '', '### Notes', '', ...model.notes.map((note) => `- ${note}`));
  return lines.join('\n');
}

/** Formats the summary.md text of a report; `files` are the names of the files written beside it. */
export function formatSummary(report: EvalReport, files: string[]): string {
  const clips = report.input.clips;
  const frames = clips.reduce((sum, clip) => sum + clip.frames, 0);
  const heldOut = report.subsampling.corruptions.filter((family) => (HELD_OUT_CORRUPTIONS as readonly string[]).includes(family));
  const lines = [
    '# SegWithU evaluation',
    '',
    `Generated ${report.generated_at}${report.command ? ` by \`${report.command}\`` : ''}.`,
    '',
    `Input: ${report.input.kind} ${report.input.path}, ${report.input.selection}: ${clips.length} clip${clips.length === 1 ? '' : 's'} (${clips.map((clip) => `${clip.clip_id}: ${clip.frames} frames`).join('; ')}), ${frames} source frames. Every figure rests on these ${clips.length} clip${clips.length === 1 ? '' : 's'} at most; each table gives its own count.`,
    '',
    `Conditions: clean, and the corruption families ${report.subsampling.corruptions.join(', ') || '(none)'} at severities ${report.subsampling.severities.join(', ')}, generated on the fly with a fixed seed. Unseen families (held out from head training): ${heldOut.join(', ') || 'none evaluated'}. Subsampling: ${report.subsampling.note}. Sampling baselines: ${report.subsampling.baselines.join(', ') || 'none'}.`,
    '',
    'Intervals are 95% block-bootstrap intervals (runs of 10 consecutive frames within clips) in brackets.',
  ];
  for (const model of report.models) lines.push('', modelSection(model, files));

  if (report.comparison !== undefined) {
    lines.push('', '## Comparison: B − A (paired intervals)', '');
    lines.push(table(['figure', 'A', 'B', 'B − A'], report.comparison.map((row) => [row.figure, number(row.a), number(row.b), interval(row.difference)])));
  }
  return `${lines.join('\n')}\n`;
}
