import type { HealthFinding, RepairOutcome } from '../../app/ports.js';
import type { Settings } from '../../config.js';
import { checkRetention, diagnose, doctorLocks } from '../../maintenance/doctor.js';
import { repair } from '../../maintenance/doctor-fix.js';
import type { Layout } from '../../store/file/layout.js';
import { indent, mark, paint, plural, printable, styleFor, type Style } from '../format.js';
import { EXIT, layoutOf, print, printJson, withProject, type BaseOptions } from '../run.js';

export interface DoctorOptions extends BaseOptions {
  fix?: boolean;
  json?: boolean;
}

/** `task-orchestrator doctor`: checks .task_orchestrator/, and with --fix repairs what is safe. Exit 1 while problems remain. */
export async function doctor(options: DoctorOptions): Promise<number> {
  const { settings, layout } = layoutOf(options);
  if (settings.databaseUrl) return teamDoctor(options, settings, layout);
  const locks = doctorLocks(layout, settings.lockStaleMs);
  const before = await diagnose(layout, { locks });
  const needsFix = options.fix === true && before.some((f) => f.fixable);
  const fixed = needsFix ? await withProject(settings, layout, { recover: false }, ({ files }) => repair({ store: files!, layout, locks, keyring: settings.keyring }, before)) : [];
  const findings = needsFix ? await diagnose(layout, { locks }) : before;
  if (options.json) printJson({ root: layout.root, healthy: !hasProblems(findings), fixed, findings });
  else printReport(printable(layout.root), printable(findings), printable(fixed), options.fix === true, styleFor(process.stdout));
  return hasProblems(findings) ? EXIT.PROBLEMS : EXIT.OK;
}

/** Team mode: the database's health check (the project folder holds no tasks then), and its safe repairs with --fix. */
async function teamDoctor(options: DoctorOptions, settings: Settings, layout: Layout): Promise<number> {
  return withProject(settings, layout, { recover: false }, async ({ orchestrator, team }) => {
    const { maintenance } = orchestrator.ctx;
    const before = await maintenance.diagnose();
    const needsFix = options.fix === true && before.some((f) => f.fixable);
    const fixed = needsFix ? await maintenance.repair() : [];
    // The retention runs this machine made are recorded in its project folder.
    const findings = [...(needsFix ? await maintenance.diagnose() : before), ...(await checkRetention(layout))];
    const database = team!.db.label;
    if (options.json) printJson({ database, healthy: !hasProblems(findings), fixed, findings });
    else printReport(`the database ${printable(database)}`, printable(findings), printable(fixed), options.fix === true, styleFor(process.stdout));
    return hasProblems(findings) ? EXIT.PROBLEMS : EXIT.OK;
  });
}

/** Judges and clears locks with the servers' own rules; a short timeout so a lock taken again is left alone. */
function hasProblems(findings: HealthFinding[]): boolean {
  return findings.some((f) => f.severity === 'problem');
}

function printReport(where: string, findings: HealthFinding[], fixed: RepairOutcome[], fixAsked: boolean, style: Style): void {
  print(`Checking ${where}`);
  for (const outcome of fixed) print(`${mark(style, outcome.done ? 'fixed' : 'note')} ${outcome.subject}: ${outcome.action}`);
  if (fixed.length) print();
  for (const f of findings) printFinding(f, fixAsked, style);
  print(summary(findings, fixed, fixAsked));
}

function printFinding(f: HealthFinding, fixAsked: boolean, style: Style): void {
  print(`${mark(style, f.severity === 'problem' ? 'problem' : 'note')} ${paint(style, 'bold', f.subject)}: ${f.message}`);
  print(indent(`${paint(style, 'gray', 'What it means:')} ${f.meaning}`));
  const remedy = fixAsked && f.fixable ? `${f.remedy} (It could not be fixed this time; see above.)` : f.remedy;
  print(indent(`${paint(style, 'gray', f.fixable ? 'Fix:' : 'What to do:')} ${remedy}`));
}

function summary(findings: HealthFinding[], fixed: RepairOutcome[], fixAsked: boolean): string {
  const problems = findings.filter((f) => f.severity === 'problem');
  const fixable = problems.filter((f) => f.fixable).length;
  const notes = findings.length - problems.length;
  const repaired = fixed.filter((o) => o.done).length;
  const parts = [fixAsked ? `${plural(repaired, 'repair')} made` : null, problems.length ? `${plural(problems.length, 'problem')}${fixAsked ? (problems.length === 1 ? ' remains' : ' remain') : ''}` : 'no problems', notes ? plural(notes, 'note') : null].filter(Boolean);
  const tidy = findings.filter((f) => f.severity === 'note' && f.fixable).length; // leftover locks, which servers also take over
  const hint = !fixAsked && fixable ? ` Run "task-orchestrator doctor --fix" to repair ${fixable === problems.length ? 'them' : `${fixable} of them`}.` : !fixAsked && tidy ? ` "task-orchestrator doctor --fix" clears ${plural(tidy, 'leftover')} noted above.` : '';
  return `\n${problems.length ? 'Not healthy' : 'Healthy'}: ${parts.join(', ')}.${hint}`;
}
