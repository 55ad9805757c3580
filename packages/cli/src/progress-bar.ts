/** Upload progress on the terminal: a redrawn bar on a TTY, plain lines otherwise (logs, CI). */
import type { UploadProgress } from '@speos-portal/client';
import { formatBytes, formatDuration } from './format.js';

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class ProgressBar {
  readonly #out: ProgressOutput;
  readonly #label: string;
  readonly #tty: boolean;
  #lastDraw = Number.NEGATIVE_INFINITY;
  #lastPercentStep = -1;
  #last: UploadProgress | undefined;
  /** Shown instead of speed and ETA while the upload waits for a server or store. */
  #waiting: string | undefined;

  constructor(out: ProgressOutput, label: string) {
    this.#out = out;
    this.#label = label;
    this.#tty = out.isTTY === true;
  }

  /** Redraws at most 10×/s on a TTY; prints a line every 10 % otherwise. */
  update(p: UploadProgress, now = Date.now()): void {
    this.#last = p;
    if (this.#tty) {
      if (now - this.#lastDraw < 100 && p.fraction < 1) return;
      this.#lastDraw = now;
      this.#out.write(`\r${this.#line(p, true)}\x1b[K`);
      return;
    }
    const step = Math.floor(p.fraction * 10);
    if (step === this.#lastPercentStep) return;
    this.#lastPercentStep = step;
    this.#out.write(`${this.#line(p, false)}\n`);
  }

  /**
   * While set, the bar says this instead of speed and ETA (they would describe the time
   * before the outage). Undefined: back to speed and ETA.
   */
  waiting(text: string | undefined): void {
    this.#waiting = text;
    if (this.#tty && this.#last) this.#out.write(`\r${this.#line(this.#last, true)}\x1b[K`);
  }

  /** A line of its own: above the bar on a TTY (which is drawn again below it), plain otherwise. */
  note(text: string): void {
    if (!this.#tty) {
      this.#out.write(`${text}\n`);
      return;
    }
    this.#out.write(`\r\x1b[K${text}\n`);
    if (this.#last) this.#out.write(`${this.#line(this.#last, true)}\x1b[K`);
  }

  /** Ends the bar's line (TTY) so later output starts on a fresh one. */
  finish(): void {
    if (this.#tty && this.#last) this.#out.write(`\r${this.#line(this.#last, true)}\x1b[K\n`);
  }

  #line(p: UploadProgress, bar: boolean): string {
    const percent = `${(p.fraction * 100).toFixed(1).padStart(5)}%`;
    const bytes = `${formatBytes(p.uploadedBytes)}/${formatBytes(p.totalBytes)}`;
    const speed = p.speed > 0 ? `${formatBytes(p.speed)}/s` : '-- B/s';
    const rate = this.#waiting ? `${this.#waiting}…` : `${speed} ETA ${formatDuration(p.etaSeconds)}`;
    if (!bar) return `${this.#label} ${percent.trim()} ${bytes} ${rate}`;
    const width = Math.max(10, Math.min(30, (this.#out.columns ?? 80) - 70));
    const filled = Math.round(p.fraction * width);
    return `${this.#label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent} ${bytes} ${rate}`;
  }
}
