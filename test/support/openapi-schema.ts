/**
 * A strict checker of a JSON value against an OpenAPI 3.0 schema as @nestjs/swagger writes
 * them: $ref, allOf, oneOf, nullable, enum, type, format (uuid, date-time), required,
 * properties and items. Stricter than JSON Schema by default in one way, on purpose: an object
 * schema that lists properties admits no other property, so a field a route returns but the
 * document does not declare is drift, and is reported. An object schema without properties
 * (free-form, e.g. audit details) admits anything.
 */
export interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  pattern?: string;
  nullable?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

export interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean; schema?: Schema; description?: string }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function resolveRef(doc: OpenApiDocument, ref: string): Schema {
  const name = ref.replace('#/components/schemas/', '');
  const s = doc.components.schemas[name];
  if (!s) throw new Error(`unresolved $ref ${ref}`);
  return s;
}

/** Every way `value` fails `schema`, as `path: problem` lines (empty when it conforms). */
export function checkSchema(doc: OpenApiDocument, schema: Schema, value: unknown, path = '$'): string[] {
  if (schema.$ref) return checkSchema(doc, resolveRef(doc, schema.$ref), value, path);
  if (value === null) return schema.nullable ? [] : [`${path}: null, but the schema is not nullable`];
  if (schema.allOf) {
    // @nestjs/swagger writes a nullable reference as { nullable, type: object, allOf: [$ref] }.
    return schema.allOf.flatMap((s) => checkSchema(doc, s, value, path));
  }
  if (schema.oneOf) {
    const matching = schema.oneOf.filter((s) => checkSchema(doc, s, value, path).length === 0);
    return matching.length === 1
      ? []
      : [`${path}: matches ${matching.length} of the oneOf alternatives, not exactly one`];
  }
  const problems: string[] = [];
  if (schema.enum && !schema.enum.includes(value))
    problems.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') return [...problems, `${path}: expected a string, got ${JSON.stringify(value)}`];
      if (schema.format === 'uuid' && !UUID.test(value)) problems.push(`${path}: ${value} is not a uuid`);
      if (schema.format === 'date-time' && (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value))))
        problems.push(`${path}: ${value} is not a date-time`);
      return problems;
    case 'integer':
      return Number.isInteger(value)
        ? problems
        : [...problems, `${path}: expected an integer, got ${JSON.stringify(value)}`];
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
        ? problems
        : [...problems, `${path}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean'
        ? problems
        : [...problems, `${path}: expected a boolean, got ${JSON.stringify(value)}`];
    case 'array':
      if (!Array.isArray(value))
        return [...problems, `${path}: expected an array, got ${JSON.stringify(value)?.slice(0, 80)}`];
      return [
        ...problems,
        ...(schema.items ? value.flatMap((v, i) => checkSchema(doc, schema.items as Schema, v, `${path}[${i}]`)) : []),
      ];
    case 'object':
    case undefined:
      if (!schema.properties && !schema.additionalProperties) {
        if (schema.type === 'object' && (typeof value !== 'object' || Array.isArray(value)))
          problems.push(`${path}: expected an object`);
        return problems;
      }
      if (typeof value !== 'object' || Array.isArray(value))
        return [...problems, `${path}: expected an object, got ${JSON.stringify(value)?.slice(0, 80)}`];
      return [...problems, ...checkObject(doc, schema, value as Record<string, unknown>, path)];
    default:
      return [...problems, `${path}: the checker does not know type ${schema.type}`];
  }
}

function checkObject(doc: OpenApiDocument, schema: Schema, value: Record<string, unknown>, path: string): string[] {
  const problems: string[] = [];
  const props = schema.properties ?? {};
  for (const name of schema.required ?? []) {
    if (!(name in value)) problems.push(`${path}.${name}: required, missing`);
  }
  for (const [name, v] of Object.entries(value)) {
    const prop = props[name];
    if (prop) problems.push(...checkSchema(doc, prop, v, `${path}.${name}`));
    else if (typeof schema.additionalProperties === 'object')
      problems.push(...checkSchema(doc, schema.additionalProperties, v, `${path}.${name}`));
    else if (schema.additionalProperties !== true) problems.push(`${path}.${name}: returned but not in the schema`);
  }
  return problems;
}
