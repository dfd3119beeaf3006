/**
 * A real S3-compatible server (s3rver) on loopback for tests: its own port, its own data
 * directory and one empty bucket, so test files never share objects.
 *
 * s3rver runs in a child Node process started with --openssl-legacy-provider: it encrypts
 * ListObjectsV2 continuation tokens with DES, which OpenSSL 3 refuses by default, so every
 * listing longer than one page would fail with HTTP 500 inside the jest worker. The child
 * exits when its stdin closes, so it cannot outlive a crashed test worker.
 */
import { spawn } from 'node:child_process';
import { tempDir } from './databases';

export interface TestS3Server {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

const CHILD_SCRIPT = `
const S3rver = require('s3rver');
const [directory, bucket] = process.argv.slice(1);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  vhostBuckets: false,
  configureBuckets: [{ name: bucket }],
});
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); },
);
process.stdin.on('end', () => server.close().finally(() => process.exit(0)));
process.stdin.resume();
`;

export async function startS3Server(bucket = 'strongroom-test'): Promise<TestS3Server> {
  const dir = tempDir('strongroom-s3rver-');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD_SCRIPT, dir.path, bucket], {
    // Resolve s3rver from the project, wherever the test file lives.
    cwd: process.cwd(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // A child that already died makes writes to its stdin fail with EPIPE; that is not an error here.
  child.stdin.on('error', () => undefined);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n')) {
          try {
            resolve((JSON.parse(line) as { port: number }).port);
          } catch {
            reject(new Error(`s3rver printed unexpected output: ${line}`));
          }
        }
      });
      child.once('error', reject);
      child.once('exit', (code) =>
        reject(new Error(`s3rver exited with code ${code} before listening: ${stderr.trim()}`)),
      );
    });
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    dir.remove();
    throw err;
  }

  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region: 'us-east-1',
    // s3rver's fixed credentials; they are test-only and grant nothing elsewhere.
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    async stop() {
      if (stopped) return;
      stopped = true;
      // Closing stdin asks the child to close its server; the kill covers a child that hangs.
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      dir.remove();
    },
  };
}
