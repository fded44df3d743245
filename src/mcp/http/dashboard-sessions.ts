import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'to_dashboard';
const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const MAX_SESSIONS = 1000;

export interface DashboardSession {
  /** Short public id, shown in history as "dashboard:<id>" (never the cookie's secret). */
  shortId: string;
  expiresAt: number;
}

/**
 * Browser sessions of the dashboard: the bearer token is presented once and swapped for a random
 * session id held in an HttpOnly cookie, so the token never lives in the page, its URL or its history.
 * Kept in memory: a restarted server asks for the token again.
 */
export class DashboardSessions {
  private readonly sessions = new Map<string, DashboardSession>();

  constructor(private readonly now: () => number = Date.now) {}

  open(): { cookie: string; session: DashboardSession } {
    this.sweep();
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!); // the oldest
    const secret = randomBytes(32).toString('base64url');
    const session = { shortId: randomBytes(4).toString('hex'), expiresAt: this.now() + SESSION_TTL_MS };
    this.sessions.set(secret, session);
    return { cookie: `${SESSION_COOKIE}=${secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`, session };
  }

  /** The session a Cookie header names, or null when none or expired. */
  find(cookieHeader: string | undefined): DashboardSession | null {
    const secret = cookieValue(cookieHeader, SESSION_COOKIE);
    if (!secret) return null;
    const session = this.sessions.get(secret);
    if (!session) return null;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(secret);
      return null;
    }
    return session;
  }

  close(cookieHeader: string | undefined): void {
    const secret = cookieValue(cookieHeader, SESSION_COOKIE);
    if (secret) this.sessions.delete(secret);
  }

  private sweep(): void {
    const now = this.now();
    for (const [secret, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(secret);
  }
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return null;
}

/** The token compared in constant time (both sides hashed, so neither content nor length shows in timing). */
export function tokenMatches(presented: string, token: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(token));
}
