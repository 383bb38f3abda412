import { InvalidArgumentError, Option } from 'commander';
import { formatDurationMs, parseDurationMs } from '../config/duration';

/**
 * A `--flag <duration>` read with the policy language's duration rules
 * (250ms, 2s, 1.5s, 1m, 1h; src/config/duration.ts), so one spelling works
 * everywhere. Invalid or zero is refused by commander as a usage error (exit
 * 2) before the command runs: a silent fallback hid typos like "2 seconds".
 */
export function durationOption(flags: string, description: string, defaultMs: number): Option {
  return new Option(flags, description).default(defaultMs, formatDurationMs(defaultMs)).argParser(parseDurationFlag);
}

export function parseDurationFlag(text: string): number {
  const ms = parseDurationMs(text.trim());
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError(`expected a number and a unit ms, s, m or h greater than 0 (e.g. 30s), got '${text}'.`);
  return ms;
}
