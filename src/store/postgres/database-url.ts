/**
 * The PostgreSQL connection URL of team mode (MCP_TASK_ORCHESTRATOR_DATABASE_URL): checked before
 * anything connects, and shown in every message with its password hidden. No `pg` here: the settings
 * check and the messages must not load the driver (a file-store server never does).
 */

const SCHEMES = ['postgres:', 'postgresql:'];
const HIDDEN = '***';

/** Why the URL cannot be used, or null. The value is never repeated in full: it may hold a password. */
export function databaseUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'it is not a URL';
  }
  if (!SCHEMES.includes(parsed.protocol)) return `it starts with "${parsed.protocol}//", not postgres:// or postgresql://`;
  if (!parsed.hostname && !parsed.searchParams.get('host')) return 'it names no host (postgres://user@host:5432/database)';
  const port = parsed.port;
  if (port && !(Number(port) >= 1 && Number(port) <= 65_535)) return `its port ${port} is not from 1 to 65535`;
  const sslmode = parsed.searchParams.get('sslmode');
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) return `sslmode=${sslmode} is not one of ${SSL_MODES.join(', ')}`;
  return null;
}

/** The sslmode values node-postgres understands (README, "Team mode"). */
export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];

/**
 * The URL as it may be shown: the password (in the user part or a password= parameter) replaced by
 * ***. Something that does not parse is cut after the scheme, so that nothing secret can slip through.
 */
export function redactDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0];
    return scheme ? `${scheme}${HIDDEN}` : HIDDEN;
  }
  if (parsed.password) parsed.password = HIDDEN;
  if (parsed.searchParams.has('password')) parsed.searchParams.set('password', HIDDEN);
  return parsed.toString().replace(encodeURIComponent(HIDDEN), HIDDEN).replace(`password=${encodeURIComponent(HIDDEN)}`, `password=${HIDDEN}`);
}

/**
 * A message (the driver's, say) with every form of the URL's password removed: raw, percent-encoded and
 * decoded. Messages from the driver do not quote the password today; this makes sure they never will here.
 */
export function withoutPassword(message: string, url: string): string {
  const secrets = passwordsOf(url).filter((secret) => secret.length >= 4); // a shorter one would blank out ordinary words
  let clean = message.split(url).join(redactDatabaseUrl(url));
  for (const secret of secrets) clean = clean.split(secret).join(HIDDEN);
  return clean;
}

function passwordsOf(url: string): string[] {
  try {
    const parsed = new URL(url);
    const raw = [parsed.password, parsed.searchParams.get('password') ?? ''].filter(Boolean);
    return [...new Set(raw.flatMap((p) => [p, safeDecode(p)]))].sort((a, b) => b.length - a.length);
  } catch {
    return [];
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
