/** Bytes pushed in pieces, taken out in pieces of other sizes, copying only where a piece straddles two. */
export class ByteQueue {
  #pieces: Buffer[] = [];
  bytes = 0;

  /** Keeps `data` by reference until taken: the caller must not reuse its buffer. */
  push(data: Uint8Array): void {
    if (data.byteLength === 0) return;
    this.#pieces.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    this.bytes += data.byteLength;
  }

  /** The first `count` bytes (at most all there are), left in place. */
  peek(count: number): Buffer {
    const first = this.#pieces[0];
    if (first && first.length >= count) return first.subarray(0, count);
    const out = this.take(count);
    this.#pieces.unshift(out);
    this.bytes += out.length;
    return out;
  }

  /** The first `count` bytes (at most all there are), removed. */
  take(count: number): Buffer {
    count = Math.min(count, this.bytes);
    const first = this.#pieces[0];
    if (first && first.length >= count) {
      this.#pieces[0] = first.subarray(count);
      if (this.#pieces[0].length === 0) this.#pieces.shift();
      this.bytes -= count;
      return first.subarray(0, count);
    }
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const piece = this.#pieces[0]!;
      const used = piece.copy(out, filled, 0, Math.min(piece.length, count - filled));
      filled += used;
      if (used === piece.length) this.#pieces.shift();
      else this.#pieces[0] = piece.subarray(used);
    }
    this.bytes -= count;
    return out;
  }
}
