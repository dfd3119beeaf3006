import { randomBytes } from 'node:crypto';
import { startS3Server, type TestS3Server } from '../../../test/support/s3-server';
import { S3Storage, type S3StorageOptions } from './s3-storage';
import { describeStorageConformance } from './storage.conformance';
import { bufferStream, failingStream, readAll } from './storage-test-streams';

let server: TestS3Server;
const opened: S3Storage[] = [];

beforeAll(async () => {
  server = await startS3Server();
});

afterAll(async () => {
  for (const s of opened) s.destroy();
  await server.stop();
});

function open(overrides: Partial<S3StorageOptions> = {}): S3Storage {
  const storage = new S3Storage({
    bucket: server.bucket,
    // A fresh prefix per store: tests share one bucket but never see each other's objects.
    prefix: `t-${randomBytes(6).toString('hex')}`,
    region: server.region,
    endpoint: server.endpoint,
    forcePathStyle: true,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    // The S3 minimum, so the 30 MB conformance object really is a six-part multipart upload.
    partSize: 5 * 1024 * 1024,
    queueSize: 2,
    ...overrides,
  });
  opened.push(storage);
  return storage;
}

describeStorageConformance('s3', async () => ({ storage: open(), dispose: async () => undefined }));

describe('S3Storage (s3-only behaviour)', () => {
  it('keeps stores with different prefixes apart', async () => {
    const a = open({ prefix: 'tenant-a/' });
    const b = open({ prefix: 'tenant-a-b' });
    await a.put('k', bufferStream('from a'));
    await b.put('k', bufferStream('from b'));
    await expect(a.list('')).resolves.toEqual([expect.objectContaining({ key: 'k', size: 6 })]);
    await a.deletePrefix('k-does-not-exist');
    await expect(readAll(await b.get('k'))).resolves.toEqual(Buffer.from('from b'));
    await expect(readAll(await a.get('k'))).resolves.toEqual(Buffer.from('from a'));
  });

  it('describes its location without credentials', () => {
    const s = open({ endpoint: 'http://user:hunter2@127.0.0.1:1' });
    expect(s.location).not.toMatch(/hunter2|S3RVER|user/);
    expect(s.location).toContain(`s3://${server.bucket}/`);
  });

  it('fails clearly, without credentials, when the bucket does not exist', async () => {
    const s = open({ bucket: 'no-such-bucket', secretAccessKey: 'S3RVER' });
    const err = await s.check().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/s3 storage: failed to reach in s3:\/\/no-such-bucket\/.*NoSuchBucket/);
    expect(err?.message).not.toContain('S3RVER');
    await expect(s.put('x', bufferStream('x'))).rejects.toThrow(/failed to write "x".*NoSuchBucket/);
  });

  // s3rver checks the access key id but not SigV4 signatures, so an unknown id is the
  // credential failure it can produce.
  it('rejects unknown credentials with a message that does not echo them', async () => {
    const s = open({ accessKeyId: 'AKIAUNKNOWNKEYID0001', secretAccessKey: 'wrong-secret-value' });
    const err = await s.check().then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/InvalidAccessKeyId.*HTTP 403/);
    expect(err?.message).not.toMatch(/AKIAUNKNOWNKEYID0001|wrong-secret-value/);
    await expect(s.put('k', bufferStream('x'))).rejects.toThrow(/failed to write "k".*InvalidAccessKeyId/);
  });

  it('a failed multipart upload reports the source error first and aborts the upload', async () => {
    const s = open();
    const err = await s.put('mp', failingStream(11 * 1024 * 1024, 'export failed at row 9')).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^s3 storage: failed to write "mp" in .*: Error: export failed at row 9/);
    // s3rver does not implement AbortMultipartUpload, so its refusal is how this test sees that
    // the driver did send it; against real S3 the abort succeeds and the note is absent.
    expect(err?.message).toMatch(/aborting multipart upload [0-9a-f]+ also failed \(MethodNotAllowed/);
    await expect(s.stat('mp')).resolves.toBeNull();
  });

  it('deletePrefix pages through more objects than one listing returns', async () => {
    const s = open();
    const keys = Array.from({ length: 1100 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
    // Sequential puts would dominate the run time; a few at a time keeps s3rver happy.
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => s.put(k, bufferStream('x'))));
    }
    await s.put('other/keep', bufferStream('k'));
    await expect(s.list('many/')).resolves.toHaveLength(1100);
    await s.deletePrefix('many');
    await expect(s.list('')).resolves.toEqual([expect.objectContaining({ key: 'other/keep' })]);
  });

  it('validates its options up front', () => {
    expect(() => open({ partSize: 1024 })).toThrow(/partSize must be .* at least 5242880/);
    expect(() => open({ accessKeyId: 'only-id', secretAccessKey: undefined })).toThrow(
      /both accessKeyId and secretAccessKey/,
    );
    expect(() => open({ bucket: '' })).toThrow(/bucket is not set/);
  });
});
