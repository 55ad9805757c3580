/** Upload progress that never goes backwards, with a smoothed speed and ETA. */

export interface UploadProgress {
  /** Bytes in parts the server acknowledged (200 + ETag), including parts found on resume. */
  confirmedBytes: number;
  /** Bytes sent of parts still in flight. */
  inFlightBytes: number;
  /** What to draw: never decreases, even when a failed attempt's bytes are sent again. */
  uploadedBytes: number;
  totalBytes: number;
  /** 0…1. */
  fraction: number;
  /** Bytes per second, exponentially smoothed; 0 until measured. */
  speed: number;
  /** Seconds left at `speed`; undefined until a speed is known. */
  etaSeconds: number | undefined;
}

/**
 * Feeds on (confirmed, in-flight) samples; smooths the speed with an exponential moving
 * average over `halfLifeMs` so one fast or slow part does not make the ETA jump.
 *
 * Speed counts bytes sent, including bytes of a failed attempt sent again (they cost the same
 * time), not the never-decreasing figure shown: after a part fails, the bytes it sends again
 * would otherwise count as no progress at all until they pass what was shown before.
 */
export class ProgressTracker {
  readonly #total: number;
  readonly #halfLifeMs: number;
  #shown = 0;
  /** Bytes sent so far: the sum of every increase of confirmed + in-flight. */
  #sent = 0;
  #lastRaw = 0;
  #lastSent = 0;
  #lastAt: number | undefined;
  #speed = 0;

  constructor(totalBytes: number, halfLifeMs = 3000) {
    this.#total = totalBytes;
    this.#halfLifeMs = halfLifeMs;
  }

  /**
   * Resets the speed baseline (after a pause or an outage: idle time is not slowness); the
   * speed measured before stays until new samples move it. Bytes already shown stay.
   */
  restart(confirmedBytes: number, now: number): void {
    this.#shown = Math.max(this.#shown, Math.min(confirmedBytes, this.#total));
    this.#lastSent = this.#sent;
    this.#lastAt = now;
  }

  /**
   * A request failed and waits before it tries again: the next sample starts a new baseline,
   * so the time spent waiting never counts as slow sending. The speed measured so far stays.
   */
  idle(): void {
    this.#lastAt = undefined;
  }

  update(confirmedBytes: number, inFlightBytes: number, now: number): UploadProgress {
    const raw = Math.min(this.#total, confirmedBytes + inFlightBytes);
    this.#shown = Math.max(this.#shown, raw);
    this.#sent += Math.max(0, raw - this.#lastRaw);
    this.#lastRaw = raw;
    if (this.#lastAt === undefined) {
      this.#lastAt = now;
      this.#lastSent = this.#sent;
    } else if (now - this.#lastAt >= 200) {
      // Sample at most 5×/s: per-chunk callbacks are too noisy to average directly.
      const instant = ((this.#sent - this.#lastSent) * 1000) / (now - this.#lastAt);
      const weight = 1 - 0.5 ** ((now - this.#lastAt) / this.#halfLifeMs);
      this.#speed = this.#speed === 0 ? instant : this.#speed + weight * (instant - this.#speed);
      this.#lastAt = now;
      this.#lastSent = this.#sent;
    }
    const remaining = this.#total - this.#shown;
    return {
      confirmedBytes,
      inFlightBytes,
      uploadedBytes: this.#shown,
      totalBytes: this.#total,
      fraction: this.#total === 0 ? 1 : this.#shown / this.#total,
      speed: this.#speed,
      etaSeconds: remaining === 0 ? 0 : this.#speed > 0 ? remaining / this.#speed : undefined,
    };
  }
}
