// tsconfig.core.json maps the module 'vscode' to this file. It is deliberately not a module, so any
// `import … from 'vscode'` in src/core or src/cli fails the build with "is not a module" (TS2306):
// core runs in the CLI and in worker threads, where there is no vscode API.
declare const OPTIMIZER_LENS_CORE_MUST_NOT_IMPORT_VSCODE: never;
