/**
 * Reads the solver's console lines into `progress_info`. The patterns are regular
 * expressions an operator can replace (SPEOS_PROGRESS_PATTERNS, JSON) when a SPEOS
 * version words its output differently.
 */
import type { ProgressInfo } from '@speos-portal/protocol';
import { parseSolverDuration } from '../tasks/estimated-time.js';

export interface ProgressPatterns {
  /** First group: percent done. */
  percent: RegExp;
  /** Groups: current pass, total passes. */
  pass: RegExp;
  /** Groups: current sensor, total sensors. */
  sensor: RegExp;
  /** First group: estimated time left, as printed. */
  estimated: RegExp;
}

export const DEFAULT_PROGRESS_PATTERNS: ProgressPatterns = {
  percent: /(\d{1,3}(?:\.\d+)?)\s*%/,
  pass: /\bpass(?:es)?\s*[:#]?\s*(\d+)\s*(?:\/|of)\s*(\d+)/i,
  sensor: /\bsensors?\s*[:#]?\s*(\d+)\s*(?:\/|of)\s*(\d+)/i,
  estimated: /\b(?:estimated|remaining)\b[^:]*:\s*([0-9][0-9:hms .]*[0-9hms])/i,
};

/** Patterns from JSON such as `{"percent": "Done (\\d+)%"}`; missing keys keep the defaults. */
export function parsePatterns(json: string | undefined): ProgressPatterns {
  if (!json?.trim()) return DEFAULT_PROGRESS_PATTERNS;
  const given = JSON.parse(json) as Record<string, string>;
  const patterns = { ...DEFAULT_PROGRESS_PATTERNS };
  for (const [key, source] of Object.entries(given)) {
    if (!(key in patterns)) throw new Error(`unknown pattern "${key}"; use percent, pass, sensor, estimated`);
    patterns[key as keyof ProgressPatterns] = new RegExp(source, 'i');
  }
  return patterns;
}

export const EMPTY_PROGRESS: ProgressInfo = {
  progress_percent: null,
  current_pass: null,
  total_passes: null,
  current_sensor: null,
  total_sensors: null,
  estimated_time: null,
  estimated_seconds: null,
  message: null,
};

/** The progress after one more line; null when the line says nothing about progress. */
export function readProgressLine(line: string, current: ProgressInfo, patterns: ProgressPatterns): ProgressInfo | null {
  const next = { ...current };
  let changed = false;
  const percent = patterns.percent.exec(line);
  if (percent) {
    const value = Number(percent[1]);
    if (value >= 0 && value <= 100) {
      next.progress_percent = value;
      changed = true;
    }
  }
  const pass = patterns.pass.exec(line);
  if (pass) {
    next.current_pass = Number(pass[1]);
    next.total_passes = Number(pass[2]);
    changed = true;
  }
  const sensor = patterns.sensor.exec(line);
  if (sensor) {
    next.current_sensor = Number(sensor[1]);
    next.total_sensors = Number(sensor[2]);
    changed = true;
  }
  const estimated = patterns.estimated.exec(line);
  if (estimated) {
    // Kept as printed; the API words it for people (tasks/present.ts).
    next.estimated_time = estimated[1]!.trim();
    next.estimated_seconds = parseSolverDuration(next.estimated_time);
    changed = true;
  }
  if (!changed) return null;
  next.message = line.trim().slice(0, 200);
  return next;
}
