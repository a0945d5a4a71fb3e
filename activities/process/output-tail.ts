/** Keeps the last `limitBytes` bytes of a stream, so results stay small. */
export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;

  constructor(private readonly limitBytes = 4096) {}

  push(chunk: string | Buffer): void {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (buffer.length === 0) return;
    this.chunks.push(buffer);
    this.size += buffer.length;
    if (this.size > this.limitBytes * 2) this.compact();
  }

  /** The kept text, prefixed with "…" when earlier output was dropped. */
  text(): string {
    this.compact();
    const kept = Buffer.concat(this.chunks);
    if (!this.truncated) return kept.toString('utf8');
    // The cut may have landed inside a multi-byte character: skip its continuation bytes.
    let start = 0;
    while (start < kept.length && ((kept[start] ?? 0) & 0xc0) === 0x80) start += 1;
    return `…${kept.subarray(start).toString('utf8')}`;
  }

  private compact(): void {
    if (this.size <= this.limitBytes) return;
    const all = Buffer.concat(this.chunks);
    this.chunks = [all.subarray(all.length - this.limitBytes)];
    this.size = this.limitBytes;
    this.truncated = true;
  }
}
