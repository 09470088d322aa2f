// Frame-rate and latency figures of the page, published on window.videoStats for people and tests.

/** What the page measured; latencies are capture-to-display in milliseconds. */
export interface VideoStats {
  /** Frames drawn per second over the last two seconds. */
  fps: number;
  /** Frames drawn per second since the page opened or since videoStatsReset(). */
  averageFps: number;
  latency: { p50: number; p95: number; p99: number; count: number };
  /** Client time to grab and JPEG-encode a frame (median, ms). */
  encodeMs: number;
  /** Server time per frame from arrival to reply (median of Timings.total_ms). */
  serverMs: number;
  framesSent: number;
  framesDrawn: number;
  /** Camera frames never sent: a newer one replaced them while the frames in flight were at the limit. */
  skipped: number;
  /** Frames the server dropped as stale (StylizedFrame.dropped_total). */
  serverDropped: number;
  /** The model of the last drawn frame, and the session's applied config. */
  model: string;
  configVersion: number;
  sessionId: string;
  error: string;
}

const window2s = 2000;
const keep = 3000;

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** Collects samples and recomputes the published figures. */
export class StatsBook {
  readonly stats: VideoStats = StatsBook.empty();
  private latencies: number[] = [];
  private encodes: number[] = [];
  private server: number[] = [];
  private drawnAt: number[] = [];
  private since = performance.now();

  static empty(): VideoStats {
    return {
      fps: 0, averageFps: 0, latency: { p50: 0, p95: 0, p99: 0, count: 0 }, encodeMs: 0, serverMs: 0,
      framesSent: 0, framesDrawn: 0, skipped: 0, serverDropped: 0, model: "", configVersion: 0, sessionId: "", error: "",
    };
  }

  /** Forgets the samples and counters (e.g. after a warm-up), keeping the session fields. */
  reset(): void {
    this.latencies = []; this.encodes = []; this.server = []; this.drawnAt = [];
    this.since = performance.now();
    Object.assign(this.stats, { fps: 0, averageFps: 0, latency: { p50: 0, p95: 0, p99: 0, count: 0 }, encodeMs: 0, serverMs: 0, framesSent: 0, framesDrawn: 0, skipped: 0 });
  }

  encoded(ms: number): void {
    push(this.encodes, ms);
    this.stats.framesSent++;
  }

  drawn(now: number, latencyMs: number, serverMs: number): void {
    push(this.latencies, latencyMs);
    push(this.server, serverMs);
    this.drawnAt.push(now);
    while (this.drawnAt.length > 0 && now - this.drawnAt[0] > window2s) this.drawnAt.shift();
    this.stats.framesDrawn++;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    this.stats.latency = { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), count: sorted.length };
    const span = this.drawnAt.length > 1 ? now - this.drawnAt[0] : 0;
    this.stats.fps = span > 0 ? ((this.drawnAt.length - 1) * 1000) / span : 0;
    this.stats.averageFps = now > this.since ? (this.stats.framesDrawn * 1000) / (now - this.since) : 0;
    this.stats.encodeMs = median(this.encodes);
    this.stats.serverMs = median(this.server);
  }
}

function push(samples: number[], value: number): void {
  samples.push(value);
  if (samples.length > keep) samples.shift();
}
