/** The part of sql.js (SQLite compiled to WebAssembly, shipped in the npm package) that the Python import uses. */
declare module 'sql.js' {
  export type SqlValue = string | number | Uint8Array | null;

  export interface Statement {
    step(): boolean;
    getAsObject(): Record<string, SqlValue>;
    free(): boolean;
  }

  export interface Database {
    prepare(sql: string): Statement;
    run(sql: string, params?: SqlValue[]): Database;
    export(): Uint8Array;
    close(): void;
  }

  export interface SqlJsStatic {
    Database: new (data?: ArrayLike<number> | Buffer | null) => Database;
  }

  export default function initSqlJs(config?: { useOldExtensionFunctions?: boolean }): Promise<SqlJsStatic>;
}
