import { readFileSync } from 'node:fs';

const MANIFEST = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

/** The package version, read once from package.json so there is a single place to bump it. */
export const VERSION: string = MANIFEST.version;

/** The name this package is published under on the npm registry (what `npx -y <name>` fetches). */
export const PACKAGE_NAME: string = MANIFEST.name;
