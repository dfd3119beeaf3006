/**
 * One table's COPY rows dealt out to several COPY streams, so one large table loads on more
 * than one connection (pg-staged-load.ts). The rows are cut into chunks of whole rows, and each
 * stream takes the next chunk when its COPY asks for more: a stream whose connection is busy
 * elsewhere takes nothing, and the others take everything. Every stream is a complete COPY
 * stream of its own: in binary format each starts with the source's header and ends with the
 * trailer; in text format rows end at a raw newline (COPY escapes those inside values).
 *
 * Memory stays bounded by the chunk size and the row-size limit: a row that outgrows the limit
 * (a bytea or text value of many megabytes) is not held whole. The stream that asked for it then
 * takes the rest of the rows as they come, in pieces, and the other streams end.
 */
import { Readable } from 'node:stream';
import { scanWholeRows, SIGNATURE } from './pg-copy-binary';

const TRAILER = Buffer.from([0xff, 0xff]);

export class RowDealer {
  private readonly source: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);
  private header: Buffer | null = null;
  private sourceDone = false;
  private finished = false;
  /** Chunks are handed out one at a time: two streams asking at once queue here. */
  private turn: Promise<unknown> = Promise.resolve();
  private streams = 0;
  /** The stream that takes everything left, once a row outgrew maxRowBytes. */
  private owner: number | null = null;

  constructor(
    source: Readable,
    private readonly binary: boolean,
    private readonly chunkBytes = 1024 * 1024,
    private readonly maxRowBytes = 16 * 1024 * 1024,
  ) {
    this.source = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** Whether every row has been handed out. */
  get exhausted(): boolean {
    return this.finished;
  }

  /** A COPY stream of its own that takes chunks from the shared rows as it is read. */
  share(): Readable {
    return Readable.from(this.chunks(this.streams++), { objectMode: false });
  }

  private async *chunks(id: number): AsyncGenerator<Buffer> {
    const first = await this.next(id);
    if (this.binary) yield this.header ?? Buffer.alloc(0);
    for (let c = first; c; c = await this.next(id)) yield c;
    if (this.binary && this.header) yield TRAILER;
  }

  private next(id: number): Promise<Buffer | null> {
    const mine = this.turn.then(() => (this.owner === null ? this.take(id) : this.passOn(id)));
    this.turn = mine.catch(() => undefined);
    return mine;
  }

  /** The next chunk of whole rows, or null when there are none left. */
  private async take(id: number): Promise<Buffer | null> {
    for (;;) {
      if (this.finished) return null;
      if (this.binary && !this.header) this.readHeader();
      const cut = this.header || !this.binary ? this.wholeRowsEnd() : 0;
      // Past the limit, the whole rows go now and a row that is still not whole goes in pieces.
      const over = this.pending.length > this.maxRowBytes;
      if (cut > 0 && (cut >= this.chunkBytes || this.sourceDone || this.finished || over)) {
        const chunk = this.pending.subarray(0, cut);
        this.pending = this.pending.subarray(cut);
        return chunk;
      }
      if (over && (this.header || !this.binary)) {
        this.owner = id;
        return this.passOn(id);
      }
      if (this.sourceDone) {
        if (this.pending.length && !this.finished) throw new Error('COPY rows end in the middle of a row');
        this.finished = true;
        return null;
      }
      const r = await this.source.next();
      if (r.done) this.sourceDone = true;
      else this.pending = this.pending.length ? Buffer.concat([this.pending, r.value]) : r.value;
    }
  }

  /**
   * After a row outgrew the limit: the owner takes the bytes as they come, whole rows or not,
   * except a binary stream's trailer (it writes its own); every other stream ends.
   */
  private async passOn(id: number): Promise<Buffer | null> {
    if (id !== this.owner || this.finished) return null;
    const keep = this.binary ? TRAILER.length : 0;
    while (this.pending.length <= keep && !this.sourceDone) {
      const r = await this.source.next();
      if (r.done) this.sourceDone = true;
      else this.pending = this.pending.length ? Buffer.concat([this.pending, r.value]) : r.value;
    }
    if (this.sourceDone) {
      this.finished = true;
      if (this.binary && !this.pending.subarray(-keep).equals(TRAILER))
        throw new Error('COPY rows end without the binary trailer');
      const rest = this.pending.subarray(0, this.pending.length - keep);
      this.pending = Buffer.alloc(0);
      return rest.length ? rest : null;
    }
    const out = this.pending.subarray(0, this.pending.length - keep);
    this.pending = this.pending.subarray(this.pending.length - keep);
    return out;
  }

  private readHeader(): void {
    if (this.pending.length < SIGNATURE.length + 8) return;
    if (!this.pending.subarray(0, SIGNATURE.length).equals(SIGNATURE))
      throw new Error('not a binary COPY stream (bad signature)');
    const length = SIGNATURE.length + 8 + this.pending.readUInt32BE(SIGNATURE.length + 4);
    if (this.pending.length < length) return;
    this.header = Buffer.from(this.pending.subarray(0, length));
    this.pending = this.pending.subarray(length);
  }

  /**
   * Where the whole rows at the start of `pending` end (0: not one whole row yet). Meeting the
   * binary trailer marks the rows finished and drops it: each stream writes its own.
   */
  private wholeRowsEnd(): number {
    if (!this.binary) return this.pending.lastIndexOf(0x0a) + 1;
    const scan = scanWholeRows(this.pending, 0);
    if (scan.trailer) {
      this.finished = true;
      this.pending = this.pending.subarray(0, scan.end);
    }
    return scan.end;
  }
}
