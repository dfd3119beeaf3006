/** Talking to the person at the terminal: progress and questions on stderr, results on stdout. */
import { createInterface } from 'node:readline/promises';
import { CommandFailed } from './cli-errors';

export interface Terminal {
  /** A result line (stdout), e.g. the id of a new backup. */
  out(line: string): void;
  /** A message (stderr). */
  info(line: string): void;
  /** Progress: rewritten in place on a TTY; on a pipe only phase changes are printed. */
  progress(line: string, phase: string): void;
  /** Ends an in-place progress line. */
  done(): void;
}

export function processTerminal(): Terminal {
  const tty = !!process.stderr.isTTY;
  let lastPhase = '';
  let open = false;
  return {
    out: (line) => void process.stdout.write(`${line}\n`),
    info(line) {
      if (open) process.stderr.write('\n');
      open = false;
      process.stderr.write(`${line}\n`);
    },
    progress(line, phase) {
      if (tty) {
        process.stderr.write(`\r\x1b[2K${line}`);
        open = true;
      } else if (phase !== lastPhase) {
        process.stderr.write(`${line}\n`);
      }
      lastPhase = phase;
    },
    done() {
      if (open) process.stderr.write('\n');
      open = false;
    },
  };
}

/**
 * Restores overwrite data: ask on a TTY unless --yes; without a TTY there is nobody to ask,
 * so refuse rather than assume.
 */
export async function confirmOrRefuse(question: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY)
    throw new CommandFailed(`${question}\nRefusing: stdin is not a terminal. Pass --yes to confirm non-interactively.`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question}\nType "yes" to continue: `);
    if (answer.trim().toLowerCase() !== 'yes') throw new CommandFailed('Cancelled: nothing was changed.');
  } finally {
    rl.close();
  }
}
