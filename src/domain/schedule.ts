const DAY_MS = 86_400_000;

/** Whether a scheduled job last run at `lastAt` (ISO, or nothing yet) is due again at `now`. */
export function isDue(lastAt: string | undefined, intervalMs: number, now: Date): boolean {
  const last = lastAt ? Date.parse(lastAt) : Number.NaN;
  return !Number.isFinite(last) || now.getTime() - last >= intervalMs || last > now.getTime() + DAY_MS; // a marker from the future (a clock set back): due
}
