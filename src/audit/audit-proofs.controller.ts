import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit, Public, Roles } from '../auth/auth.decorators';
import { PageQueryDto } from '../common/pagination';
import { ApiErrors } from '../common/openapi';
import { AuditProofs } from './audit-proofs.service';
import {
  AuditCheckpointDto,
  AuditCheckpointPageDto,
  AuditConsistencyDto,
  AuditConsistencyQueryDto,
  AuditInclusionDto,
  AuditProofQueryDto,
  AuditPublicKeyDto,
  AuditSeqParamDto,
} from './dto/audit-proofs.dto';

/**
 * The checkpoint public key: public, and a controller of its own, since the role on the
 * proofs controller would mark it as needing a key in the OpenAPI document.
 */
@ApiTags('Audit trail')
@Controller('api/audit')
export class AuditPublicKeyController {
  constructor(private readonly proofs: AuditProofs) {}

  @Get('public-key')
  @Public()
  @ApiOperation({
    operationId: 'getAuditPublicKey',
    summary: 'The Ed25519 public key that signs audit checkpoints (public: pin it outside the operator’s reach)',
  })
  @ApiOkResponse({ type: AuditPublicKeyDto })
  @ApiErrors()
  publicKey(): Promise<AuditPublicKeyDto> {
    return this.proofs.publicKey();
  }
}

/** Signed checkpoints and Merkle proofs of the audit trail (docs/audit-trail.md). */
@ApiTags('Audit trail')
@Controller('api/audit')
@Roles('auditor')
export class AuditProofsController {
  constructor(private readonly proofs: AuditProofs) {}

  @Get('checkpoints')
  @Audit('audit.read', 'audit', { always: true })
  @ApiOperation({ operationId: 'listAuditCheckpoints', summary: 'The signed checkpoints, newest first' })
  @ApiOkResponse({ type: AuditCheckpointPageDto })
  @ApiErrors([400, 'A bad limit or cursor (named)'])
  list(@Query() q: PageQueryDto): Promise<AuditCheckpointPageDto> {
    return this.proofs.list(q.limit ?? 50, q.cursor);
  }

  @Get('checkpoints/latest')
  @Audit('audit.read', 'audit', { always: true })
  @ApiOperation({ operationId: 'getLatestAuditCheckpoint', summary: 'The latest signed checkpoint' })
  @ApiOkResponse({ type: AuditCheckpointDto })
  @ApiErrors([404, 'No checkpoint has been signed yet'])
  latest(): Promise<AuditCheckpointDto> {
    return this.proofs.latest();
  }

  @Get('consistency')
  @Audit('audit.read', 'audit', { always: true })
  @ApiOperation({
    operationId: 'getAuditConsistencyProof',
    summary: 'Proof that the tree of `from` events is a prefix of the tree of `to` events',
  })
  @ApiOkResponse({ type: AuditConsistencyDto })
  @ApiErrors([400, 'A bad from or to (named), or beyond the latest checkpoint'], [404, 'No checkpoint yet'])
  consistency(@Query() q: AuditConsistencyQueryDto): Promise<AuditConsistencyDto> {
    return this.proofs.consistency(q.from, q.to);
  }

  @Get(':seq/proof')
  @Audit('audit.read', 'audit', { always: true })
  @ApiOperation({
    operationId: 'getAuditInclusionProof',
    summary: 'An event and its inclusion proof against a checkpoint (the latest unless size is given)',
  })
  @ApiOkResponse({ type: AuditInclusionDto })
  @ApiErrors(
    [400, 'A bad seq or size (named), or a size beyond the latest checkpoint'],
    [404, 'No such event in that tree, or no checkpoint yet'],
  )
  inclusion(@Param() p: AuditSeqParamDto, @Query() q: AuditProofQueryDto): Promise<AuditInclusionDto> {
    return this.proofs.inclusion(p.seq, q.size);
  }
}
