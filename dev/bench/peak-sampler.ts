/**
 * Samples this process's memory every `intervalMs` (default 100 ms) and keeps the peaks of the current phase, plus
 * the kernel's own high-water mark (`VmHWM` in /proc/self/status) for the whole process lifetime.
 */
import fs from 'node:fs';

export interface PeakFigures {
  rssMb: number;
  heapUsedMb: number;
  /** V8 heap reserved (used + free). */
  heapTotalMb: number;
  /** Memory of ArrayBuffers and Buffers (outside the JS heap: I/O buffers). */
  arrayBuffersMb: number;
  samples: number;
}

const MB = 1024 * 1024;
const round1 = (n: number): number => Math.round(n * 10) / 10;

export class PeakSampler {
  private timer: NodeJS.Timeout | undefined;
  private rss = 0;
  private heap = 0;
  private heapTotal = 0;
  private arrayBuffers = 0;
  private samples = 0;

  constructor(private readonly intervalMs = 100) {}

  /** Starts a new phase (forgets the previous peaks). */
  start(): void {
    this.stop();
    this.rss = 0;
    this.heap = 0;
    this.heapTotal = 0;
    this.arrayBuffers = 0;
    this.samples = 0;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Ends the phase and returns its peaks. */
  stop(): PeakFigures {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.sample();
    }
    return {
      rssMb: round1(this.rss / MB),
      heapUsedMb: round1(this.heap / MB),
      heapTotalMb: round1(this.heapTotal / MB),
      arrayBuffersMb: round1(this.arrayBuffers / MB),
      samples: this.samples,
    };
  }

  private sample(): void {
    // rss() alone is cheap; the full memoryUsage() (heap figures) only every 10th sample.
    this.rss = Math.max(this.rss, process.memoryUsage.rss());
    if (this.samples % 10 === 0) {
      const usage = process.memoryUsage();
      this.heap = Math.max(this.heap, usage.heapUsed);
      this.heapTotal = Math.max(this.heapTotal, usage.heapTotal);
      this.arrayBuffers = Math.max(this.arrayBuffers, usage.arrayBuffers);
    }
    this.samples++;
  }
}

/** The kernel's peak resident set size of a process (VmHWM), in MB; undefined where /proc is not available. */
export function kernelPeakRssMb(pid: number | 'self' = 'self'): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? round1(Number(match[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat; undefined without /proc. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    const ticksPerSecond = 100; // USER_HZ on Linux
    return ((utime + stime) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/** Busy CPU time of the whole machine so far (ms, all cores), from /proc/stat; undefined without /proc. */
export function machineBusyCpuMs(): number | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
    return Number.isFinite(busy) ? (busy * 1000) / 100 : undefined;
  } catch {
    return undefined;
  }
}
