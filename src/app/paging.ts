import { OrchestratorError } from '../domain/errors.js';

/**
 * Cursors of paged replies (get_status, initialize_session): an opaque token for "continue from here".
 * It holds an offset into a listing ordered most recently updated first, so a task updated between
 * two pages moves to the front and may be missed or seen twice; a new listing from the start is exact.
 */
export function encodeCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

/** The offset a cursor stands for, or 0 without one; a cursor this server did not give is refused. */
export function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined || cursor === '') return 0;
  const match = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new OrchestratorError('INVALID_INPUT', `cursor "${cursor.slice(0, 40)}" is not one this server returned. Pass next_cursor from the previous reply, or leave it out for the first page.`);
  return Number(match[1]);
}
