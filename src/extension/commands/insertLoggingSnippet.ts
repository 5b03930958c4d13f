// Insert Logging Snippet: per-layer logging for a plain PyTorch loop, an HF TrainerCallback or a Lightning
// Callback, at the cursor of the active Python editor or in a new Python document.

import * as vscode from 'vscode';

/** Returns the inserted snippet's id, or undefined when nothing was inserted. */
export async function insertLoggingSnippet(_context: vscode.ExtensionContext, snippetId?: string): Promise<string | undefined> {
  const { LOGGING_SNIPPETS } = await import('../../core/snippets');
  let snippet = snippetId ? LOGGING_SNIPPETS.find((s) => s.id === snippetId) : undefined;
  if (snippetId && !snippet) {
    void vscode.window.showErrorMessage(
      `Optimizer Lens: no logging snippet "${snippetId}" (${LOGGING_SNIPPETS.map((s) => s.id).join(', ')}).`,
    );
    return undefined;
  }
  if (!snippet) {
    const picked = await vscode.window.showQuickPick(
      LOGGING_SNIPPETS.map((s) => ({ label: s.label, detail: s.description, id: s.id })),
      { title: 'Optimizer Lens: insert a logging snippet', placeHolder: 'Which training loop?', matchOnDetail: true },
    );
    snippet = picked ? LOGGING_SNIPPETS.find((s) => s.id === picked.id) : undefined;
  }
  if (!snippet) return undefined;
  const code = snippet.code;
  const editor = vscode.window.activeTextEditor;
  if (editor && editor.document.languageId === 'python' && !editor.document.isClosed) {
    const at = editor.selection.active;
    const prefix = at.character > 0 ? '\n' : '';
    await editor.edit((b) => b.insert(at, prefix + code));
  } else {
    const doc = await vscode.workspace.openTextDocument({ language: 'python', content: code });
    await vscode.window.showTextDocument(doc);
  }
  return snippet.id;
}
