/**
 * The OpenAPI document is part of the contract: client generators read it. So the error shape
 * is one schema (what HttpExceptionFilter writes), every route lists the error statuses it can
 * answer with (ApiErrors), and operation ids are set by hand, readable and stable (a renamed
 * controller method must not rename a generated client's function).
 */
import { applyDecorators, INestApplication } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  DocumentBuilder,
  getSchemaPath,
  SwaggerModule,
} from '@nestjs/swagger';
import { APP_VERSION } from '../app-version';

/** The one error shape (see HttpExceptionFilter and API.md "Errors"). */
export class ErrorDto {
  @ApiProperty({ description: 'The HTTP status, repeated', example: 404, type: 'integer' })
  statusCode: number;

  @ApiProperty({ description: 'The status text of that HTTP status', example: 'Not Found' })
  error: string;

  @ApiProperty({
    description:
      'What went wrong. Invalid input (400) is a list with one sentence per bad field, each naming it; otherwise one sentence',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: 'backup 0b9c5b8e-6a0c-4a57-9d54-0f3c1f7d2a11 not found',
  })
  message: string | string[];

  @ApiPropertyOptional({
    description:
      "On a 422 for an archive that lists Strongroom's own bookkeeping tables: those tables; on a 400 for a merge or missing-only of tables only a replace restores: those tables",
    type: [String],
  })
  tables?: string[];

  @ApiPropertyOptional({
    description:
      'Only on a 409 from POST /api/recoveries whose checks of the target find a blocker: what would make the restore fail (nothing was written)',
    type: 'array',
    items: { $ref: getSchemaPath('RestoreIssueDto') },
  })
  blockers?: unknown[];

  @ApiPropertyOptional({
    description:
      'With blockers: what the restore would reach beyond its tables or cannot carry over (it would not fail on these)',
    type: 'array',
    items: { $ref: getSchemaPath('RestoreIssueDto') },
  })
  warnings?: unknown[];
}

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 503;

const DEFAULT_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: 'Invalid input: the message names each bad field',
  401: 'No or unknown API key',
  403: "The key's role is not enough for this action",
  404: 'No such resource',
  409: 'Conflicts with the current state',
  413: 'Request body larger than BODY_MAX_BYTES',
  415: 'Content-Type, charset or Content-Encoding not accepted: send UTF-8 JSON',
  422: 'Well-formed but refused',
  429: 'Too many requests from this client; retry after Retry-After seconds',
  503: "Strongroom's own database is unreachable; retry after Retry-After seconds",
};

const RETRY_AFTER = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } };

/**
 * Declares error responses with the error schema: a status alone takes the generic
 * description, `[status, description]` says when this route answers it.
 */
export const ApiErrors = (...specs: (ErrorStatus | [ErrorStatus, string])[]) =>
  applyDecorators(
    ApiExtraModels(ErrorDto),
    ...specs.map((spec) => {
      const [status, description] = Array.isArray(spec) ? spec : [spec, DEFAULT_DESCRIPTIONS[spec]];
      return ApiResponse({
        status,
        description,
        schema: { $ref: getSchemaPath(ErrorDto) },
        ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
      });
    }),
  );

/** The errors every JSON body can meet in body parsing and validation, before the handler. */
export const BODY_ERRORS: ErrorStatus[] = [400, 413, 415];

/**
 * A route that takes no body still parses one when it is sent (body parsing runs before
 * routing), so POST and DELETE routes without a body can answer these too, and a 400 for a
 * body that is not JSON (each such route says so in its own 400).
 */
export const UNREAD_BODY_ERRORS: [ErrorStatus, string][] = [
  [413, 'A body (this route takes none) larger than BODY_MAX_BYTES'],
  [415, 'A body (this route takes none) that is not UTF-8 JSON'],
];

export function setupOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('Strongroom')
    .setDescription(
      'Backups, verified restores and a tamper-evident audit trail for your application data.\n\n' +
        'Every error is `{ statusCode, error, message }` (schema `ErrorDto`); each operation lists the statuses it can answer with. ' +
        'Any request may get `429` (rate limit, with `Retry-After`).',
    )
    .setVersion(APP_VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key' }, 'bearer')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'API key' }, 'api-key')
    // The throttler guard is global: every route, public ones too, can answer 429.
    .addGlobalResponse({
      status: 429,
      description: DEFAULT_DESCRIPTIONS[429],
      schema: { $ref: getSchemaPath(ErrorDto) },
      headers: RETRY_AFTER,
    })
    .build();
  const document = SwaggerModule.createDocument(app, config, { extraModels: [ErrorDto] });
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    // The key typed into "Authorize" survives a reload (kept in the browser's localStorage).
    swaggerOptions: { persistAuthorization: true },
  });
}
