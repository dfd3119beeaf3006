/**
 * One exception class for domain failures, with a code that the HTTP filter maps to a
 * status. Services throw these; controllers never build HTTP errors themselves.
 */
export enum ErrorCode {
  NotFound = 'not_found',
  Conflict = 'conflict',
  InvalidInput = 'invalid_input',
  Unprocessable = 'unprocessable',
  Unavailable = 'unavailable',
}

export const ERROR_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.InvalidInput]: 400,
  [ErrorCode.Unprocessable]: 422,
  [ErrorCode.Unavailable]: 503,
};

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  static notFound(what: string, id: string): DomainError {
    return new DomainError(ErrorCode.NotFound, `${what} ${id} not found`);
  }
}
