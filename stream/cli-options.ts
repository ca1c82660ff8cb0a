// Command-line options of segwithu-live: one table per subcommand gives each option's flag,
// environment variable, unit, default and parser. --help is generated from the table, and every
// invalid value is rejected with a message that names the flag (or variable), the value and the fix.

import { parseArgs } from 'node:util';

import { OptionError } from './errors.js';

export interface OptionSpec {
  /** Flag without the leading dashes, for example 'port'. */
  flag: string;
  /** Environment variable read when the flag is absent. */
  env?: string;
  /** Placeholder shown in --help, for example 'N' or 'DIR'; absent for switches. */
  valueName?: string;
  /** Help text: the setting and its unit. */
  help: string;
  /** Default as shown in --help. */
  defaultText?: string;
}

export type ParsedValues = Record<string, string | boolean | undefined>;

/** Parses argv against the table; values come from the flag, else the environment variable. */
export function readOptions(specs: readonly OptionSpec[], argv: string[], env: NodeJS.ProcessEnv): { values: ParsedValues; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const spec of specs) {
    options[spec.flag] = { type: spec.valueName === undefined ? 'boolean' : 'string' };
  }

  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new OptionError(`${(error as Error).message}; run with --help for the options`);
  }

  const values: ParsedValues = { help: parsed.values.help as boolean | undefined };
  for (const spec of specs) {
    const fromFlag = parsed.values[spec.flag] as string | boolean | undefined;
    const fromEnv = spec.env !== undefined ? env[spec.env] : undefined;
    if (fromFlag !== undefined) {
      values[spec.flag] = fromFlag;
    } else if (fromEnv !== undefined && fromEnv !== '') {
      values[spec.flag] = spec.valueName === undefined ? parseSwitch(fromEnv, spec) : fromEnv;
    }
  }
  return { values, positionals: parsed.positionals };
}

function parseSwitch(text: string, spec: OptionSpec): boolean {
  if (['1', 'true', 'yes'].includes(text.toLowerCase())) {
    return true;
  }
  if (['0', 'false', 'no'].includes(text.toLowerCase())) {
    return false;
  }
  throw new OptionError(`${spec.env}="${text}" is not a switch value; set it to true or false`);
}

/** Names where a value came from, for error messages: the flag, or the variable when the flag was absent. */
export function origin(spec: OptionSpec, argv: string[]): string {
  return argv.some((arg) => arg === `--${spec.flag}` || arg.startsWith(`--${spec.flag}=`)) || spec.env === undefined ? `--${spec.flag}` : spec.env;
}

export function parseInteger(text: string, name: string, min: number, max: number, fix: string): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new OptionError(`${name} "${text}" is not an integer from ${min} to ${max}; ${fix}`);
  }
  return value;
}

export function parsePositiveNumber(text: string, name: string, fix: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new OptionError(`${name} "${text}" is not a number above 0; ${fix}`);
  }
  return value;
}

/** Parses a decimal number above 0 and at most `max`; exponents, hex and other forms Number() takes are rejected. */
export function parseBoundedNumber(text: string, name: string, max: number, fix: string): number {
  if (!/^\d+(\.\d+)?$/.test(text.trim())) {
    throw new OptionError(`${name} "${text}" is not a decimal number; ${fix}`);
  }
  const value = parsePositiveNumber(text, name, fix);
  if (value > max) {
    throw new OptionError(`${name} ${text} is above the maximum of ${max}; ${fix}`);
  }
  return value;
}

/** pino's log levels, as --log-level takes them. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Returns `text` when it is a pino log level; otherwise raises an OptionError that lists the levels. */
export function parseLogLevel(text: string, name: string): string {
  if (!LOG_LEVELS.includes(text)) {
    throw new OptionError(`${name} "${text}" is not a log level; pass one of ${LOG_LEVELS.join(', ')}`);
  }
  return text;
}

export function parseList(text: string): string[] {
  return text.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
}

/** Formats the options table for --help: flag, placeholder, help, default and variable. */
export function formatOptions(specs: readonly OptionSpec[]): string {
  const rows = specs.map((spec) => {
    const left = `  --${spec.flag}${spec.valueName === undefined ? '' : ` ${spec.valueName}`}`;
    const notes = [spec.defaultText === undefined ? undefined : `Default ${spec.defaultText}.`, spec.env === undefined ? undefined : `Env ${spec.env}.`]
      .filter((note) => note !== undefined)
      .join(' ');
    return { left, right: notes.length > 0 ? `${spec.help} ${notes}` : spec.help };
  });
  const width = Math.max(...rows.map((row) => row.left.length)) + 2;
  return rows.map((row) => `${row.left.padEnd(width)}${row.right}`).join('\n');
}
