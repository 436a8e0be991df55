/** One request of a load run: when it started and ended, and how it ended. */
export interface LoadRecord {
  startedAtMs: number;
  endedAtMs: number;
  /** HTTP status, or 0 when there was no answer (connection error, or no answer within the bound). */
  status: number;
  ok: boolean;
  /** Set when there was no answer. */
  error?: string;
  /** True when the per-request bound elapsed without an answer. */
  hung: boolean;
}

export interface LoadOptions {
  /** Requests in flight at any time. */
  concurrency: number;
  /** A request still unanswered after this long is aborted and recorded as hung. */
  boundMs: number;
  /** Sends one request (honouring `signal`) and returns the status and whether the answer was right. */
  send: (signal: AbortSignal, index: number) => Promise<{ status: number; ok: boolean }>;
}

/**
 * Steady closed-loop load: `concurrency` workers, each sending its next request as soon as the previous
 * one ended. Every request is bounded, so a hung one shows up as such instead of stalling the test.
 */
export class SteadyLoad {
  readonly records: LoadRecord[] = [];
  private running = true;
  private readonly workers: Promise<void>[] = [];
  private sent = 0;

  constructor(private readonly options: LoadOptions) {
    for (let i = 0; i < options.concurrency; i += 1) this.workers.push(this.worker());
  }

  private async worker(): Promise<void> {
    while (this.running) {
      const index = this.sent++;
      const startedAtMs = Date.now();
      const signal = AbortSignal.timeout(this.options.boundMs);
      try {
        const { status, ok } = await this.options.send(signal, index);
        this.records.push({ startedAtMs, endedAtMs: Date.now(), status, ok, hung: false });
      } catch (error) {
        const hung = signal.aborted;
        this.records.push({
          startedAtMs,
          endedAtMs: Date.now(),
          status: 0,
          ok: false,
          hung,
          error: hung ? 'no answer within the bound' : describe(error),
        });
      }
    }
  }

  /** Stops sending and waits for the requests in flight. */
  async stop(): Promise<LoadRecord[]> {
    this.running = false;
    await Promise.all(this.workers);
    return this.records;
  }

  between(fromMs: number, toMs: number): LoadRecord[] {
    return this.records.filter((r) => r.startedAtMs >= fromMs && r.startedAtMs < toMs);
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}
