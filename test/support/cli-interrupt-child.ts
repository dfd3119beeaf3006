/**
 * The real command line (src/cli.ts main), with Ctrl-C pressed at a known moment: SIGINT is sent
 * to this process as the restore hands its commit marker to the table restore, i.e. with the
 * file artefacts staged and the restore's transaction about to begin. argv: the CLI's arguments.
 */
import { main } from '../../src/cli';
import { FileCommit } from '../../src/recovery/file-commit';

const proto = FileCommit.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
const marker = proto.marker;
proto.marker = function (this: FileCommit, ...args: unknown[]) {
  process.kill(process.pid, 'SIGINT');
  return marker.apply(this, args);
};

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
