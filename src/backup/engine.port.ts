import { Injectable } from '@nestjs/common';
import { AppConfig, dialectOptions } from '../config/app-config';
import type { Manifest } from '../engine/archive/manifest.types';
import { readManifest } from '../engine/backup/read-backup';
import { createDialect } from '../engine/dialects/create-dialect';
import type { Dialect } from '../engine/dialects/dialect';
import type { BackupStorage } from '../engine/storage/storage';

/**
 * What the job services ask of the engine when they decide something (did an interrupted
 * backup store its manifest, did an interrupted restore commit), behind one injectable seam:
 * unit specs give the services a fake of this port, while the engine itself is tested against
 * real databases and storage.
 */
export abstract class EnginePort {
  /** The backup's manifest, read back and checked; rejects when there is none or it is unsound. */
  abstract readManifest(storage: BackupStorage, dir: string): Promise<Manifest>;
  /** A connection to `url` with the configured engine settings; the caller closes it. */
  abstract openDialect(url: string): Dialect;
}

@Injectable()
export class Engine extends EnginePort {
  constructor(private readonly config: AppConfig) {
    super();
  }

  readManifest(storage: BackupStorage, dir: string): Promise<Manifest> {
    return readManifest(storage, dir);
  }

  openDialect(url: string): Dialect {
    return createDialect(url, dialectOptions(this.config));
  }
}
