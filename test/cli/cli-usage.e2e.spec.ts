/** The command line explains itself: `<command> --help` for every command, clean usage errors (exit 2), never node's raw parser text. */
import { COMMANDS } from '../../src/cli/args';
import { runCli } from './cli-process';

const RAW_PARSER_TEXT = /ERR_PARSE_ARGS|To specify a positional argument|TypeError/;

describe('command line usage', () => {
  it.each(Object.keys(COMMANDS))('%s --help prints its usage naming every option, exit 0', async (name) => {
    const [long, short, viaHelp] = await Promise.all([
      runCli([name, '--help'], {}),
      runCli([name, '-h'], {}),
      runCli(['help', name], {}),
    ]);
    for (const r of [long, short, viaHelp]) {
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: strongroom ${name}`);
      for (const option of Object.keys(COMMANDS[name as keyof typeof COMMANDS].options))
        expect(r.stdout).toContain(`--${option}`);
    }
  });

  it('prints the general usage for help, and makes no command a usage error', async () => {
    const [help, none] = await Promise.all([runCli(['--help'], {}), runCli([], {})]);
    expect(help.code).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(help.stdout).toContain(name);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/no command given[\s\S]*Usage: strongroom <command>/);
  });

  it.each([
    [['restore', '--bogus', 'x'], /unknown option --bogus/, 'restore'],
    [['restore', '00000000-0000-4000-8000-000000000000', '--mode'], /--mode needs a value/, 'restore'],
    [['restore', '--mode', '--yes', '00000000-0000-4000-8000-000000000000'], /--mode needs a value/, 'restore'],
    [['verify'], /expected one argument, got 0/, 'verify'],
    [['verify', '--deep=yes', 'x'], /--deep takes no value/, 'verify'],
    [['backup', '-x'], /unknown option -x/, 'backup'],
    [['list', 'extra'], /unexpected argument extra/, 'list'],
    [['backup', '--type', 'weekly'], /--type must be full, tables, audit or scope/, 'backup'],
    [
      ['restore', '00000000-0000-4000-8000-000000000000', '--database-url', 'postgres://h/db', '--create-roles'],
      /--create-roles applies to --create-schema restores/,
      'restore',
    ],
  ])('%j is a clean usage error with the command usage, exit 2', async (args, message, command) => {
    const r = await runCli(args, {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(`Usage: strongroom ${command}`);
    expect(r.stderr).not.toMatch(RAW_PARSER_TEXT);
  });

  it('names an unknown command and shows the general usage, exit 2', async () => {
    const r = await runCli(['frobnicate'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command frobnicate[\s\S]*Usage: strongroom <command>/);
  });
});
