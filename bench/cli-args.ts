/** `--name value` pairs for the benchmark entry points; a missing required option is named. */
export function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}" (options are --name value)`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out.set(a.slice(2), 'true');
    else {
      out.set(a.slice(2), next);
      i++;
    }
  }
  return out;
}

export function required(args: Map<string, string>, name: string): string {
  const v = args.get(name);
  if (!v) throw new Error(`option --${name} is required`);
  return v;
}

/** Runs an async main; prints the error (never an env dump) and sets a failing exit code. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
