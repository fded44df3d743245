/**
 * The Python orchestrator ran SQLite in WAL mode: changes committed since the last checkpoint live in
 * "task_orchestrator.db-wal", not in the database file, whenever the server was killed rather than
 * stopped. sql.js reads only the database file, so this folds the WAL's committed frames into a copy
 * of the database image (https://www.sqlite.org/fileformat2.html#the_write_ahead_log). Only frames
 * whose salts and cumulative checksums are valid, up to the last commit, are applied: exactly what
 * SQLite itself would recover. The files on disk are only read.
 */
const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;
const MAGIC_LITTLE_ENDIAN = 0x377f0682;
const MAGIC_BIG_ENDIAN = 0x377f0683;

export interface WalResult {
  image: Uint8Array;
  /** Database pages taken from committed WAL frames; 0 when the WAL was empty, foreign or held nothing committed. */
  pagesApplied: number;
}

export function applyWal(db: Uint8Array, wal: Uint8Array): WalResult {
  const unchanged = { image: db, pagesApplied: 0 };
  if (wal.length < WAL_HEADER_BYTES) return unchanged;
  const view = new DataView(wal.buffer, wal.byteOffset, wal.byteLength);
  const magic = view.getUint32(0);
  if (magic !== MAGIC_LITTLE_ENDIAN && magic !== MAGIC_BIG_ENDIAN) return unchanged;
  const littleEndian = magic === MAGIC_LITTLE_ENDIAN;
  const pageSize = view.getUint32(8);
  let sum = checksum(view, 0, 24, littleEndian, [0, 0]);
  if (sum[0] !== view.getUint32(24) || sum[1] !== view.getUint32(28)) return unchanged;
  const salts = [view.getUint32(16), view.getUint32(20)];
  const committed = new Map<number, number>();
  const pending = new Map<number, number>();
  let dbPages: number | null = null;
  let pages = 0;
  for (let off = WAL_HEADER_BYTES; off + FRAME_HEADER_BYTES + pageSize <= wal.length; off += FRAME_HEADER_BYTES + pageSize) {
    if (view.getUint32(off + 8) !== salts[0] || view.getUint32(off + 12) !== salts[1]) break;
    sum = checksum(view, off, 8, littleEndian, sum);
    sum = checksum(view, off + FRAME_HEADER_BYTES, pageSize, littleEndian, sum);
    if (sum[0] !== view.getUint32(off + 16) || sum[1] !== view.getUint32(off + 20)) break;
    pending.set(view.getUint32(off), off + FRAME_HEADER_BYTES);
    const commitSize = view.getUint32(off + 4);
    if (commitSize === 0) continue;
    for (const [page, dataOffset] of pending) committed.set(page, dataOffset);
    pages += pending.size;
    pending.clear();
    dbPages = commitSize;
  }
  if (dbPages === null) return unchanged;
  return { image: fold(db, wal, committed, dbPages, pageSize), pagesApplied: pages };
}

function fold(db: Uint8Array, wal: Uint8Array, pages: Map<number, number>, dbPages: number, pageSize: number): Uint8Array {
  const image = new Uint8Array(dbPages * pageSize);
  image.set(db.subarray(0, Math.min(db.length, image.length)));
  for (const [page, dataOffset] of pages) {
    if (page >= 1 && page <= dbPages) image.set(wal.subarray(dataOffset, dataOffset + pageSize), (page - 1) * pageSize);
  }
  return image;
}

/** SQLite's WAL checksum: two running 32-bit sums over pairs of words, continued from the previous frame. */
function checksum(view: DataView, offset: number, length: number, littleEndian: boolean, [s0, s1]: number[]): [number, number] {
  let a = s0!;
  let b = s1!;
  for (let i = offset; i < offset + length; i += 8) {
    a = (a + view.getUint32(i, littleEndian) + b) >>> 0;
    b = (b + view.getUint32(i + 4, littleEndian) + a) >>> 0;
  }
  return [a, b];
}
