// The logging snippets users paste into their training loop (command "Insert Logging Snippet"). Each is one
// self-contained block composed at load time from the core logger (snippets/optimizer_lens_core.py) and the
// adapter of its training loop: the Python files are the only source.
import { composeSnippet } from './compose';
import { CORE_FILE, type SnippetFile } from './files';
import { SNIPPET_SOURCES } from './sources';

export type LoggingSnippetId = 'plain-loop' | 'hf-trainer-callback' | 'lightning-callback';

export interface LoggingSnippet {
  id: LoggingSnippetId;
  label: string;
  description: string;
  /** Python source, the exact text the command inserts (plain text: insert it verbatim, not as a VS Code SnippetString). */
  code: string;
  /** The files under snippets/ the code is composed of: the adapter, then the core pasted into it. */
  sources: string[];
}

const CATALOG: { id: LoggingSnippetId; adapter: SnippetFile; label: string; description: string }[] = [
  {
    id: 'plain-loop',
    adapter: 'optimizer_lens_plain_loop.py',
    label: 'PyTorch: plain training loop',
    description:
      'OptimizerLensLogger: call before_step() / after_step() around optimizer.step(); writes per-layer param_rms, grad_rms, update_rms, rel_step, direction_rms (any optimizer), adam_u_rms, eps_dominated_frac, lr and the optimizer class as JSONL every N steps.',
  },
  {
    id: 'hf-trainer-callback',
    adapter: 'optimizer_lens_hf_callback.py',
    label: 'Hugging Face Trainer callback',
    description:
      'OptimizerLensCallback for transformers.Trainer(callbacks=[...]): the same JSONL every logging_steps optimizer steps (transformers >= 4.45, or torch >= 2.0 step hooks).',
  },
  {
    id: 'lightning-callback',
    adapter: 'optimizer_lens_lightning_callback.py',
    label: 'PyTorch Lightning callback',
    description:
      'OptimizerLensCallback for Trainer(callbacks=[...]): the same JSONL every N optimizer steps, measured around each optimizer step (gradient accumulation aware).',
  },
];

export const LOGGING_SNIPPETS: readonly LoggingSnippet[] = CATALOG.map(({ id, adapter, label, description }) => ({
  id,
  label,
  description,
  code: composeSnippet(SNIPPET_SOURCES[adapter], SNIPPET_SOURCES[CORE_FILE], adapter),
  sources: [`snippets/${adapter}`, `snippets/${CORE_FILE}`],
}));

export function loggingSnippet(id: LoggingSnippetId): LoggingSnippet {
  const found = LOGGING_SNIPPETS.find((s) => s.id === id);
  if (!found) throw new Error(`unknown logging snippet ${id}`);
  return found;
}
