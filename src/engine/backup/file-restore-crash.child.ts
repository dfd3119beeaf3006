/**
 * Crash-test child: restores a file-artefact tar into the given roots and kills itself with
 * SIGKILL at one named step of the swap (argv: tar file, JSON array of roots, step, root index
 * or "-"). Run by file-restore-crash.int.spec.ts only; the hook is how the test picks the moment.
 */
import { createReadStream } from 'node:fs';
import { unpackFileArtefacts } from './file-artefacts';

const [tarFile, rootsJson, killAt, killRoot] = process.argv.slice(2);

unpackFileArtefacts(createReadStream(tarFile), JSON.parse(rootsJson) as string[], {
  hook: (step, root) => {
    if (step === killAt && (killRoot === '-' || String(root) === killRoot)) process.kill(process.pid, 'SIGKILL');
  },
}).then(
  () => process.stdout.write('finished\n'),
  (e: Error) => {
    process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  },
);
