/**
 * A progress bar for long runs, on stderr only. stdout belongs to results (the CLI's summary lines,
 * JSON a script pipes on), so this writer refuses stdout outright.
 *
 * On a TTY it redraws one line in place (`\r`, erase to end of line), at most every `intervalMs`. On
 * anything else (a file, a pipe, CI logs) carriage returns would pile up as garbage, so it prints a
 * plain line only when another tenth of the work is done, and at the end.
 * @module
 */
import { assertIntegerIn, kind } from '../dp/checks.ts';

/** The part of a stream this writer uses (process.stderr, or a fake in tests). */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly fd?: number;
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Units of work in all, ≥ 1. */
  readonly total: number;
  /** Shown before the bar. */
  readonly label?: string;
  /** Where to write (process.stderr). Never stdout. */
  readonly stream?: ProgressStream;
  /** The clock, in milliseconds (performance.now). */
  readonly now?: () => number;
  /** Fewest milliseconds between two redraws on a TTY (100). */
  readonly intervalMs?: number;
}

/**
 * A progress writer. Call {@link Progress.tick} as work completes and {@link Progress.finish} once.
 * @example
 * ```ts
 * const bar = new Progress({ total: rounds, label: 'FedAvg' });
 * for (...) { ...; bar.tick(1, `acc ${acc.toFixed(3)}`); }
 * bar.finish();
 * ```
 */
export class Progress {
  readonly #total: number;
  readonly #label: string;
  readonly #stream: ProgressStream;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #tty: boolean;
  #done = 0;
  #lastDraw = Number.NEGATIVE_INFINITY;
  #lastTenth = 0;
  #finished = false;

  /** @throws TypeError if `stream` is stdout; RangeError for a bad total */
  constructor(options: ProgressOptions) {
    this.#total = assertIntegerIn('total', options.total, 1, Number.MAX_SAFE_INTEGER);
    this.#label = options.label ?? '';
    this.#stream = options.stream ?? process.stderr;
    if (this.#stream === process.stdout || this.#stream.fd === 1) {
      throw new TypeError('progress must not be written to stdout: pass process.stderr or another stream');
    }
    if (typeof this.#stream.write !== 'function') {
      throw new TypeError(`stream must have a write method, got ${kind(this.#stream)}`);
    }
    this.#now = options.now ?? (() => performance.now());
    this.#interval = options.intervalMs ?? 100;
    this.#tty = this.#stream.isTTY === true;
  }

  /** Records `n` more units done, with an optional short note (e.g. the latest accuracy). */
  tick(n = 1, note = ''): void {
    this.update(this.#done + n, note);
  }

  /** Sets the units done (capped at the total). */
  update(done: number, note = ''): void {
    if (this.#finished) return;
    this.#done = Math.max(0, Math.min(this.#total, done));
    if (this.#tty) {
      const now = this.#now();
      if (now - this.#lastDraw < this.#interval && this.#done < this.#total) return;
      this.#lastDraw = now;
      this.#stream.write(`\r${this.#line(note, true)}\x1b[K`);
    } else {
      const tenth = Math.floor((10 * this.#done) / this.#total);
      if (tenth > this.#lastTenth && this.#done < this.#total) {
        this.#lastTenth = tenth;
        this.#stream.write(`${this.#line(note, false)}\n`);
      }
    }
  }

  /**
   * Erases the bar from a terminal line so that other output (e.g. a table row on stdout) starts at
   * a clean line; the next update draws it again.
   */
  clear(): void {
    if (!this.#tty || this.#finished) return;
    this.#stream.write('\r\x1b[K');
    this.#lastDraw = Number.NEGATIVE_INFINITY;
  }

  /** Draws the final state and ends the line. Later calls do nothing. */
  finish(note = ''): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#stream.write(this.#tty ? `\r${this.#line(note, true)}\x1b[K\n` : `${this.#line(note, false)}\n`);
  }

  #line(note: string, bar: boolean): string {
    const pct = Math.floor((100 * this.#done) / this.#total);
    const count = `${this.#done}/${this.#total}`;
    const prefix = this.#label === '' ? '' : `${this.#label} `;
    const suffix = note === '' ? '' : ` ${note}`;
    if (!bar) return `${prefix}${count} (${pct}%)${suffix}`;
    const width = Math.max(
      10,
      Math.min(40, (this.#stream.columns ?? 80) - prefix.length - count.length - suffix.length - 12),
    );
    const filled = Math.round((width * this.#done) / this.#total);
    return `${prefix}[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${count}${suffix}`;
  }
}
