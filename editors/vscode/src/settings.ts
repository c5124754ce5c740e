import * as vscode from 'vscode';

/** Settings keys the server understands (INTERFACE.md "Settings"). Everything else under `codex.` is the extension's own. */
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
] as const;

/**
 * Keys whose "unset" means "the server's default from its environment" (CODEX_LSP_BASE_URL, CODEX_LSP_MODEL,
 * CODEX_LSP_LOG_FILE). They are sent only when set; clearing one restarts the server so the default comes back.
 */
export const RESTART_KEYS = ['baseUrl', 'model', 'logFile', 'serverPath'] as const;

/** Optional values the server takes `null` for (so clearing the setting also clears it in a running server). */
const NULLABLE_KEYS = new Set<string>(['maxOutputTokens', 'temperature', 'topP', 'instructions']);

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
