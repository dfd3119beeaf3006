import { isISO8601, registerDecorator, ValidateIf, ValidationOptions } from 'class-validator';

/**
 * An ISO-8601 date or date-time that JavaScript's Date reads too. class-validator's IsISO8601
 * accepts forms Date cannot parse (week dates like 2020-W01, hour-only offsets like
 * 2020-01-01T10Z, years past ±275760): those reached `new Date(v).toISOString()` and threw.
 * Every `from`/`to` filter uses this.
 */
export function IsIsoTimestamp(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isIsoTimestamp',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: '$property must be an ISO-8601 date or date-time, e.g. 2024-01-31 or 2024-01-31T12:00:00Z',
        ...options,
      },
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && isISO8601(value, { strict: true }) && Number.isFinite(Date.parse(value)),
      },
    });
}

/**
 * Like IsOptional, but only for a missing field: `null` is validated, and refused with a
 * message naming the field. IsOptional lets null through to services, where a non-nullable
 * column or a `??` default turned it into a 500 or a silent change.
 */
export function IsOptionalNotNull(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    ValidateIf((_o: unknown, value: unknown) => value !== undefined)(target, propertyName);
    registerDecorator({
      name: 'isNotNull',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must not be null (leave it out instead)', ...options },
      validator: { validate: (value: unknown) => value !== null },
    });
  };
}
