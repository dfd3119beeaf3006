import { AllowedInMaintenance } from '../maintenance/maintenance.guard';
import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  Header,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
  Req,
  Res,
  UploadedFile,
  UseInterceptors,
  BadRequestException,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Audit, Roles } from '../auth/auth.decorators';
import { ApiErrors, BODY_ERRORS, UNREAD_BODY_ERRORS } from '../common/openapi';
import { ExpensiveRoute } from '../common/expensive-route';
import { roleAtLeast } from '../auth/roles';
import type { RequestWithContext } from '../common/request-context';
import { BackupArchiveService } from './backup-archive.service';
import { BackupCatalogService } from './backup-catalog.service';
import { BackupsService } from './backups.service';
import { ImportUploadInterceptor } from './import-upload.interceptor';
import {
  BackupDetailDto,
  BackupDto,
  BackupPageDto,
  BackupStatsDto,
  CreateBackupDto,
  DeleteBackupQueryDto,
  ImportBackupDto,
  ListBackupsQueryDto,
  RescanQueryDto,
  RescanResultDto,
  UpdateBackupDto,
  VerifyBackupDto,
  VerifyResultDto,
} from './dto/backup.dto';

const UUID = new ParseUUIDPipe();

@ApiTags('Backups')
@Controller('api/backups')
export class BackupsController {
  constructor(
    private readonly backups: BackupsService,
    private readonly catalog: BackupCatalogService,
    private readonly archive: BackupArchiveService,
  ) {}

  @Post()
  @HttpCode(202)
  @Roles('operator')
  @Audit('backup.create', 'backup')
  @ExpensiveRoute()
  @ApiOperation({
    operationId: 'createBackup',
    summary: 'Start a backup (runs in the background; 409 while another backup or restore runs)',
  })
  @ApiAcceptedResponse({
    type: BackupDto,
    description: 'The backup, pending or running; Location names it',
    headers: { Location: { description: '/api/backups/{id}', schema: { type: 'string' } } },
  })
  @ApiErrors(
    [400, 'Invalid input, or a table that does not exist (named)'],
    [409, 'Another backup or restore of this database is running'],
    413,
    415,
  )
  async create(@Body() dto: CreateBackupDto, @Res({ passthrough: true }) res: Response): Promise<BackupDto> {
    const backup = await this.backups.start({ ...dto, type: dto.type ?? 'full', trigger: 'manual' });
    res.locals.auditResourceId = backup.id;
    res.setHeader('Location', `/api/backups/${backup.id}`);
    return backup;
  }

  @Get()
  @Roles('auditor')
  @ApiOperation({ operationId: 'listBackups', summary: 'List backups, newest first' })
  @ApiOkResponse({ type: BackupPageDto })
  @ApiErrors([400, 'A bad filter, limit or cursor (named)'])
  // The page is written as JSON text by the lean read path (backup-rows.ts), byte for byte what
  // the BackupPageDto object would serialize to; the header is the one res.json() would set.
  @Header('Content-Type', 'application/json; charset=utf-8')
  list(@Query() q: ListBackupsQueryDto): Promise<string> {
    const { limit, cursor, ...filter } = q;
    return this.catalog.listJson(filter, limit ?? 50, cursor);
  }

  @Get('stats')
  @Roles('auditor')
  @ApiOperation({ operationId: 'getBackupStats', summary: 'Catalog totals' })
  @ApiOkResponse({ type: BackupStatsDto })
  stats(): Promise<BackupStatsDto> {
    return this.catalog.stats();
  }

  @Post('import')
  @Roles('admin')
  @Audit('backup.import', 'backup')
  @ExpensiveRoute()
  @UseInterceptors(ImportUploadInterceptor)
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: ImportBackupDto })
  @ApiOperation({
    operationId: 'importBackup',
    summary:
      'Import an archive from download; 422 when corrupt, foreign, not authenticated under the configured key (ALLOW_UNAUTHENTICATED_ARCHIVES), or with crafted ids or key-derivation parameters; 413 beyond IMPORT_MAX_BYTES (nothing is kept)',
  })
  @ApiCreatedResponse({ type: BackupDetailDto, description: 'The imported backup (trigger import), verified' })
  @ApiErrors(
    [400, 'No multipart field "file", or a multipart body that cannot be read'],
    [409, "A backup with the archive's id is already in the catalog"],
    [413, 'The upload is larger than IMPORT_MAX_BYTES; nothing is kept'],
    [415, 'Content-Type or Content-Encoding not accepted: send multipart/form-data'],
    [422, 'Corrupt, foreign or unauthenticated archive; nothing is kept'],
  )
  async import(@UploadedFile() file: Express.Multer.File | undefined): Promise<BackupDetailDto> {
    if (!file) throw new BadRequestException(['file: a multipart field "file" with the archive is required']);
    try {
      return await this.archive.import(file.path);
    } finally {
      await rm(file.path, { force: true });
    }
  }

  @Post('rescan')
  @Roles('admin')
  @Audit('backup.rescan', 'backup')
  @ApiOperation({
    operationId: 'rescanBackups',
    summary:
      'Rebuild the catalog from storage (or, with from=offsite, from the offsite storage alone): catalog manifests it lacks, flag rows whose manifest is gone',
    description:
      'Only manifests in `backups/{their own id}/` that authenticate under the configured key are catalogued; the rest are listed in `skipped`.',
  })
  @ApiCreatedResponse({ type: RescanResultDto })
  @ApiErrors(
    [400, 'A body (this route takes none) that is not valid JSON, or from=offsite without OFFSITE_STORAGE'],
    ...UNREAD_BODY_ERRORS,
  )
  rescan(@Query() q: RescanQueryDto): Promise<RescanResultDto> {
    return this.catalog.rescan(q.from ?? 'primary');
  }

  @Get(':id')
  @Roles('auditor')
  @ApiOperation({
    operationId: 'getBackup',
    summary: 'One backup, with its inventory and exclusions (which lists leave out)',
  })
  @ApiOkResponse({ type: BackupDetailDto })
  @ApiErrors([400, 'id is not a UUID'], [404, 'No such backup'])
  get(@Param('id', UUID) id: string): Promise<BackupDetailDto> {
    return this.catalog.get(id);
  }

  @Patch(':id')
  @Roles('operator')
  @Audit('backup.update', 'backup')
  @ApiOperation({
    operationId: 'updateBackup',
    summary:
      'Edit description and tags; pinning needs admin. An empty patch changes nothing and answers the backup; null is refused for tags and pinned',
  })
  @ApiOkResponse({ type: BackupDetailDto })
  @ApiErrors(...BODY_ERRORS, [403, 'Needs role operator or higher; pinned needs admin'], [404, 'No such backup'])
  update(
    @Param('id', UUID) id: string,
    @Body() dto: UpdateBackupDto,
    @Req() req: RequestWithContext,
  ): Promise<BackupDetailDto> {
    if (dto.pinned !== undefined && !roleAtLeast(req.actor?.role, 'admin'))
      throw new ForbiddenException('pinning a backup needs the admin role');
    // An empty patch changes nothing (as a JSON merge patch `{}` does): answer the backup as it is.
    if (dto.description === undefined && dto.tags === undefined && dto.pinned === undefined)
      return this.catalog.get(id);
    return this.catalog.update(id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @Roles('admin')
  @Audit('backup.delete', 'backup')
  @ExpensiveRoute()
  @ApiOperation({
    operationId: 'deleteBackup',
    summary: 'Delete a backup from storage and the catalog (409 when pinned or running)',
  })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(
    ...UNREAD_BODY_ERRORS,
    [400, 'id is not a UUID, a bad reason, or an unreadable body'],
    [404, 'No such backup'],
    [409, 'The backup is pinned, pending or running'],
    [503, 'The offsite copy could not be deleted (offsite storage unreachable); nothing was deleted'],
  )
  async delete(@Param('id', UUID) id: string, @Query() q: DeleteBackupQueryDto): Promise<void> {
    await this.catalog.delete(id, { reason: q.reason });
  }

  @Get(':id/download')
  @Roles('admin')
  @Audit('backup.download', 'backup', { always: true })
  @ExpensiveRoute()
  @ApiOperation({ operationId: 'downloadBackup', summary: 'The backup as one tar archive, importable as it is' })
  @ApiOkResponse({
    description: 'The archive (Content-Disposition: attachment)',
    content: { 'application/x-tar': { schema: { type: 'string', format: 'binary' } } },
    headers: {
      'Content-Disposition': { description: 'attachment; filename="strongroom-….tar"', schema: { type: 'string' } },
      'X-Strongroom-Copy': {
        description:
          'The copy streamed: primary, or offsite when the primary copy is missing or corrupt (checked first whenever an offsite copy exists)',
        schema: { type: 'string', enum: ['primary', 'offsite'] },
      },
    },
  })
  @ApiErrors([400, 'id is not a UUID'], [404, 'No such backup'], [409, 'The backup is not completed'])
  async download(@Param('id', UUID) id: string, @Res() res: Response): Promise<void> {
    const { stream, filename, source } = await this.archive.download(id);
    res.setHeader('Content-Type', 'application/x-tar');
    res.setHeader('X-Strongroom-Copy', source);
    res.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
    await pipeline(stream, res);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @Roles('operator')
  @Audit('backup.cancel', 'backup')
  // Stopping work is never refused for maintenance: cancelling the restore that holds it is how an admin ends it early.
  @AllowedInMaintenance()
  @ApiOperation({
    operationId: 'cancelBackup',
    summary:
      'Stop a pending or running backup: it ends cancelled and leaves no parts in storage (202; it stops within about a second, on any instance)',
  })
  @ApiAcceptedResponse({
    type: BackupDto,
    description: 'The backup; its status becomes cancelled once the job has stopped',
  })
  @ApiErrors(
    ...UNREAD_BODY_ERRORS,
    [400, 'id is not a UUID'],
    [404, 'No such backup'],
    [409, 'The backup has already finished, or is writing its manifest (too late to cancel)'],
  )
  cancel(@Param('id', UUID) id: string): Promise<BackupDto> {
    return this.backups.cancel(id);
  }

  @Post(':id/verify')
  @HttpCode(200)
  @Roles('operator')
  @Audit('backup.verify', 'backup')
  @ApiOperation({
    operationId: 'verifyBackup',
    summary: 'Read every stored byte; deep also restores into a scratch database and compares',
  })
  @ApiOkResponse({ type: VerifyResultDto, description: 'The checks; ok is false when any failed (still 200)' })
  @ApiErrors(...BODY_ERRORS, [404, 'No such backup'], [409, 'The backup is not completed'])
  verify(@Param('id', UUID) id: string, @Body() dto: VerifyBackupDto): Promise<VerifyResultDto> {
    return this.archive.verify(id, dto.deep ?? false);
  }
}
