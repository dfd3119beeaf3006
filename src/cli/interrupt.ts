import type { Terminal } from './terminal';

/**
 * Ctrl-C (SIGINT) during a backup or a restore: the first one cancels the job, which cleans up
 * after itself (a backup removes its parts, a restore rolls back and removes staged files), and
 * the command then says what happened and exits 1. A second Ctrl-C quits at once; whatever
 * the job left is cleaned up by the next start of the service (an interrupted job is ended,
 * its lease freed, its parts removed or its staged files rolled back).
 */
export function onInterrupt(cancel: () => void, term: Terminal): () => void {
  let count = 0;
  const handler = () => {
    count++;
    if (count > 1) process.exit(130);
    term.info('interrupted (Ctrl-C): cancelling and cleaning up; press Ctrl-C again to quit at once');
    cancel();
  };
  process.on('SIGINT', handler);
  return () => void process.off('SIGINT', handler);
}
