import { join } from 'node:path';
import { tempDir } from '../../../test/support/databases';
import { LocalStorage } from './local-storage';
import { S3Storage } from './s3-storage';
import { createStorage } from './storage-factory';

describe('createStorage', () => {
  it('builds a local store rooted at localDir', () => {
    const dir = tempDir();
    try {
      const storage = createStorage({ driver: 'local', localDir: join(dir.path, 'b') });
      expect(storage).toBeInstanceOf(LocalStorage);
      expect(storage.location).toBe(join(dir.path, 'b'));
    } finally {
      dir.remove();
    }
  });

  it('builds an S3 store whose location names bucket and prefix but no secret', () => {
    const storage = createStorage({
      driver: 's3',
      localDir: '/unused',
      s3: {
        bucket: 'bk',
        prefix: 'prod/',
        region: 'eu-west-1',
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'very-secret',
      },
    });
    expect(storage).toBeInstanceOf(S3Storage);
    expect(storage.kind).toBe('s3');
    expect(storage.location).toBe('s3://bk/prod/');
    (storage as S3Storage).destroy();
  });

  it('fails clearly without S3 settings or with an unknown driver', () => {
    expect(() => createStorage({ driver: 's3', localDir: '/x' })).toThrow(/driver "s3" needs S3 settings/);
    expect(() => createStorage({ driver: 'ftp' as 'local', localDir: '/x' })).toThrow(/unknown driver "ftp"/);
  });
});
