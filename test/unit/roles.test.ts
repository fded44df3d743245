import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mergeRoles, readRoleFile, roleSummary, type Role } from '../../src/domain/roles.js';
import { BUILTIN_ROLES, ORCHESTRATOR_GUIDANCE } from '../../src/domain/builtin-roles.js';

const FILE = 'custom_roles.yaml';
const fullRole = { role_definition: 'You are a security auditor', expertise: ['OWASP'], approach: ['Threat model first'], output_format: 'Findings' };

describe('readRoleFile', () => {
  test('reads a well-formed role', () => {
    const content = readRoleFile({ auditor: fullRole }, FILE);
    assert.deepEqual(content.errors, []);
    assert.deepEqual(content.roles.get('auditor'), fullRole);
  });

  test('treats an empty file as no roles and no errors', () => {
    const content = readRoleFile(null, FILE);
    assert.equal(content.roles.size, 0);
    assert.deepEqual(content.errors, []);
  });

  for (const [label, parsed] of [['a list', ['architect']], ['a string', 'architect'], ['a number', 42]] as const) {
    test(`reports a top level that is ${label} instead of a mapping`, () => {
      const content = readRoleFile(parsed, FILE);
      assert.equal(content.roles.size, 0);
      assert.equal(content.errors.length, 1);
      assert.match(content.errors[0]!, /custom_roles\.yaml: the top level must be a mapping/);
    });
  }

  test('skips a role that is not a mapping and says so', () => {
    const content = readRoleFile({ auditor: 'just text', ok_role: fullRole }, FILE);
    assert.deepEqual([...content.roles.keys()], ['ok_role']);
    assert.match(content.errors.join('\n'), /role "auditor" must be a mapping/);
  });

  test('skips a role whose role_definition is not text, naming role and field', () => {
    const content = readRoleFile({ auditor: { ...fullRole, role_definition: 7 } }, FILE);
    assert.equal(content.roles.has('auditor'), false);
    assert.match(content.errors.join('\n'), /role "auditor": role_definition must be text/);
  });

  test('skips a role whose expertise is a list of non-text items', () => {
    const content = readRoleFile({ auditor: { ...fullRole, expertise: ['fine', 3] } }, FILE);
    assert.equal(content.roles.has('auditor'), false);
    assert.match(content.errors.join('\n'), /expertise must be a list of text items/);
  });

  test('accepts a single string for expertise and approach as a one-item list', () => {
    const content = readRoleFile({ auditor: { ...fullRole, expertise: 'OWASP', approach: 'Threat model first' } }, FILE);
    assert.deepEqual(content.roles.get('auditor')?.expertise, ['OWASP']);
    assert.deepEqual(content.roles.get('auditor')?.approach, ['Threat model first']);
  });

  test('keeps only the fields a partial role gives', () => {
    const content = readRoleFile({ architect: { output_format: 'ADR' } }, FILE);
    assert.deepEqual(content.roles.get('architect'), { output_format: 'ADR' });
  });

  test('lower-cases role names', () => {
    assert.ok(readRoleFile({ Auditor: fullRole }, FILE).roles.has('auditor'));
  });

  for (const bad of ['9lives', 'has space', 'dot.ted', '../escape']) {
    test(`reports the invalid role name "${bad}" and skips it`, () => {
      const content = readRoleFile({ [bad]: fullRole }, FILE);
      assert.equal(content.roles.size, 0);
      assert.match(content.errors.join('\n'), /must start with a letter/);
    });
  }

  test('reads the task_orchestrator key as the orchestrator guidance, not as a role', () => {
    const content = readRoleFile({ task_orchestrator: fullRole, auditor: fullRole }, FILE);
    assert.deepEqual(content.orchestrator, fullRole);
    assert.deepEqual([...content.roles.keys()], ['auditor']);
  });
});

describe('mergeRoles', () => {
  const builtIn = { source: 'built-in' as const, roles: new Map(Object.entries(BUILTIN_ROLES)) };

  test('a custom layer overrides a built-in role field by field and records its source', () => {
    const errors: string[] = [];
    const merged = mergeRoles([builtIn, { source: 'custom_roles.yaml', roles: new Map([['architect', { output_format: 'An ADR' }]]) }], errors);
    const architect = merged.get('architect')!;
    assert.equal(architect.output_format, 'An ADR');
    assert.equal(architect.role_definition, BUILTIN_ROLES.architect!.role_definition);
    assert.deepEqual(architect.expertise, BUILTIN_ROLES.architect!.expertise);
    assert.equal(architect.source, 'custom_roles.yaml');
    assert.equal(merged.get('tester')?.source, 'built-in');
    assert.deepEqual(errors, []);
  });

  test('a custom role_definition replaces the built-in one', () => {
    const merged = mergeRoles([builtIn, { source: 'custom_roles.yaml', roles: new Map([['tester', { role_definition: 'You are a QA lead' }]]) }], []);
    assert.equal(merged.get('tester')?.role_definition, 'You are a QA lead');
    assert.deepEqual(merged.get('tester')?.approach, BUILTIN_ROLES.tester!.approach);
  });

  test('adds a new role with defaults for the fields it leaves out', () => {
    const merged = mergeRoles([builtIn, { source: 'custom_roles.yaml', roles: new Map([['auditor', { role_definition: 'You are an auditor' }]]) }], []);
    const auditor = merged.get('auditor')!;
    assert.equal(auditor.name, 'auditor');
    assert.deepEqual(auditor.expertise, []);
    assert.deepEqual(auditor.approach, []);
    assert.ok(auditor.output_format.length > 0);
  });

  test('skips a new role without role_definition and reports it', () => {
    const errors: string[] = [];
    const merged = mergeRoles([builtIn, { source: 'custom_roles.yaml', roles: new Map([['auditor', { expertise: ['x'] }]]) }], errors);
    assert.equal(merged.has('auditor'), false);
    assert.match(errors.join('\n'), /custom_roles\.yaml: new role "auditor" has no role_definition/);
  });

  test('later layers win over earlier ones', () => {
    const merged = mergeRoles(
      [
        builtIn,
        { source: 'default_roles.yaml', roles: new Map([['tester', { output_format: 'from defaults' }]]) },
        { source: 'custom_roles.yaml', roles: new Map([['tester', { output_format: 'from custom' }]]) },
      ],
      [],
    );
    assert.equal(merged.get('tester')?.output_format, 'from custom');
  });

  test('keeps all seven built-in roles', () => {
    assert.deepEqual([...mergeRoles([builtIn], []).keys()].sort(), ['architect', 'debugger', 'documenter', 'implementer', 'researcher', 'reviewer', 'tester']);
  });
});

describe('roleSummary', () => {
  const role = (role_definition: string): Role => ({ role_definition, expertise: [], approach: [], output_format: '' });

  test('drops "You are a" and capitalises the rest', () => {
    assert.equal(roleSummary(role('You are a software architect who designs systems')), 'Software architect who designs systems');
  });

  test('drops "You are an" and stops at the first sentence', () => {
    assert.equal(roleSummary(role('You are an auditor. You read code.')), 'Auditor');
  });

  test('keeps a definition that does not start with "You are"', () => {
    assert.equal(roleSummary(role('writes the docs\nand more')), 'Writes the docs');
  });

  test('gives a non-empty summary for every built-in role and the orchestrator', () => {
    for (const r of [...Object.values(BUILTIN_ROLES), ORCHESTRATOR_GUIDANCE]) assert.match(roleSummary(r), /^[A-Z]\w+/);
  });
});
