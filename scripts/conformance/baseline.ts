/**
 * The conformance suite's results against our baseline of expected failures: what passed, what failed as
 * expected, and the two things that must fail the run, a failure not in the baseline (something broke)
 * and a baseline entry that no longer fails (the baseline is stale: remove it, so that a regression of
 * that scenario is caught next time).
 */
import { parse } from 'yaml';

export type CheckStatus = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';

export interface Check {
  id: string;
  name?: string;
  status: CheckStatus | string;
  errorMessage?: string;
}

/** One scenario as the suite recorded it (checks.json), or null checks when it recorded nothing. */
export interface ScenarioResult {
  scenario: string;
  checks: Check[] | null;
}

/**
 * pass: at least one check succeeded and none failed or warned. fail: a check failed or warned (the suite
 * counts a warning as a failure of the scenario), or nothing was recorded. not-applicable: the suite
 * recorded only informational checks, saying the scenario does not apply to this server (the suite
 * itself does not count that as a failure; it proves nothing either).
 */
export type ScenarioStatus = 'pass' | 'fail' | 'not-applicable';

export interface ScenarioOutcome {
  scenario: string;
  status: ScenarioStatus;
  expectedToFail: boolean;
  succeeded: number;
  failed: number;
  warnings: number;
  /** Why it failed, in a line: the first failing check's message (or that nothing was recorded). */
  why: string;
}

export interface Verdict {
  outcomes: ScenarioOutcome[];
  /** Failed and not in the baseline. */
  unexpectedFailures: string[];
  /** In the baseline but no longer failing (passed, or found not applicable). */
  stalePasses: string[];
  /** In the baseline but not run at all (renamed or removed by the suite, or a typo). */
  unknownEntries: string[];
  ok: boolean;
}

export function scenarioStatus(checks: Check[] | null): ScenarioStatus {
  if (!checks || checks.length === 0) return 'fail';
  if (checks.some((c) => c.status === 'FAILURE' || c.status === 'WARNING')) return 'fail';
  return checks.some((c) => c.status === 'SUCCESS') ? 'pass' : 'not-applicable';
}

export function judge(results: ScenarioResult[], expectedFailures: readonly string[]): Verdict {
  const expected = new Set(expectedFailures);
  const outcomes = results.map((r) => outcomeOf(r, expected.has(r.scenario)));
  const ran = new Set(results.map((r) => r.scenario));
  const unexpectedFailures = outcomes.filter((o) => o.status === 'fail' && !o.expectedToFail).map((o) => o.scenario);
  const stalePasses = outcomes.filter((o) => o.status !== 'fail' && o.expectedToFail).map((o) => o.scenario);
  const unknownEntries = [...expected].filter((name) => !ran.has(name));
  return { outcomes, unexpectedFailures, stalePasses, unknownEntries, ok: unexpectedFailures.length + stalePasses.length + unknownEntries.length === 0 };
}

function outcomeOf(result: ScenarioResult, expectedToFail: boolean): ScenarioOutcome {
  const checks = result.checks ?? [];
  const count = (status: string) => checks.filter((c) => c.status === status).length;
  const firstBad = checks.find((c) => c.status === 'FAILURE') ?? checks.find((c) => c.status === 'WARNING');
  const status = scenarioStatus(result.checks);
  const why = result.checks === null ? 'the suite recorded no result (it crashed or timed out on this scenario)' : checks.length === 0 ? 'the suite recorded no checks' : firstBad ? `${firstBad.name ?? firstBad.id}: ${firstBad.errorMessage ?? firstBad.status}` : status === 'not-applicable' ? informational(checks) : '';
  return { scenario: result.scenario, status, expectedToFail, succeeded: count('SUCCESS'), failed: count('FAILURE'), warnings: count('WARNING'), why: oneLine(why) };
}

/** The `server:` list of an expected-failures file (the suite's own format); a malformed file is an error naming the problem. */
export function parseExpectedFailures(text: string, file: string): string[] {
  const document: unknown = parse(text);
  if (document === null || document === undefined) return [];
  if (typeof document !== 'object' || Array.isArray(document)) throw new Error(`${file}: expected a mapping with a "server:" list of scenario names`);
  const server = (document as { server?: unknown }).server;
  if (server === undefined || server === null) return [];
  if (!Array.isArray(server) || server.some((s) => typeof s !== 'string')) throw new Error(`${file}: "server:" must be a list of scenario names`);
  return server as string[];
}

/** What the suite said when it found the scenario not applicable (its informational checks' messages). */
function informational(checks: Check[]): string {
  const said = checks.map((c) => (c as { details?: { message?: unknown } }).details?.message).filter((m): m is string => typeof m === 'string');
  return said[0] ?? `only informational checks (${checks.map((c) => c.name ?? c.id).join(', ')})`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 157)}...` : flat;
}
