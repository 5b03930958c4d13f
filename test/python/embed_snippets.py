"""Regenerate src/core/snippets.ts from snippets/*.py (the Python files are the source of truth).

    python3 test/python/embed_snippets.py

test/unit/snippets.test.ts fails when the two differ by a single byte.
"""
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SNIPPETS = [
    ("plain-loop", "optimizer_lens_plain_loop.py", "PyTorch: plain training loop",
     "OptimizerLensLogger: call before_step() / after_step() around optimizer.step(); writes per-layer "
     "param_rms, grad_rms, update_rms, rel_step, adam_u_rms, eps_dominated_frac and lr as JSONL every N steps."),
    ("hf-trainer-callback", "optimizer_lens_hf_callback.py", "Hugging Face Trainer callback",
     "OptimizerLensCallback for transformers.Trainer(callbacks=[...]): the same JSONL every logging_steps "
     "optimizer steps (transformers >= 4.41, or torch >= 2.0 step hooks)."),
    ("lightning-callback", "optimizer_lens_lightning_callback.py", "PyTorch Lightning callback",
     "OptimizerLensCallback for Trainer(callbacks=[...]): the same JSONL every N optimizer steps, "
     "measured around each optimizer step (gradient accumulation aware)."),
]


def template_literal(text):
    return "`" + text.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${") + "`"


def ts_string(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def main():
    out = [
        "// The logging snippets users paste into their training loop (command \"Insert Logging Snippet\").",
        "// GENERATED from snippets/*.py by test/python/embed_snippets.py: edit the .py files, then rerun it.",
        "// test/unit/snippets.test.ts checks that every `code` equals its .py file byte for byte.",
        "",
        "export type LoggingSnippetId = 'plain-loop' | 'hf-trainer-callback' | 'lightning-callback';",
        "",
        "export interface LoggingSnippet {",
        "  id: LoggingSnippetId;",
        "  label: string;",
        "  description: string;",
        "  /** Python source (plain text: insert it verbatim, not as a VS Code SnippetString). */",
        "  code: string;",
        "  /** The file under snippets/ the code comes from. */",
        "  file: string;",
        "}",
        "",
        "export const LOGGING_SNIPPETS: LoggingSnippet[] = [",
    ]
    for sid, file, label, description in SNIPPETS:
        with open(os.path.join(REPO, "snippets", file), encoding="utf-8", newline="") as f:
            code = f.read()
        out += [
            "  {",
            "    id: %s," % ts_string(sid),
            "    label: %s," % ts_string(label),
            "    description: %s," % ts_string(description),
            "    file: %s," % ts_string("snippets/" + file),
            "    code: %s," % template_literal(code),
            "  },",
        ]
    out += [
        "];",
        "",
        "export function loggingSnippet(id: LoggingSnippetId): LoggingSnippet {",
        "  const found = LOGGING_SNIPPETS.find((s) => s.id === id);",
        "  if (!found) throw new Error(`unknown logging snippet ${id}`);",
        "  return found;",
        "}",
        "",
    ]
    with open(os.path.join(REPO, "src", "core", "snippets.ts"), "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
