import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { Audit, Roles } from '../auth/auth.decorators';
import { ApiErrors } from '../common/openapi';
import { AuditProofs } from './audit-proofs.service';
import { AuditService } from './audit.service';
import { AuditPageDto, AuditVerifyDto, ExportAuditQueryDto, ListAuditQueryDto } from './dto/audit-query.dto';

@ApiTags('Audit trail')
@Controller('api/audit')
@Roles('auditor')
export class AuditController {
  constructor(
    private readonly audit: AuditService,
    private readonly proofs: AuditProofs,
  ) {}

  @Get()
  @Audit('audit.read', 'audit', { always: true })
  @ApiOperation({ operationId: 'listAuditEvents', summary: 'List audit events, newest first' })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiErrors([400, 'A bad filter, limit or cursor (named)'])
  list(@Query() q: ListAuditQueryDto): Promise<AuditPageDto> {
    const { limit, cursor, ...filter } = q;
    return this.audit.list(filter, limit ?? 50, cursor);
  }

  @Get('verify')
  @Audit('audit.verify', 'audit', { always: true })
  @ApiOperation({
    operationId: 'verifyAuditTrail',
    summary:
      'Recompute every link of the chain and the Merkle root of every signed checkpoint; name the first bad entry',
  })
  @ApiOkResponse({
    type: AuditVerifyDto,
    description: 'The result; ok is false when the chain or a checkpoint is bad (still 200)',
  })
  async verify(): Promise<AuditVerifyDto> {
    // The same verifier as the offline `audit verify --export` (engine/audit/trail-verifier.ts).
    const v = await this.proofs.verify();
    const { latest: _latest, ...checkpoints } = v.checkpoints;
    return { ...v.chain, ok: v.ok, checkpoints };
  }

  @Get('export')
  @Audit('audit.export', 'audit', { always: true })
  @ApiOperation({ operationId: 'exportAuditTrail', summary: 'Stream the whole trail (or from/to) as NDJSON or CSV' })
  @ApiOkResponse({
    description: 'The events, oldest first: one JSON event per line (ndjson) or CSV with a header row',
    content: { 'application/x-ndjson': { schema: { type: 'string' } }, 'text/csv': { schema: { type: 'string' } } },
  })
  @ApiErrors([400, 'A bad format, from or to (named)'])
  async export(@Query() q: ExportAuditQueryDto, @Res() res: Response): Promise<void> {
    const format = q.format ?? 'ndjson';
    res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    res.setHeader('Content-Disposition', `attachment; filename="audit.${format === 'csv' ? 'csv' : 'ndjson'}"`);
    await pipeline(this.audit.export(format, { from: q.from, to: q.to }), res);
  }
}
