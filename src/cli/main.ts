import { ANALYZE_USAGE, runAnalyze, type CliIo } from './analyzeCommand';
import { VERSION } from '../core/version';
import { LINT_USAGE, runLint } from './lint';

const USAGE = `optimizer-lens ${VERSION} — optimizer diagnostics for training runs

Usage:
  optimizer-lens analyze PATH... [--json] [--step N] [--lr X] [--optimizer KIND] [--muon-scaling S]
                                 [--betas B1,B2] [--eps E] [--weight-decay W] [--fail-on error|warning]
  optimizer-lens lint FILE|DIR... [--json] [--fail-on error|warning] [--link RUN]
  optimizer-lens --version | --help

Run 'optimizer-lens analyze --help' or 'optimizer-lens lint --help' for the options.
Exit codes: 0 success, 1 --fail-on tripped, 2 unreadable input or bad usage.
`;

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'analyze':
      if (rest.includes('--help') || rest.includes('-h')) {
        io.stdout(ANALYZE_USAGE);
        return 0;
      }
      return runAnalyze(rest, io);
    case 'lint':
      if (rest.includes('--help') || rest.includes('-h')) {
        io.stdout(LINT_USAGE);
        return 0;
      }
      return runLint(rest, io);
    case '--version':
    case '-v':
      io.stdout(`${VERSION}\n`);
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      io.stdout(USAGE);
      return 0;
    default:
      io.stderr(`optimizer-lens: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

/** Entry point of bin/optimizer-lens.js. */
export function run(): void {
  const io: CliIo = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`optimizer-lens: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
