import * as vscode from 'vscode';

/**
 * Settings keys the server understands (docs/protocol.md "Settings"; tests/vscode_schema.rs checks this list and
 * package.json against the server). Everything else under `codex.` is the extension's own.
 */
const SERVER_KEYS = [
  'baseUrl',
  'model',
  'reasoningEffort',
  'maxOutputTokens',
  'temperature',
  'topP',
  'stream',
  'timeoutSecs',
  'maxRetries',
  'instructions',
  'contextLines',
  'exclude',
  'actions',
  'allowOutsideWorkspace',
  'logFile',
  'patchAboveLines',
  'chainMode',
] as const;

/** Keys whose change needs a new server process: only the binary itself. */
export const RESTART_KEYS = ['serverPath'] as const;

/**
 * Keys sent as `null` when unset (or empty): the server then uses the environment's default (CODEX_LSP_BASE_URL,
 * CODEX_LSP_MODEL, CODEX_LSP_LOG_FILE; no value for the others), at once, without a restart. Every other key has a
 * schema default equal to the server's, so VS Code always yields a value for it.
 */
const NULLABLE_KEYS = new Set<string>(['baseUrl', 'model', 'logFile', 'maxOutputTokens', 'temperature', 'topP', 'instructions']);

/**
 * The `codex` section as the server wants it: only the server's keys, empty strings dropped or sent as `null`.
 * Never contains the API key: that travels only in the server's environment.
 */
export function serverSettings(scope?: vscode.ConfigurationScope | null): Record<string, unknown> {
  const cfg = vscode.workspace.getConfiguration('codex', scope ?? undefined);
  const out: Record<string, unknown> = {};
  for (const key of SERVER_KEYS) {
    let value = cfg.get<unknown>(key);
    if (typeof value === 'string' && value.trim() === '') value = null;
    if (value === undefined || value === null) {
      if (NULLABLE_KEYS.has(key)) out[key] = null;
      continue;
    }
    out[key] = value;
  }
  return out;
}
