import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { BACKUP_FORMAT, BACKUP_FORMAT_VERSION, checkManifest, countsOf, entryKindOf, MANIFEST_NAME, type BackupManifest, type EntryKind, type ManifestEntry } from '../domain/backup-manifest.js';
import { OrchestratorError, unwrap } from '../domain/errors.js';
import { isCode, moveFileNoReplace, tempPathFor } from '../store/file/durable-fs.js';
import { VERSION } from '../version.js';
import { EncryptionKey, NO_KEYS, type Keyring } from './encryption.js';
import { ChunkDecryptor, ChunkEncryptor, ENCRYPTED_MAGIC } from './stream-cipher.js';
import { END_OF_ARCHIVE, TarFormatError, TarReader, tarEntry, type TarFile } from './tar.js';

/**
 * Backup archives: one portable file holding a whole task state (domain/backup-manifest.ts says what is
 * inside). Without a key it is a gzip'd POSIX tar that `tar -xzf` opens; with one, that same gzip
 * stream encrypted by stream-cipher.ts (a flipped byte anywhere fails authentication).
 *
 * The gzip stream is one member with a fixed header (no time, no OS byte), so a reader can check every
 * byte gzip's own CRC does not cover, and a member appended later is noticed (its size field would not
 * match what was read).
 *
 * Writing streams: entries are added one at a time and only their names, sizes and hashes stay in memory.
 * As the manifest comes first but is known last, the entries go to a spool file beside the target,
 * encrypted with a key that lives only in this process (so a crash leaves nothing readable behind), and
 * the archive is written from it once the manifest is known: a temp file in the target's folder, fsync,
 * then linked into place (never replacing a file) and the folder synced.
 *
 * Reading verifies before it hands anything on: openBackup reads the whole archive once (gzip, tar
 * structure, manifest, every size and SHA-256, names, nothing missing or extra), and entries() reads it
 * again, checking everything again as it goes.
 */

/** Largest entry accepted: a parent of 200 subtasks with long results, or a detailed-work document, fits many times over. */
export const MAX_ENTRY_BYTES = 64 * 1024 * 1024;
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
const ARCHIVE_LABEL = 'task-orchestrator backup archive v1';
const SPOOL_LABEL = 'task-orchestrator backup spool v1';
/** gzip, deflate, no flags, no time, no extra flags, OS unknown: the same bytes on every platform. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
const READ_CHUNK = 1024 * 1024;

export interface BackupSource {
  /** The kind of store: "file", "postgres". */
  store: string;
  /** For people: the folder or database it was taken from. */
  description: string;
}

export interface BackupWriterOptions {
  /** The archive to create. Its folder must exist; a file already there is never replaced. */
  file: string;
  source: BackupSource;
  /** Encrypts the archive; absent or null: a plain .tar.gz. */
  key?: EncryptionKey | null;
  /** The time of the snapshot (default: now). */
  createdAt?: Date;
}

export interface BackupResult {
  file: string;
  manifest: BackupManifest;
  /** Size of the archive file. */
  bytes: number;
}

/** Writes one archive: create(), add() each entry (one call at a time), then finish(), or abort() to leave nothing behind. */
export class BackupWriter {
  readonly #options: BackupWriterOptions;
  readonly #createdAt: Date;
  readonly #spoolFile: string;
  readonly #spoolKey = EncryptionKey.generate('backup spool').key;
  readonly #spool: ChunkEncryptor;
  #handle: FileHandle | null;
  readonly #entries: ManifestEntry[] = [];
  readonly #names = new Set<string>();
  #state: 'open' | 'busy' | 'done' = 'open';

  private constructor(options: BackupWriterOptions, spoolFile: string, handle: FileHandle) {
    this.#options = options;
    this.#createdAt = options.createdAt ?? new Date();
    this.#spoolFile = spoolFile;
    this.#handle = handle;
    this.#spool = new ChunkEncryptor(this.#spoolKey, SPOOL_LABEL);
  }

  static async create(options: BackupWriterOptions): Promise<BackupWriter> {
    await refuseExisting(options.file);
    const spoolFile = tempPathFor(options.file);
    const handle = await open(spoolFile, 'wx', 0o600);
    const writer = new BackupWriter(options, spoolFile, handle);
    await writer.#step(() => writeAll(handle, writer.#spool.header));
    return writer;
  }

  /** Adds one entry (see domain/backup-manifest.ts for the names). Refused: a bad or repeated name, an entry too large. */
  async add(name: string, data: string | Uint8Array): Promise<void> {
    const kind = entryKindOf(name);
    if (!kind.ok) throw new OrchestratorError('INVALID_INPUT', `cannot add to a backup: ${kind.message}`);
    if (this.#names.has(name)) throw new OrchestratorError('INVALID_INPUT', `cannot add to a backup: ${name} is already in it`);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes.byteLength > MAX_ENTRY_BYTES) throw new OrchestratorError('INVALID_INPUT', `cannot add to a backup: ${name} has ${bytes.byteLength} bytes, more than ${MAX_ENTRY_BYTES}`);
    await this.#step(async () => {
      this.#names.add(name);
      this.#entries.push({ name, size: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') });
      await this.#toSpool(tarEntry(name, bytes, this.#createdAt));
    });
  }

  /** Writes the archive durably and returns its manifest. Nothing is left but the archive, whatever happens. */
  async finish(): Promise<BackupResult> {
    return this.#step(async () => {
      await this.#toSpool(END_OF_ARCHIVE);
      await writeAll(this.#handle!, this.#spool.finish());
      await this.#closeSpool();
      const manifest = this.#manifest();
      const bytes = await this.#writeArchive(manifest);
      await unlink(this.#spoolFile);
      this.#state = 'done';
      return { file: this.#options.file, manifest, bytes };
    });
  }

  /** Stops and removes the spool; the target is left as it was. */
  async abort(): Promise<void> {
    if (this.#state === 'done') return;
    this.#state = 'done';
    await this.#closeSpool().catch(() => {});
    await unlink(this.#spoolFile).catch(() => {});
  }

  /** Runs one step; calls must not overlap, and a failed step aborts the whole backup. */
  async #step<T>(work: () => Promise<T>): Promise<T> {
    if (this.#state !== 'open') throw new Error(this.#state === 'busy' ? 'BackupWriter: wait for each call to end before the next' : 'BackupWriter: already finished or aborted');
    this.#state = 'busy';
    try {
      const result = await work();
      if (this.#state === 'busy') this.#state = 'open';
      return result;
    } catch (error) {
      this.#state = 'open';
      await this.abort();
      throw error;
    }
  }

  async #toSpool(bytes: Buffer): Promise<void> {
    const sealed = this.#spool.push(bytes);
    if (sealed.length) await writeAll(this.#handle!, sealed.length === 1 ? sealed[0]! : Buffer.concat(sealed));
  }

  async #closeSpool(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    await handle?.close();
  }

  #manifest(): BackupManifest {
    return {
      format: BACKUP_FORMAT,
      format_version: BACKUP_FORMAT_VERSION,
      created_at: this.#createdAt.toISOString(),
      generator: `task-orchestrator ${VERSION}`,
      source: { store: this.#options.source.store, description: this.#options.source.description },
      counts: countsOf(this.#entries.map((e) => e.name)),
      entries: this.#entries,
    };
  }

  /** The archive from the manifest and the spool: temp file, fsync, linked into place, folder synced. */
  async #writeArchive(manifest: BackupManifest): Promise<number> {
    const temp = tempPathFor(this.#options.file);
    const out = await open(temp, 'wx', 0o600);
    let placed = false;
    try {
      const written = await this.#writeArchiveTo(out, manifest);
      await out.sync();
      await out.close();
      await moveFileNoReplace(temp, this.#options.file).catch((error: unknown) => {
        throw isCode(error, 'EEXIST') ? existsError(this.#options.file) : error;
      });
      placed = true;
      return written;
    } finally {
      if (!placed) {
        await out.close().catch(() => {});
        await unlink(temp).catch(() => {});
      }
    }
  }

  async #writeArchiveTo(out: FileHandle, manifest: BackupManifest): Promise<number> {
    const sealer = this.#options.key ? new ChunkEncryptor(this.#options.key, ARCHIVE_LABEL) : null;
    let written = 0;
    const write = async (bytes: Buffer) => {
      const pieces = sealer ? sealer.push(bytes) : [bytes];
      for (const piece of pieces) written += await writeAll(out, piece);
    };
    if (sealer) written += await writeAll(out, sealer.header);
    const header = new GzipHeaderFixer();
    await pipeline(Readable.from(this.#tarStream(manifest)), createGzip({ level: 6 }), async (gzip: AsyncIterable<Buffer>) => {
      for await (const chunk of gzip) await write(header.fix(chunk));
    });
    if (sealer) written += await writeAll(out, sealer.finish());
    return written;
  }

  /** The tar stream: the manifest, then the spooled entries and the end blocks, decrypted. */
  async *#tarStream(manifest: BackupManifest): AsyncGenerator<Buffer> {
    yield tarEntry(MANIFEST_NAME, Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`), this.#createdAt);
    const opener = new ChunkDecryptor({ current: this.#spoolKey, previous: [] }, SPOOL_LABEL, 'the backup spool');
    for await (const chunk of createReadStream(this.#spoolFile, { highWaterMark: READ_CHUNK })) yield* opener.push(chunk as Buffer);
    yield opener.finish();
  }
}

/** Writes a whole archive from `entries` (any iterable, read one at a time). */
export async function writeBackup(options: BackupWriterOptions, entries: AsyncIterable<{ name: string; data: string | Uint8Array }> | Iterable<{ name: string; data: string | Uint8Array }>): Promise<BackupResult> {
  const writer = await BackupWriter.create(options);
  try {
    for await (const entry of entries) await writer.add(entry.name, entry.data);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return writer.finish();
}

/** Replaces the time, extra-flags and OS bytes zlib writes in the gzip header by the fixed ones. */
class GzipHeaderFixer {
  #seen = 0;

  fix(chunk: Buffer): Buffer {
    if (this.#seen >= GZIP_HEADER.length) return chunk;
    const fixed = Buffer.from(chunk);
    for (let i = 0; i < fixed.length && this.#seen < GZIP_HEADER.length; i++, this.#seen++) fixed[i] = GZIP_HEADER[this.#seen]!;
    return fixed;
  }
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<number> {
  for (let done = 0; done < bytes.length; ) done += (await handle.write(bytes, done, bytes.length - done)).bytesWritten;
  return bytes.length;
}

async function refuseExisting(file: string): Promise<void> {
  if (await stat(file).then(() => true, () => false)) throw existsError(file);
}

function existsError(file: string): OrchestratorError {
  return new OrchestratorError('INVALID_INPUT', `${file} already exists, and a backup never replaces a file. Choose another name, or remove it first.`, { file });
}

/** One entry of a verified archive. */
export interface BackupEntry {
  name: string;
  kind: EntryKind;
  data: Buffer;
}

export interface VerifiedBackup {
  file: string;
  manifest: BackupManifest;
  /** The key the archive is encrypted with, null for a plain one. */
  keyId: string | null;
  /** The entries in manifest order, each checked again as it is read; throws BACKUP_INVALID if the file changed since. */
  entries(): AsyncGenerator<BackupEntry>;
}

/**
 * Verifies a whole archive, then offers its entries. Refused with BACKUP_INVALID: not one of ours,
 * damaged, cut short or extended, a manifest missing or not matching the entries, a name that could point
 * outside the restore (absolute, ".."); UNSUPPORTED_VERSION for a newer format; ENCRYPTION_KEY_REQUIRED or
 * ENCRYPTION_KEY_MISMATCH for an encrypted archive without its key.
 */
export async function openBackup(file: string, keyring: Keyring = NO_KEYS): Promise<VerifiedBackup> {
  const scan: ScanResult = {};
  for await (const _entry of scanEntries(file, keyring, scan)) {
    // verification only: each entry is checked as it is read, and dropped
  }
  const manifest = scan.manifest!;
  return { file, manifest, keyId: scan.keyId ?? null, entries: () => scanEntries(file, keyring, {}, manifest) };
}

/** Verifies a whole archive (see openBackup) and returns its manifest. */
export async function verifyBackup(file: string, keyring: Keyring = NO_KEYS): Promise<BackupManifest> {
  return (await openBackup(file, keyring)).manifest;
}

interface ScanResult {
  manifest?: BackupManifest;
  keyId?: string | null;
}

/**
 * One pass over an archive, with every check, yielding each entry once its own checks passed; `result`
 * gets the manifest once the whole archive passed. With `expected`, the manifest must be that one (the
 * second pass: the file must not have changed since it was verified).
 */
async function* scanEntries(file: string, keyring: Keyring, result: ScanResult, expected?: BackupManifest): AsyncGenerator<BackupEntry> {
  const reading = new ArchiveBytes(file, keyring);
  const check = new EntryChecker(expected);
  const tar = new TarReader((name) => check.allowedSize(name));
  const gunzip = createGunzip();
  const feeding = pipeline(Readable.from(reading.gzipBytes()), gunzip);
  feeding.catch(() => {}); // its error is the one the loop below throws
  let total = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      total += chunk.length;
      for (const found of tar.push(chunk)) {
        const entry = check.file(found);
        if (entry) yield entry;
      }
    }
    tar.finish();
    reading.checkSize(total);
    result.manifest = check.complete();
    result.keyId = reading.keyId;
  } catch (error) {
    throw refusal(file, error);
  }
}

/** The archive's gzip bytes, decrypted when it is encrypted, with the checks on the gzip framing. */
class ArchiveBytes {
  keyId: string | null = null;
  #trailer = Buffer.alloc(0);

  constructor(
    private readonly file: string,
    private readonly keyring: Keyring,
  ) {}

  async *gzipBytes(): AsyncGenerator<Buffer> {
    let opener: ChunkDecryptor | null | undefined;
    let first = true;
    for await (const raw of createReadStream(this.file, { highWaterMark: READ_CHUNK })) {
      const chunk = raw as Buffer;
      if (opener === undefined) opener = ENCRYPTED_MAGIC.equals(chunk.subarray(0, ENCRYPTED_MAGIC.length)) ? new ChunkDecryptor(this.keyring, ARCHIVE_LABEL, `the backup ${this.file}`) : null;
      const plain = opener ? opener.push(chunk) : [chunk];
      if (opener && this.keyId === null) this.keyId = opener.keyId;
      for (const piece of plain) {
        if (first && piece.length) {
          this.#checkHeader(piece);
          first = false;
        }
        this.#keepTrailer(piece);
        yield piece;
      }
    }
    if (opener === undefined) throw new TarFormatError('it is empty');
    if (opener) {
      const last = opener.finish();
      this.#keepTrailer(last);
      yield last;
    }
  }

  /** gzip's last 4 bytes give the size of what the member held: a member appended later would not match the total. */
  checkSize(total: number): void {
    if (this.#trailer.length < 8 || this.#trailer.readUInt32LE(4) !== total % 2 ** 32) throw new TarFormatError('its compressed stream is not a single gzip member (bytes were appended?)');
  }

  #checkHeader(piece: Buffer): void {
    if (piece[0] !== 0x1f || piece[1] !== 0x8b) throw new TarFormatError('it is neither a gzip file nor an encrypted backup: not a backup of task-orchestrator');
    if (piece.length < GZIP_HEADER.length || !piece.subarray(0, GZIP_HEADER.length).equals(GZIP_HEADER)) throw new TarFormatError('its gzip header is not the one task-orchestrator writes (changed, or another program made it)');
  }

  #keepTrailer(piece: Buffer): void {
    this.#trailer = piece.length >= 8 ? Buffer.from(piece.subarray(piece.length - 8)) : Buffer.concat([this.#trailer, piece]).subarray(-8);
  }
}

/** Compares what the tar stream holds with the manifest, entry by entry. */
class EntryChecker {
  #manifest: BackupManifest | null = null;
  #index = 0;

  constructor(private readonly expected?: BackupManifest) {}

  /** The size an entry with this name may have: the manifest first, then each listed entry in order. */
  allowedSize(name: string): number {
    if (!this.#manifest) {
      if (name !== MANIFEST_NAME) throw new TarFormatError(`its first entry is ${JSON.stringify(name.slice(0, 200))}, not ${MANIFEST_NAME}: the manifest is missing`);
      return MAX_MANIFEST_BYTES;
    }
    const listed = this.#manifest.entries[this.#index];
    const shown = JSON.stringify(name.slice(0, 200));
    if (!listed) throw new TarFormatError(`it holds ${shown}, which its manifest does not list`);
    if (listed.name !== name) throw new TarFormatError(`it holds ${shown} where its manifest lists ${JSON.stringify(listed.name)} (an entry missing, added or out of order)`);
    return listed.size;
  }

  file(found: TarFile): BackupEntry | null {
    if (!this.#manifest) {
      this.#manifest = this.#readManifest(found.data);
      return null;
    }
    const listed = this.#manifest.entries[this.#index++]!;
    if (found.data.length !== listed.size) throw new TarFormatError(`${listed.name} has ${found.data.length} bytes, its manifest says ${listed.size}`);
    if (createHash('sha256').update(found.data).digest('hex') !== listed.sha256) throw new TarFormatError(`${listed.name} does not match its SHA-256 in the manifest`);
    return { name: listed.name, kind: unwrap(entryKindOf(listed.name)), data: found.data };
  }

  complete(): BackupManifest {
    if (!this.#manifest) throw new TarFormatError('it holds no manifest');
    const missing = this.#manifest.entries[this.#index];
    if (missing) throw new TarFormatError(`${missing.name}, listed in its manifest, is missing (and ${this.#manifest.entries.length - this.#index - 1} after it)`);
    return this.#manifest;
  }

  #readManifest(data: Buffer): BackupManifest {
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch (error) {
      throw new TarFormatError(`its manifest is not valid JSON (${(error as Error).message})`);
    }
    const checked = checkManifest(json);
    if (!checked.ok) throw new OrchestratorError(checked.code, checked.message, checked.data ?? {});
    if (this.expected && JSON.stringify(checked.value) !== JSON.stringify(this.expected)) throw new TarFormatError('it changed since it was verified');
    return checked.value;
  }
}

/** Every failure of a read as the error the caller reports: BACKUP_INVALID with the reason, key errors as they are. */
function refusal(file: string, error: unknown): unknown {
  if (error instanceof OrchestratorError) {
    // The manifest's checks speak of "it" and "its manifest": they get the file's name in front.
    if (!error.message.startsWith('it')) return error;
    if (error.code === 'UNSUPPORTED_VERSION') return new OrchestratorError(error.code, `${file} cannot be used: ${error.message}. Nothing was changed.`, { ...error.data, file });
    return invalid(file, error.message, error.data);
  }
  if (error instanceof TarFormatError) return invalid(file, error.message);
  if (isCode(error, 'ENOENT')) return new OrchestratorError('INVALID_INPUT', `${file} does not exist. Give the path of a backup file.`, { file });
  if (isCode(error, 'EISDIR')) return new OrchestratorError('INVALID_INPUT', `${file} is a folder. Give the path of a backup file.`, { file });
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) return invalid(file, `its compressed data is damaged or cut short (${(error as Error).message})`);
  return error;
}

function invalid(file: string, reason: string, data: Record<string, unknown> = {}): OrchestratorError {
  return new OrchestratorError('BACKUP_INVALID', `${file} is not a usable backup: ${reason}. Nothing was changed; use another backup.`, { ...data, file, reason });
}
