/**
 * Keeps a label's cardinality bounded when its values come from clients (GraphQL operation names): the
 * first `max` distinct values are kept as they are, later ones become `overflow`. Values that are not
 * plain identifiers become `invalid`, so nothing odd reaches the exposition format.
 */
export class BoundedLabelSet {
  private readonly seen = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly overflow = 'other',
    private readonly pattern: RegExp = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/,
    private readonly invalid = 'invalid',
  ) {}

  label(value: string): string {
    if (this.seen.has(value)) return value;
    if (!this.pattern.test(value)) return this.invalid;
    if (this.seen.size >= this.max) return this.overflow;
    this.seen.add(value);
    return value;
  }

  get size(): number {
    return this.seen.size;
  }
}
