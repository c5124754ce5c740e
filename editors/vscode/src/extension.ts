import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ResponseError,
  ServerOptions,
  State,
  TransportKind,
  WorkDoneProgressCancelNotification,
} from 'vscode-languageclient/node';
import { RESTART_KEYS, serverSettings } from './settings';
import { Chain, Status, turns } from './status';

const SECRET_KEY = 'codex-lsp.apiKey';
const INSTALL_HINT = 'Install it with "cargo install --path . --locked" in the codex-lsp repository, or set codex.serverPath.';

/** Server commands whose failures the server reports to the user itself (docs/protocol.md, "Errors"). */
const USER_FACING = new Set(['codex.runAction', 'codex.ask', 'codex.explain']);

interface RunResult {
  applied?: boolean;
  responseId?: string;
  message?: string;
}

/** `codex.chainInfo`'s answer (docs/protocol.md); `null` when the file has no chain. */
interface ChainInfo {
  responseId: string;
  turns: number;
}

/** Documents the server is given (the client's documentSelector), hence the only ones with a chain. */
const SCHEMES = new Set(['file', 'untitled']);

let ctx: vscode.ExtensionContext;
let output: vscode.OutputChannel;
let status: Status;
let client: LanguageClient | undefined;
/** Serialises start/stop so a restart never overlaps another one. */
let lifecycle: Promise<void> = Promise.resolve();
/** Numbers the status bar's chain look-ups, so that only the latest one is shown. */
let chainLookups = 0;

export function activate(context: vscode.ExtensionContext): void {
  ctx = context;
  output = vscode.window.createOutputChannel('Codex');
  status = new Status();
  context.subscriptions.push(output, status);

  const register = (id: string, fn: (...args: unknown[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  register('codexLsp.ask', ask);
  register('codexLsp.explain', explain);
  register('codexLsp.resetChain', resetChain);
  register('codexLsp.showConversation', showConversation);
  register('codexLsp.setApiKey', setApiKey);
  register('codexLsp.clearApiKey', clearApiKey);
  register('codexLsp.restart', () => restart());
  register('codexLsp.showLog', () => output.show(true));
  register('codexLsp.cancel', cancel);

  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => restart()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (RESTART_KEYS.some((k) => e.affectsConfiguration(`codex.${k}`))) {
        void restart();
      }
    }),
    context.secrets.onDidChange((e) => {
      if (e.key === SECRET_KEY) void restart();
    }),
    vscode.window.onDidChangeActiveTextEditor(() => refreshChain()),
  );

  void restart();
}

export function deactivate(): Thenable<void> | undefined {
  return stopClient();
}

// ---------------------------------------------------------------- server lifecycle

function restart(): Promise<void> {
  lifecycle = lifecycle.then(async () => {
    try {
      await stopClient();
      await startClient();
    } catch (e) {
      // Never leave `lifecycle` rejected: the next restart must still run.
      output.appendLine(`[codex] (re)starting the server: ${errorText(e)}`);
      status.setOn();
      status.setError(`Codex: the language server could not be started: ${errorText(e)}`);
    }
  });
  return lifecycle;
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  status.reset();
  if (c) {
    try {
      await c.stop(5000);
    } catch (e) {
      output.appendLine(`[codex] stopping the server: ${errorText(e)}`);
    }
    try {
      await c.dispose();
    } catch {
      // already stopped
    }
  }
}

async function startClient(): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    status.setOff(
      '$(shield) Codex: off',
      'Codex is off in this untrusted workspace: the server would send its code to the model service. Click to manage Workspace Trust.',
      'workbench.trust.manage',
    );
    output.appendLine('[codex] not starting the server: this workspace is not trusted (Manage Workspace Trust to enable Codex).');
    void vscode.window
      .showInformationMessage('Codex is off in this untrusted workspace. Trust the workspace to use it.', 'Manage Workspace Trust')
      .then((choice) => choice && vscode.commands.executeCommand('workbench.trust.manage'));
    return;
  }

  const configured = vscode.workspace.getConfiguration('codex').get<string>('serverPath')?.trim() || 'codex-lsp';
  const command = resolveExecutable(configured);
  if (!command) {
    status.setOff('$(error) Codex: no server', `The codex-lsp binary "${configured}" was not found. ${INSTALL_HINT}`, 'codexLsp.showLog');
    const msg = `Codex: the language server "${configured}" was not found${configured.includes('/') ? '' : ' on PATH'}. ${INSTALL_HINT}`;
    output.appendLine(`[codex] ${msg}`);
    void vscode.window.showErrorMessage(msg, 'Open Settings', 'Show Log').then((choice) => {
      if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'codex.serverPath');
      if (choice === 'Show Log') output.show(true);
    });
    return;
  }

  const env: NodeJS.ProcessEnv = { ...process.env };
  const key = await ctx.secrets.get(SECRET_KEY);
  if (key) {
    // The key travels only in the server's environment: never in settings or initializationOptions.
    env.CODEX_LSP_API_KEY = key;
  }

  const serverOptions: ServerOptions = {
    command,
    transport: TransportKind.stdio, // vscode-languageclient passes `--stdio`
    options: { env },
  };

  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    outputChannel: output,
    initializationOptions: serverSettings(),
    synchronize: { configurationSection: 'codex' },
    middleware: {
      workspace: {
        // Send the cleaned section (server keys only, no empty strings), never VS Code's raw one.
        didChangeConfiguration: async (_sections, _next) => {
          const c = client;
          if (c && c.isRunning()) {
            await c.sendNotification(DidChangeConfigurationNotification.type, { settings: { codex: serverSettings() } });
          }
        },
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) return result;
          return params.items.map((item, i) => {
            if (item.section !== 'codex') return result[i];
            const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
            return serverSettings(scope);
          });
        },
      },
      handleWorkDoneProgress: (token, params, next) => {
        status.progress(token, params);
        next(token, params);
      },
      executeCommand: async (command, args, _next) => {
        // The server's own commands (`codex.runAction` from the code actions, ...), which vscode-languageclient
        // registers. Sent here rather than through `next`, whose failure path adds a generic "Request
        // workspace/executeCommand failed." toast, and VS Code another copy of the message, on top of the
        // server's own window/showMessage with the real reason.
        const c = client;
        if (!c) return undefined;
        try {
          const result = await c.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
          noteResult(result as RunResult | null);
          void refreshChain();
          return result;
        } catch (e) {
          void refreshChain();
          noteError(command, e);
          if (!(e instanceof ResponseError)) {
            void vscode.window.showErrorMessage(`Codex: ${command} failed: ${errorText(e)}`, 'Show Log').then(
              (choice) => choice && output.show(true),
            );
          }
          // The user-facing actions were reported by the server (window/showMessage); other callers get the error.
          if (USER_FACING.has(command)) return undefined;
          throw e;
        }
      },
    },
  };

  const c = new LanguageClient('codex', 'Codex', serverOptions, clientOptions);
  client = c;
  c.onDidChangeState((e) => {
    if (client !== c) return; // stopped on purpose (restart, deactivate)
    if (e.newState === State.Starting) {
      status.setStarting();
    } else if (e.newState === State.Running) {
      status.setOn();
      status.clearError();
      void refreshChain(); // also after a crash restart: chains outlive the server
    } else if (e.newState === State.Stopped) {
      // Crashed; vscode-languageclient restarts it a few times, and gives up after 5 crashes in 3 minutes.
      status.reset();
      status.setOn();
      status.setError('Codex: the language server stopped. Click to restart it; the log says why.', {
        command: 'codexLsp.restart',
        hint: 'Click to restart the server.',
      });
    }
  });
  status.setStarting();
  status.clearError();
  try {
    await c.start();
    status.setOn();
    void refreshChain();
    output.appendLine(`[codex] server started: ${command}${key ? ' (API key from Codex: Set API Key)' : ''}`);
  } catch (e) {
    const msg = `Codex: the language server "${command}" failed to start: ${errorText(e)}`;
    output.appendLine(`[codex] ${msg}`);
    status.setOn();
    status.setError(msg);
    void vscode.window.showErrorMessage(msg, 'Show Log').then((choice) => choice && output.show(true));
  }
}

/** An absolute or relative path that is executable, or a bare name found on PATH. */
function resolveExecutable(name: string): string | undefined {
  const expanded = name.startsWith('~/') ? path.join(process.env.HOME ?? '', name.slice(2)) : name;
  const isFile = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (expanded.includes('/') || expanded.includes('\\')) {
    let p = expanded;
    if (!path.isAbsolute(p)) {
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      p = folder ? path.resolve(folder, p) : path.resolve(p);
    }
    return isFile(p) ? p : undefined;
  }
  const exts = process.platform === 'win32' ? (process.env.PATHEXT ?? '.EXE').split(';') : [''];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const p = path.join(dir, expanded + ext);
      if (isFile(p)) return p;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- commands

/** The running client, or undefined after telling the user why there is none. */
function runningClient(): LanguageClient | undefined {
  if (client && client.isRunning()) return client;
  void vscode.window
    .showWarningMessage('Codex: the language server is not running.', 'Restart Server', 'Show Log')
    .then((choice) => {
      if (choice === 'Restart Server') void restart();
      if (choice === 'Show Log') output.show(true);
    });
  return undefined;
}

function activeEditor(): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) void vscode.window.showInformationMessage('Codex: open a file first.');
  return editor;
}

async function execute<T>(c: LanguageClient, command: string, arg: Record<string, unknown>): Promise<T | undefined> {
  try {
    const result = await c.sendRequest(ExecuteCommandRequest.type, { command, arguments: [arg] });
    return result as T;
  } catch (e) {
    noteError(command, e);
    // The server shows its own reason (window/showMessage); say something only when it could not have.
    if (!(e instanceof ResponseError)) {
      void vscode.window.showErrorMessage(`Codex: ${command} failed: ${errorText(e)}`);
    }
    return undefined;
  }
}

async function ask(): Promise<void> {
  const editor = activeEditor();
  if (!editor) return;
  const c = runningClient();
  if (!c) return;
  const instruction = await vscode.window.showInputBox({
    title: 'Codex: Ask',
    prompt: editor.selection.isEmpty
      ? 'What should Codex write at the cursor?'
      : 'What should Codex do with the selection?',
    placeHolder: 'e.g. handle the empty list case',
    ignoreFocusOut: true,
  });
  if (!instruction || !instruction.trim()) return;
  const result = await execute<RunResult>(c, 'codex.ask', {
    uri: c.code2ProtocolConverter.asUri(editor.document.uri),
    range: c.code2ProtocolConverter.asRange(editor.selection),
    instruction,
  });
  noteResult(result ?? null);
  void refreshChain();
}

async function explain(): Promise<void> {
  const editor = activeEditor();
  if (!editor) return;
  const c = runningClient();
  if (!c) return;
  const result = await execute<{ responseId?: string; text?: string }>(c, 'codex.explain', {
    uri: c.code2ProtocolConverter.asUri(editor.document.uri),
    range: c.code2ProtocolConverter.asRange(editor.selection),
  });
  if (result?.text) {
    // The server shows the answer itself (showMessage / showDocument); keep a copy in the log.
    output.appendLine(`[codex] explanation of ${vscode.workspace.asRelativePath(editor.document.uri)}:\n${result.text}\n`);
  }
  void refreshChain();
}

async function resetChain(): Promise<void> {
  const editor = activeEditor();
  if (!editor) return;
  const c = runningClient();
  if (!c) return;
  await resetChainOf(c, editor.document.uri);
}

async function resetChainOf(c: LanguageClient, file: vscode.Uri): Promise<void> {
  const uri = c.code2ProtocolConverter.asUri(file);
  const ok = await c
    .sendRequest(ExecuteCommandRequest.type, { command: 'codex.resetChain', arguments: [{ uri }] })
    .then(
      () => true,
      (e) => {
        noteError('codex.resetChain', e);
        return false;
      },
    );
  await refreshChain();
  if (ok) {
    void vscode.window.showInformationMessage(`Codex: the conversation for ${vscode.workspace.asRelativePath(file)} starts afresh.`);
  }
}

const RESET = 'Reset Conversation';

/** The active file's chain (`codex.chainInfo`) in a modal dialog, with a button that resets it. */
async function showConversation(): Promise<void> {
  const editor = activeEditor();
  if (!editor) return;
  const c = runningClient();
  if (!c) return;
  const file = editor.document.uri;
  const name = vscode.workspace.asRelativePath(file);
  const info = await execute<ChainInfo | null>(c, 'codex.chainInfo', { uri: c.code2ProtocolConverter.asUri(file) });
  if (info === undefined) return; // failed: the server has said why
  if (vscode.window.activeTextEditor?.document.uri.toString() === file.toString()) {
    status.setChain(chainOf(file, info));
  }
  if (info === null) {
    void vscode.window.showInformationMessage(`Codex: ${name} has no conversation yet; the next Codex action on it starts one.`);
    return;
  }
  const choice = await vscode.window.showInformationMessage(
    `Codex: the conversation for ${name}`,
    {
      modal: true,
      detail:
        `${turns(info.turns)}, last response ${info.responseId}.\n` +
        'The next Codex action on this file continues it. Reset it to start afresh.',
    },
    RESET,
  );
  if (choice === RESET) await resetChainOf(c, file);
}

/** What the status bar shows for `file`'s chain. */
function chainOf(file: vscode.Uri, info: ChainInfo | null): Chain {
  return { file: vscode.workspace.asRelativePath(file), turns: info?.turns ?? 0, responseId: info?.responseId };
}

/**
 * Show the active file's chain length in the status bar (after an editor change, an action, a reset, a start).
 * Quiet: a failed look-up only clears it and leaves a line in the log.
 */
async function refreshChain(): Promise<void> {
  const n = ++chainLookups;
  const c = client;
  const doc = vscode.window.activeTextEditor?.document;
  if (doc && !SCHEMES.has(doc.uri.scheme)) return; // an output channel or the like: keep the file's
  if (!c || !c.isRunning() || !doc) {
    status.setChain(undefined);
    return;
  }
  let chain: Chain | undefined;
  try {
    const info = await c.sendRequest(ExecuteCommandRequest.type, {
      command: 'codex.chainInfo',
      arguments: [{ uri: c.code2ProtocolConverter.asUri(doc.uri) }],
    });
    chain = chainOf(doc.uri, info as ChainInfo | null);
  } catch (e) {
    output.appendLine(`[codex] codex.chainInfo failed: ${errorText(e)}`);
  }
  if (n === chainLookups && client === c) status.setChain(chain);
}

async function setApiKey(): Promise<void> {
  const key = await vscode.window.showInputBox({
    title: 'Codex: Set API Key',
    prompt: 'Stored in VS Code\'s secret storage and passed to codex-lsp only through its environment (CODEX_LSP_API_KEY).',
    password: true,
    ignoreFocusOut: true,
    validateInput: (v) => (/\s/.test(v.trim()) ? 'An API key has no spaces.' : undefined),
  });
  if (key === undefined) return;
  if (!key.trim()) {
    await clearApiKey();
    return;
  }
  await ctx.secrets.store(SECRET_KEY, key.trim()); // onDidChange restarts the server
  void vscode.window.showInformationMessage('Codex: API key saved. The server restarts with it.');
}

async function clearApiKey(): Promise<void> {
  await ctx.secrets.delete(SECRET_KEY);
  void vscode.window.showInformationMessage(
    'Codex: API key removed. The server now uses CODEX_LSP_API_KEY or OPENAI_API_KEY from VS Code\'s environment, if set.',
  );
}

function cancel(): void {
  const c = client;
  const tokens = status.cancellable();
  if (!c || tokens.length === 0) {
    void vscode.window.showInformationMessage('Codex: nothing to cancel.');
    return;
  }
  for (const token of tokens) {
    void c.sendNotification(WorkDoneProgressCancelNotification.type, { token });
  }
  output.appendLine(`[codex] cancel requested for ${tokens.length} request(s)`);
}

// ---------------------------------------------------------------- results

function noteResult(result: RunResult | null): void {
  status.clearError();
  if (result && result.applied === false && result.message) {
    output.appendLine(`[codex] not applied: ${result.message}`);
    void vscode.window.showInformationMessage(`Codex: ${result.message}`);
  }
}

function noteError(command: string, e: unknown): void {
  const text = errorText(e);
  output.appendLine(`[codex] ${command} failed: ${text}`);
  // The server says what kind of failure it is (error.data.kind); message text is
  // only a fallback for servers that predate it.
  const kind = errorKind(e);
  // A cancelled request is not an error the user needs to see again.
  if (kind === 'cancelled' || (e instanceof ResponseError && e.code === -32800)) {
    status.clearError();
    return;
  }
  // Missing or rejected key: the item offers "Codex: Set API Key".
  const keyProblem = kind !== undefined ? kind === 'auth' : /api key|\b401\b/i.test(text);
  status.setError(text, keyProblem ? { command: 'codexLsp.setApiKey', hint: 'Click to set the API key.' } : undefined);
}

function errorKind(e: unknown): string | undefined {
  if (!(e instanceof ResponseError)) return undefined;
  const data: unknown = e.data;
  if (typeof data === 'object' && data !== null && typeof (data as { kind?: unknown }).kind === 'string') {
    return (data as { kind: string }).kind;
  }
  return undefined;
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
