import { createHash } from 'node:crypto';
import { ByteQueue } from './byte-queue.js';

/**
 * The POSIX tar format (ustar, with a PAX header for names that do not fit), written and read by hand:
 * a 512-byte header per entry, the data, zeros up to a multiple of 512, and two zero blocks at the end.
 * Only what backups need: regular files. The reader is strict, as it reads files that may come from
 * anywhere: a header whose checksum, magic, size or type is off is refused, not skipped.
 */

export const BLOCK = 512;
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
/** Bytes of a name that fit in the ustar name and prefix fields. */
const NAME_FIELD = 100;
const PREFIX_FIELD = 155;

/** Why a header or entry cannot be read; the caller turns it into its own error with the context. */
export class TarFormatError extends Error {}

/** The bytes of one entry: its header (and a PAX header before it for a long name), the data and the padding. */
export function tarEntry(name: string, data: Uint8Array, mtime: Date): Buffer {
  const fields = splitName(name);
  const parts: Buffer[] = [];
  if (!fields) {
    const pax = paxRecord('path', name);
    parts.push(header({ name: `PaxHeader/${shortHash(name)}`, prefix: '', size: pax.length, mtime, type: 'x' }), pax, padding(pax.length));
  }
  const { name: shortName, prefix } = fields ?? { name: `long/${shortHash(name)}`, prefix: '' };
  parts.push(header({ name: shortName, prefix, size: data.byteLength, mtime, type: '0' }), Buffer.from(data.buffer, data.byteOffset, data.byteLength), padding(data.byteLength));
  return Buffer.concat(parts);
}

/** The ustar name and prefix fields for a name, or null when it needs a PAX header. */
function splitName(name: string): { name: string; prefix: string } | null {
  const bytes = Buffer.byteLength(name);
  if (bytes <= NAME_FIELD) return { name, prefix: '' };
  // The prefix ends at a "/" that is not written: try every one, from the last.
  for (let slash = name.lastIndexOf('/'); slash > 0; slash = name.lastIndexOf('/', slash - 1)) {
    const prefix = name.slice(0, slash);
    const rest = name.slice(slash + 1);
    if (Buffer.byteLength(prefix) <= PREFIX_FIELD && Buffer.byteLength(rest) <= NAME_FIELD && rest) return { name: rest, prefix };
  }
  return null;
}

interface HeaderFields {
  name: string;
  prefix: string;
  size: number;
  mtime: Date;
  type: '0' | 'x';
}

function header(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, NAME_FIELD, 'utf8');
  writeOctal(block, 100, 8, 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, Math.max(0, Math.floor(fields.mtime.getTime() / 1000)));
  block.write(fields.type, 156, 1, 'latin1');
  block.write('ustar\u000000', 257, 8, 'latin1');
  block.write(fields.prefix, 345, PREFIX_FIELD, 'utf8');
  block.fill(' ', 148, 156);
  writeOctal(block, 148, 7, checksumOf(block));
  return block;
}

/** Octal digits, zero-padded, ended by NUL: the field's last byte. */
function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new RangeError(`tar: ${value} does not fit a ${length}-byte field`);
  block.write(`${digits.padStart(length - 1, '0')}\u0000`, offset, length, 'latin1');
}

function checksumOf(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** A PAX record: "<length> <key>=<value>\n", where the length counts itself. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body);
  let length = bodyBytes + 1;
  while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes;
  return Buffer.from(`${length}${body}`);
}

export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** One regular file read from a tar stream. */
export interface TarFile {
  name: string;
  data: Buffer;
}

/**
 * Reads a tar stream pushed in pieces of any size and returns the files completed by each piece.
 * `maxEntryBytes(name)` bounds what is buffered: a header announcing more is refused before its data
 * is read (the backup reader passes the size its manifest gives, so an archive cannot make it hold more).
 * After the end (two zero blocks) only zeros may follow, at most `maxTrailingZeros` of them.
 */
export class TarReader {
  readonly #queue = new ByteQueue();
  #current: { name: string; size: number } | null = null;
  #paxPath: string | null = null;
  #ended = false;
  #trailingZeros = 0;

  constructor(
    private readonly maxEntryBytes: (name: string) => number,
    private readonly maxTrailingZeros = 64 * 1024,
  ) {}

  /**
   * The files the bytes complete, one at a time: the next header is read only when the caller asks for
   * the next file, so what it learns from one file (the manifest) can bound the next. Keeps `data` by
   * reference until read: the caller must not reuse its buffer.
   */
  *push(data: Buffer): Generator<TarFile> {
    if (this.#ended) return this.#afterEnd(data);
    this.#queue.push(data);
    for (;;) {
      const file = this.#next();
      if (file === undefined) return;
      if (file) yield file;
      if (this.#ended) return this.#afterEnd(this.#queue.take(this.#queue.bytes));
    }
  }

  /** Throws unless the stream ended with the end-of-archive blocks. */
  finish(): void {
    if (!this.#ended) throw new TarFormatError(this.#current ? `it is cut short inside the data of ${this.#current.name}` : 'it is cut short: the end-of-archive blocks are missing');
  }

  /** The next file, null for a header that was consumed without a file (PAX, end), undefined when more bytes are needed. */
  #next(): TarFile | null | undefined {
    if (!this.#current) {
      if (this.#queue.bytes < BLOCK) return undefined;
      if (isZeros(this.#queue.peek(BLOCK))) return this.#endBlocks();
      this.#current = this.#readHeader(this.#queue.take(BLOCK));
    }
    const { name, size } = this.#current;
    const pad = padding(size).length;
    if (this.#queue.bytes < size + pad) return undefined;
    const data = Buffer.from(this.#queue.take(size)); // a copy: the pieces it came from may be larger
    if (!isZeros(this.#queue.take(pad))) throw new TarFormatError(`the padding after ${name} is not zeros`);
    this.#current = null;
    if (name === PAX) {
      this.#paxPath = parsePax(data);
      return null;
    }
    return { name, data };
  }

  /** A zero block: the first of the two that end the archive (a lone one is damage). */
  #endBlocks(): null | undefined {
    if (this.#queue.bytes < 2 * BLOCK) return undefined;
    if (!isZeros(this.#queue.take(2 * BLOCK))) throw new TarFormatError('a zero block stands in the middle of the archive');
    if (this.#paxPath !== null) throw new TarFormatError('the archive ends after a PAX header, without the file it describes');
    this.#ended = true;
    return null;
  }

  #readHeader(block: Buffer): { name: string; size: number } {
    const stored = readOctal(block, 148, 8, 'checksum');
    if (stored !== checksumOf(block)) throw new TarFormatError('a header fails its checksum');
    if (block.toString('latin1', 257, 265) !== 'ustar\u000000') throw new TarFormatError('a header is not a POSIX (ustar) header');
    const type = block.toString('latin1', 156, 157);
    const size = readOctal(block, 124, 12, 'size');
    if (type === 'x') {
      if (this.#paxPath !== null) throw new TarFormatError('two PAX headers follow each other');
      if (size > 64 * 1024) throw new TarFormatError(`a PAX header of ${size} bytes`);
      return { name: PAX, size };
    }
    if (type !== '0' && type !== '\u0000') throw new TarFormatError(`an entry of type "${type.replace(/\W/g, '?')}": backups hold regular files only (no links, folders or devices)`);
    const name = this.#paxPath ?? joinName(cString(block, 345, PREFIX_FIELD), cString(block, 0, NAME_FIELD));
    this.#paxPath = null;
    const limit = this.maxEntryBytes(name);
    if (size > limit) throw new TarFormatError(`${JSON.stringify(name)} announces ${size} bytes, more than the ${limit} expected`);
    return { name, size };
  }

  #afterEnd(data: Buffer): void {
    if (!isZeros(data)) throw new TarFormatError('data follows the end of the archive');
    this.#trailingZeros += data.length;
    if (this.#trailingZeros > this.maxTrailingZeros) throw new TarFormatError(`more than ${this.maxTrailingZeros} bytes follow the end of the archive`);
  }
}

/** The name a PAX header is read under: no file name can hold a NUL. */
const PAX = '\u0000pax';

function isZeros(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function joinName(prefix: string, name: string): string {
  return prefix ? `${prefix}/${name}` : name;
}

/** A NUL-terminated (or field-filling) UTF-8 string. */
function cString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.toString('utf8', 0, end === -1 ? length : end);
}

function readOctal(block: Buffer, offset: number, length: number, what: string): number {
  const text = block.toString('latin1', offset, offset + length).replace(/[\u0000 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]{1,11}$/.test(text)) throw new TarFormatError(`a header's ${what} field is not an octal number`);
  return Number.parseInt(text, 8);
}

/** The path of a PAX header: the only key backups use; any other is refused, as this reader would not honour it. */
function parsePax(data: Buffer): string {
  let path: string | null = null;
  for (let at = 0; at < data.length; ) {
    const space = data.indexOf(0x20, at);
    const length = space > at ? Number(data.toString('latin1', at, space)) : Number.NaN;
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length || data[at + length - 1] !== 0x0a) throw new TarFormatError('a PAX header is malformed');
    const record = data.toString('utf8', space + 1, at + length - 1);
    const eq = record.indexOf('=');
    const key = record.slice(0, eq);
    if (eq < 0 || key !== 'path') throw new TarFormatError(`a PAX header sets "${key.replace(/[^\w.]/g, '?').slice(0, 40)}", which backups never use`);
    path = record.slice(eq + 1);
    at += length;
  }
  if (path === null) throw new TarFormatError('a PAX header has no path');
  return path;
}
