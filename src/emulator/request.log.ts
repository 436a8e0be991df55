/** One Maia request as the emulator received it (before faults): what a test needs to see what was sent. */
export interface RecordedRequest {
  route: string;
  method: string;
  /** The path without its query, still URL-encoded. */
  path: string;
  /** Every query parameter, in order, repeated ones as several values. */
  query: Record<string, string[]>;
}

/** The most recent requests, oldest first, so tests can check which parameters reached "Maia". */
export class RequestLog {
  private readonly entries: RecordedRequest[] = [];

  constructor(private readonly capacity = 1_000) {}

  record(route: string, method: string, path: string, query: URLSearchParams | null): void {
    const values: Record<string, string[]> = {};
    for (const [name, value] of query ?? []) (values[name] ??= []).push(value);
    this.entries.push({ route, method, path, query: values });
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  clear(): void {
    this.entries.length = 0;
  }

  view(): { results: RecordedRequest[] } {
    return { results: [...this.entries] };
  }
}
