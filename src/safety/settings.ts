import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { InvalidSettingError } from '../config.js';
import type { RetentionPolicy } from '../domain/retention.js';
import { isCode, readRegularFileSync } from '../store/file/durable-fs.js';

/**
 * Settings of backups and retention (README, "Your data"), from .task_orchestrator/config.yaml and the
 * environment. Precedence, for each setting on its own: the environment variable when set (an empty one
 * counts as unset), else config.yaml, else the default. So a deployment can override one value of a
 * project's file without copying the rest.
 *
 *   config.yaml                 environment                                  default
 *   retention.max_age_days      MCP_TASK_ORCHESTRATOR_RETENTION_MAX_AGE_DAYS  off   (0 also means off)
 *   retention.max_count         MCP_TASK_ORCHESTRATOR_RETENTION_MAX_COUNT     off   (0 also means off)
 *   backup.interval_hours       MCP_TASK_ORCHESTRATOR_BACKUP_INTERVAL_HOURS   24    (0: no scheduled backups)
 *   backup.keep                 MCP_TASK_ORCHESTRATOR_BACKUP_KEEP             7
 *
 * The file is read strictly: an unknown key, a value of the wrong kind or out of bounds is refused with
 * the file and key named, every problem at once, rather than ignored (a misspelt key would otherwise
 * leave retention silently off, or on when it was meant off).
 */

export const CONFIG_FILE_NAME = 'config.yaml';

export interface BackupSchedule {
  /** Hours between scheduled backups; 0: none. */
  intervalHours: number;
  /** Backups kept in .task_orchestrator/backups/, the newest. */
  keep: number;
}

export type SettingOrigin = 'environment' | 'config.yaml' | 'default';

export interface SafetySettings {
  retention: RetentionPolicy;
  backup: BackupSchedule;
  /** Where each value came from, by config.yaml key, for `doctor` and messages. */
  origins: Record<SettingKey, SettingOrigin>;
}

interface SettingSpec {
  variable: string;
  min: number;
  max: number;
  /** The value when neither the environment nor the file sets it; null: off. */
  fallback: number | null;
  /** What 0 means, when it means "off". */
  zeroIsOff: boolean;
  unit: string;
}

const SPECS = {
  'retention.max_age_days': { variable: 'MCP_TASK_ORCHESTRATOR_RETENTION_MAX_AGE_DAYS', min: 0, max: 36_500, fallback: null, zeroIsOff: true, unit: 'days' },
  'retention.max_count': { variable: 'MCP_TASK_ORCHESTRATOR_RETENTION_MAX_COUNT', min: 0, max: 10_000_000, fallback: null, zeroIsOff: true, unit: 'archived tasks' },
  'backup.interval_hours': { variable: 'MCP_TASK_ORCHESTRATOR_BACKUP_INTERVAL_HOURS', min: 0, max: 8_760, fallback: 24, zeroIsOff: false, unit: 'hours' },
  'backup.keep': { variable: 'MCP_TASK_ORCHESTRATOR_BACKUP_KEEP', min: 1, max: 10_000, fallback: 7, zeroIsOff: false, unit: 'backups' },
} satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SPECS;
export const SETTING_KEYS = Object.keys(SPECS) as SettingKey[];

/** The values a config.yaml sets (absent: not set there). */
export type ConfigValues = Partial<Record<SettingKey, number>>;

/**
 * Reads .task_orchestrator/config.yaml (no file: nothing set) and the environment. Throws
 * InvalidSettingError naming every problem. The file is never followed through a symbolic link: a cloned
 * repository could carry one pointing anywhere.
 */
export function readSafetySettings(storeRoot: string, env: NodeJS.ProcessEnv = process.env): SafetySettings {
  const file = path.join(storeRoot, CONFIG_FILE_NAME);
  let text: string | null = null;
  try {
    text = readRegularFileSync(file).toString('utf8');
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw new InvalidSettingError(`${file} cannot be read: ${(error as Error).message}. Fix it or remove it.`);
  }
  const parsed = text === null ? { values: {}, problems: [] } : parseConfigYaml(text, file);
  return resolveSafetySettings(env, parsed.values, parsed.problems);
}

/** The settings a config.yaml text holds, and what is wrong with it (pure). */
export function parseConfigYaml(text: string, file: string): { values: ConfigValues; problems: string[] } {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true, prettyErrors: false });
  } catch (error) {
    return { values: {}, problems: [`${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}. Fix it, or remove it to use the defaults.`] };
  }
  if (doc === null || doc === undefined) return { values: {}, problems: [] };
  if (!isMap(doc)) return { values: {}, problems: [`${file} must be a mapping of sections (retention:, backup:), not ${describe(doc)}.`] };
  const values: ConfigValues = {};
  const problems: string[] = [];
  const sections = [...new Set(SETTING_KEYS.map((k) => k.split('.')[0]!))];
  for (const [section, body] of Object.entries(doc)) {
    if (!sections.includes(section)) {
      problems.push(`${file}: unknown section "${section}"; the sections are ${sections.join(', ')}.`);
      continue;
    }
    if (body === null) continue;
    if (!isMap(body)) {
      problems.push(`${file}: "${section}" must be a mapping of settings, not ${describe(body)}.`);
      continue;
    }
    for (const [name, value] of Object.entries(body)) readValue(`${section}.${name}`, value, file, values, problems);
  }
  return { values, problems };
}

function readValue(key: string, value: unknown, file: string, values: ConfigValues, problems: string[]): void {
  if (!(key in SPECS)) {
    const known = SETTING_KEYS.filter((k) => k.startsWith(`${key.split('.')[0]}.`)).map((k) => k.split('.')[1]);
    problems.push(`${file}: unknown setting "${key}"; the settings of ${key.split('.')[0]} are ${known.join(', ')}.`);
    return;
  }
  if (value === null) return; // "max_count:" with nothing after it: not set
  const spec = SPECS[key as SettingKey];
  if (typeof value === 'number' && Number.isInteger(value) && value >= spec.min && value <= spec.max) values[key as SettingKey] = value;
  else problems.push(`${file}: ${key} is ${describe(value)}; ${allowed(spec)}.`);
}

/** The settings from the environment over the file's values (pure). Throws InvalidSettingError with every problem. */
export function resolveSafetySettings(env: NodeJS.ProcessEnv, fileValues: ConfigValues, fileProblems: readonly string[] = []): SafetySettings {
  const problems = [...fileProblems];
  const origins = {} as Record<SettingKey, SettingOrigin>;
  const value = (key: SettingKey): number | null => {
    const spec: SettingSpec = SPECS[key];
    const fromEnv = envValue(env, spec, problems);
    const [raw, origin]: [number | null, SettingOrigin] = fromEnv !== undefined ? [fromEnv, 'environment'] : fileValues[key] !== undefined ? [fileValues[key]!, 'config.yaml'] : [spec.fallback, 'default'];
    origins[key] = origin;
    return spec.zeroIsOff && raw === 0 ? null : raw;
  };
  const settings: SafetySettings = {
    retention: { maxAgeDays: value('retention.max_age_days'), maxCount: value('retention.max_count') },
    backup: { intervalHours: value('backup.interval_hours')!, keep: value('backup.keep')! },
    origins,
  };
  if (problems.length) throw new InvalidSettingError(problems.join('\n'));
  return settings;
}

/** The variable's value; undefined when unset or empty; a bad value is a problem (and undefined). */
function envValue(env: NodeJS.ProcessEnv, spec: SettingSpec, problems: string[]): number | undefined {
  const raw = env[spec.variable]?.trim();
  if (!raw) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (n >= spec.min && n <= spec.max) return n;
  problems.push(`${spec.variable} is ${JSON.stringify(raw.slice(0, 100))}; ${allowed(spec)}.`);
  return undefined;
}

function allowed(spec: SettingSpec): string {
  const off = spec.zeroIsOff ? ' (0: off)' : spec.min === 0 ? ' (0: none)' : '';
  const fallback = spec.fallback === null ? 'off' : String(spec.fallback);
  return `use a whole number of ${spec.unit} from ${spec.min} to ${spec.max}${off}, or leave it unset for ${fallback}`;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(value: unknown): string {
  if (value === null) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the text ${JSON.stringify(value.slice(0, 60))}`;
  if (typeof value === 'number') return String(value);
  return typeof value === 'object' ? 'a mapping' : typeof value;
}
