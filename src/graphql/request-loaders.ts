import DataLoader from 'dataloader';

/** The options of most operations, shared (one object per request was garbage). */
export const CACHED: Readonly<{ cache: boolean }> = Object.freeze({ cache: true });
/** The options of subscription operations (see the constructor). */
export const UNCACHED: Readonly<{ cache: boolean }> = Object.freeze({ cache: false });

/**
 * The per-request (per-operation) home of DataLoaders. Maia has no batch endpoints, so a loader here
 * coalesces and de-duplicates: within one GraphQL operation every distinct key is loaded once, however many
 * fields ask for it. Resolvers ask for a loader by name and give the per-key load function of their service.
 */
export class RequestLoaders {
  /** Made on the first loader asked for: a read that uses none (the lookup `projects`) allocates no map. */
  private loaderMap: Map<string, DataLoader<unknown, unknown, string>> | undefined;

  /** `cache: false` for long-lived subscription operations: batch only, never remember. */
  constructor(private readonly options: { cache: boolean } = CACHED) {}

  private get loaders(): Map<string, DataLoader<unknown, unknown, string>> {
    return (this.loaderMap ??= new Map());
  }

  get<K, V>(
    name: string,
    load: (key: K) => Promise<V>,
    cacheKey: (key: K) => string = String,
  ): DataLoader<K, V, string> {
    let loader = this.loaders.get(name) as DataLoader<K, V, string> | undefined;
    if (!loader) {
      loader = new DataLoader<K, V, string>(
        (keys) => Promise.all(keys.map((key) => load(key).catch((error: unknown) => asError(error)))),
        { cache: this.options.cache, cacheKeyFn: cacheKey },
      );
      this.loaders.set(name, loader);
    }
    return loader;
  }

  /**
   * A loader whose keys of one tick reach `loadMany` together, for loads where one upstream call can serve
   * several keys (e.g. one list of an environment's runs for the last run of each of its pipelines).
   * `loadMany` answers one value or Error per key, in the keys' order.
   */
  batch<K, V>(
    name: string,
    loadMany: (keys: readonly K[]) => Promise<(V | Error)[]>,
    cacheKey: (key: K) => string = String,
  ): DataLoader<K, V, string> {
    let loader = this.loaders.get(name) as DataLoader<K, V, string> | undefined;
    if (!loader) {
      loader = new DataLoader<K, V, string>(
        (keys) => loadMany(keys).catch((error: unknown) => keys.map(() => asError(error))),
        { cache: this.options.cache, cacheKeyFn: cacheKey },
      );
      this.loaders.set(name, loader);
    }
    return loader;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
