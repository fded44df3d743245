// The dashboard's page, script and style are served as they are: tsc does not copy them, so the build does.
import { cpSync } from 'node:fs';

cpSync(new URL('../src/mcp/http/dashboard-assets/', import.meta.url), new URL('../dist/mcp/http/dashboard-assets/', import.meta.url), { recursive: true });
