import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { Audit, Roles } from '../auth/auth.decorators';
import { AuditService } from './audit.service';
import { AuditPageDto, AuditVerifyDto, ExportAuditQueryDto, ListAuditQueryDto } from './dto/audit-query.dto';

@ApiTags('Audit trail')
@Controller('api/audit')
@Roles('auditor')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Audit('audit.read', 'audit', { always: true })
  @ApiOperation({ summary: 'List audit events, newest first' })
  @ApiOkResponse({ type: AuditPageDto })
  list(@Query() q: ListAuditQueryDto) {
    const { limit, cursor, ...filter } = q;
    return this.audit.list(filter, limit ?? 50, cursor);
  }

  @Get('verify')
  @Audit('audit.verify', 'audit', { always: true })
  @ApiOperation({ summary: 'Recompute every link of the chain and name the first bad entry' })
  @ApiOkResponse({ type: AuditVerifyDto })
  verify() {
    return this.audit.verify();
  }

  @Get('export')
  @Audit('audit.export', 'audit', { always: true })
  @ApiOperation({ summary: 'Stream the whole trail (or from/to) as NDJSON or CSV' })
  @ApiProduces('application/x-ndjson', 'text/csv')
  async export(@Query() q: ExportAuditQueryDto, @Res() res: Response): Promise<void> {
    const format = q.format ?? 'ndjson';
    res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    res.setHeader('Content-Disposition', `attachment; filename="audit.${format === 'csv' ? 'csv' : 'ndjson'}"`);
    await pipeline(this.audit.export(format, { from: q.from, to: q.to }), res);
  }
}
