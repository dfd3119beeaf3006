import {
  BadRequestException,
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  PayloadTooLargeException,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import multer, { MulterError } from 'multer';
import { tmpdir } from 'node:os';
import type { Observable } from 'rxjs';
import { AppConfig } from '../config/app-config';

/**
 * Receives the archive of `POST /api/backups/import` into a temporary file, at most
 * IMPORT_MAX_BYTES of it. Beyond that multer stops writing and removes the partial file,
 * and the request ends as a 413 naming the limit: nothing of an oversized upload is kept.
 * (The handler removes the complete file once the import is done, whatever its outcome.)
 */
@Injectable()
export class ImportUploadInterceptor implements NestInterceptor {
  private readonly upload: ReturnType<ReturnType<typeof multer>['single']>;

  constructor(private readonly config: AppConfig) {
    this.upload = multer({
      storage: multer.diskStorage({ destination: config.IMPORT_TMP_DIR || tmpdir() }),
      limits: { fileSize: config.IMPORT_MAX_BYTES, files: 1 },
    }).single('file');
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    await new Promise<void>((resolve, reject) => {
      this.upload(http.getRequest<Request>(), http.getResponse<Response>(), (err: unknown) =>
        err ? reject(this.toHttp(err)) : resolve(),
      );
    });
    return next.handle();
  }

  private toHttp(err: unknown): unknown {
    // A system error (the temp directory full or unwritable) is the service's, not the client's.
    if (err instanceof Error && 'syscall' in err) return err;
    // Anything else the multipart parser throws (no boundary, a malformed part, a cut-off body) is a bad request.
    if (!(err instanceof MulterError))
      return new BadRequestException([
        `file: the multipart body could not be read (${err instanceof Error ? err.message : String(err)})`,
      ]);
    if (err.code === 'LIMIT_FILE_SIZE') {
      return new PayloadTooLargeException(
        `file: the archive is larger than IMPORT_MAX_BYTES (${this.config.IMPORT_MAX_BYTES} bytes); nothing was kept`,
      );
    }
    return new BadRequestException([`${err.field ?? 'file'}: ${err.message}`]);
  }
}
