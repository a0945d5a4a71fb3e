/** The label value that stands for every value past the cap, and for values that are not plain. */
export const OTHER_LABEL = '_other';

// DAG ids, repository and user names as the project writes them; nothing that needs escaping.
const PLAIN_LABEL = /^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,127}$/;

/**
 * Admits at most `limit` distinct values for one label; later values, and any value that is not a
 * plain name, become `_other`. DAG ids come from pushed repositories and user names from an identity
 * provider: neither may grow the registry (or a scrape) without bound.
 */
export class LabelCap {
  private readonly admitted = new Set<string>();

  constructor(readonly limit: number) {}

  /** The label value to use for `raw`: itself while there is room (or it is already admitted), else `_other`. */
  value(raw: string): string {
    if (this.admitted.has(raw)) return raw;
    if (!PLAIN_LABEL.test(raw) || raw === OTHER_LABEL || this.admitted.size >= this.limit) return OTHER_LABEL;
    this.admitted.add(raw);
    return raw;
  }

  /** Whether `raw` has its own label value (already admitted, or admitted now while there is room). */
  admit(raw: string): boolean {
    return this.value(raw) !== OTHER_LABEL;
  }

  /** Every admitted value. */
  values(): string[] {
    return [...this.admitted];
  }
}
