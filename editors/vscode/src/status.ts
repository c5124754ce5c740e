import * as vscode from 'vscode';
import type { ProgressToken, WorkDoneProgressBegin, WorkDoneProgressEnd, WorkDoneProgressReport } from 'vscode-languageclient/node';

type Progress = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

/** The active file's conversation with the model (`codex.chainInfo`). */
export interface Chain {
  /** The file, as shown to the user (workspace-relative). */
  file: string;
  /** Turns so far; 0 when the file has no conversation. */
  turns: number;
  responseId?: string;
}

interface Work {
  title: string;
  message?: string;
  percentage?: number;
  cancellable: boolean;
}

/**
 * The status bar item: idle / working (driven by the server's `$/progress`) / error / off.
 * While working, clicking it cancels the server's requests (`window/workDoneProgress/cancel`).
 * When idle it shows the active file's conversation length; clicking it shows the conversation.
 */
export class Status implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly work = new Map<ProgressToken, Work>();
  private error: { message: string; fix?: { command: string; hint: string } } | undefined;
  private off: { text: string; tooltip: string; command?: string } | undefined;
  private starting = true; // until the extension decides (start, untrusted, missing binary)
  private chain: Chain | undefined;

  constructor() {
    this.item = vscode.window.createStatusBarItem('codexLsp.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Codex';
    this.render();
    this.item.show();
  }

  /** Feed every `$/progress` value of the server here. */
  progress(token: ProgressToken, value: Progress): void {
    if (value.kind === 'begin') {
      this.error = undefined;
      this.work.set(token, {
        title: value.title,
        message: value.message,
        percentage: value.percentage,
        cancellable: value.cancellable ?? false,
      });
    } else if (value.kind === 'report') {
      const w = this.work.get(token);
      if (w) {
        if (value.message !== undefined) w.message = value.message;
        if (value.percentage !== undefined) w.percentage = value.percentage;
        if (value.cancellable !== undefined) w.cancellable = value.cancellable;
      }
    } else {
      this.work.delete(token);
    }
    this.render();
  }

  /** Tokens of the server's work in progress that can be cancelled. */
  cancellable(): ProgressToken[] {
    return [...this.work.entries()].filter(([, w]) => w.cancellable).map(([t]) => t);
  }

  working(): boolean {
    return this.work.size > 0;
  }

  /** The last request failed; `fix` is what clicking the item does instead of showing the log. */
  setError(message: string, fix?: { command: string; hint: string }): void {
    this.error = { message, fix };
    this.render();
  }

  clearError(): void {
    this.error = undefined;
    this.render();
  }

  /** The server is not running on purpose (untrusted workspace, missing binary): say why. */
  setOff(text: string, tooltip: string, command?: string): void {
    this.off = { text, tooltip, command };
    this.starting = false;
    this.work.clear();
    this.render();
  }

  /** The server is being started (until `setOn`). */
  setStarting(): void {
    this.off = undefined;
    this.starting = true;
    this.render();
  }

  setOn(): void {
    this.off = undefined;
    this.starting = false;
    this.render();
  }

  /** The active file's conversation; undefined: no file, or not known (server not running). */
  setChain(chain: Chain | undefined): void {
    this.chain = chain;
    this.render();
  }

  /** The server stopped: its progress will never end, and what it knew of the chains is gone with it. */
  reset(): void {
    this.work.clear();
    this.chain = undefined;
    this.render();
  }

  private render(): void {
    const item = this.item;
    void vscode.commands.executeCommand('setContext', 'codexLsp.working', this.work.size > 0);
    item.backgroundColor = undefined;
    if (this.off) {
      item.text = this.off.text;
      item.tooltip = this.off.tooltip;
      item.command = this.off.command;
      return;
    }
    if (this.starting) {
      item.text = '$(loading~spin) Codex: starting';
      item.tooltip = 'Codex: starting the codex-lsp server. Click to show the log.';
      item.command = 'codexLsp.showLog';
      return;
    }
    if (this.work.size > 0) {
      const [first] = this.work.values();
      const more = this.work.size > 1 ? ` (+${this.work.size - 1})` : '';
      const pct = first.percentage !== undefined ? ` ${first.percentage}%` : '';
      // The server's titles already read "Codex: Refactor".
      const title = first.title.startsWith('Codex') ? first.title : `Codex: ${first.title}`;
      item.text = `$(sync~spin) ${title}${pct}${more}`;
      const lines = [...this.work.values()].map((w) => `${w.title}${w.message ? ` — ${w.message}` : ''}`);
      item.tooltip = `${lines.join('\n')}\n\nClick to cancel.`;
      item.command = 'codexLsp.cancel';
      return;
    }
    if (this.error !== undefined) {
      item.text = '$(error) Codex';
      item.tooltip = `${this.error.message}\n\n${this.error.fix?.hint ?? 'Click to show the log.'}`;
      item.command = this.error.fix?.command ?? 'codexLsp.showLog';
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      return;
    }
    const chain = this.chain;
    if (chain) {
      item.text = `$(sparkle) Codex $(comment-discussion) ${chain.turns}`;
      const last = chain.responseId ? `, last response ${chain.responseId}` : '';
      item.tooltip = `Codex: idle. ${chain.file}: ${turns(chain.turns)} in its conversation${last}. Click to show the conversation.`;
      item.command = 'codexLsp.showConversation';
      return;
    }
    item.text = '$(sparkle) Codex';
    item.tooltip = 'Codex: idle. Select code and press Ctrl+. for Codex actions. Click to show the log.';
    item.command = 'codexLsp.showLog';
  }

  dispose(): void {
    this.item.dispose();
  }
}

/** "1 turn", "3 turns". */
export function turns(n: number): string {
  return `${n} turn${n === 1 ? '' : 's'}`;
}
