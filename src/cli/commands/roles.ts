import { describeRoles, type RoleReport } from '../../roles/role-report.js';
import { mark, paint, printable, styleFor, type Style } from '../format.js';
import { EXIT, layoutOf, print, printJson, warn, type BaseOptions } from '../run.js';

export interface RolesOptions extends BaseOptions {
  json?: boolean;
}

/** `task-orchestrator roles`: every role, where it comes from, and the problems in the role files. Reads only. */
export async function roles(options: RolesOptions): Promise<number> {
  const { layout } = layoutOf(options);
  const report = await describeRoles(layout);
  if (options.json) printJson(report);
  else printReport(printable(report), styleFor(process.stdout));
  return report.errors.length ? EXIT.PROBLEMS : EXIT.OK;
}

function printReport(report: RoleReport, style: Style): void {
  print(`Role files in ${report.roles_dir}${report.from_config_dir ? ' (MCP_TASK_ORCHESTRATOR_CONFIG_DIR)' : ''}:`);
  for (const f of report.files) print(`  ${f.name}: ${f.exists ? 'present' : 'absent'}`);
  print();
  const width = Math.max(...report.roles.map((r) => r.name.length));
  for (const role of report.roles) {
    const source = role.source === 'built-in' ? 'built-in default' : role.source;
    const template = role.template ? `, template ${role.template}` : '';
    print(`${paint(style, 'bold', role.name.padEnd(width))}  ${role.summary}`);
    print(`${' '.repeat(width)}  ${paint(style, 'gray', `from ${source}${template}`)}`);
  }
  if (report.errors.length) {
    const errStyle = styleFor(process.stderr);
    warn(`\n${report.errors.length} problem(s) in the role files (the affected roles fall back to their defaults):`);
    for (const e of report.errors) warn(`${mark(errStyle, 'problem')} ${e}`);
  }
}
