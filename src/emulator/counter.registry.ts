/** Counts every answered Maia request by route and status, so tests can count upstream calls exactly. */
export interface CountersView {
  total: number;
  routes: Record<string, { total: number; byStatus: Record<string, number> }>;
}

export class CounterRegistry {
  private total = 0;
  private readonly routes = new Map<string, { total: number; byStatus: Map<string, number> }>();

  /** `outcome` is the HTTP status, or "dropped" when the socket was destroyed instead of answering. */
  record(route: string, outcome: number | 'dropped'): void {
    this.total++;
    let entry = this.routes.get(route);
    if (!entry) {
      entry = { total: 0, byStatus: new Map() };
      this.routes.set(route, entry);
    }
    entry.total++;
    const key = String(outcome);
    entry.byStatus.set(key, (entry.byStatus.get(key) ?? 0) + 1);
  }

  clear(): void {
    this.total = 0;
    this.routes.clear();
  }

  view(): CountersView {
    const routes: CountersView['routes'] = {};
    for (const [name, entry] of this.routes) {
      routes[name] = { total: entry.total, byStatus: Object.fromEntries(entry.byStatus) };
    }
    return { total: this.total, routes };
  }
}
