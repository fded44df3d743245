import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * Random hex digits for temp file names and lock tokens, cut from a pool filled 4 KB at a time: each
 * write makes three of them, and a randomBytes call of its own costs 5 to 20 µs, a slice of the pool
 * well under one. They name things uniquely; they guard no secret.
 */
export function randomHex(chars: number): string {
  const bytes = Math.ceil(chars / 2);
  if (offset + bytes > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, bytes));
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex.slice(0, chars);
}
