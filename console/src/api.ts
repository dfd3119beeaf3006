/**
 * The console's only way to the service: the public REST API under /api, with the key the
 * operator typed at sign-in. The key lives in sessionStorage (this tab, until it closes):
 * never in localStorage, a cookie or the URL.
 */
export type Role = 'auditor' | 'operator' | 'admin';

const KEY_ITEM = 'strongroom.apiKey';
const RANK: Record<Role, number> = { auditor: 1, operator: 2, admin: 3 };

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY_ITEM),
  set: (key: string): void => sessionStorage.setItem(KEY_ITEM, key),
  clear: (): void => sessionStorage.removeItem(KEY_ITEM),
};

export function can(role: Role | null, needed: Role): boolean {
  return role !== null && RANK[role] >= RANK[needed];
}

/** The API's error shape (ErrorDto): statusCode, error, message (one sentence, or one per bad field). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly messages: string[],
    readonly retryAfter: string | null = null,
  ) {
    super(messages.join('; ') || error);
  }
}

/** Called on a 401 so the shell can send the operator back to sign-in. */
let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function toError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON: fall back to the status text */
  }
  const b = (body ?? {}) as { error?: unknown; message?: unknown };
  const messages = Array.isArray(b.message)
    ? b.message.map(String)
    : typeof b.message === 'string'
      ? [b.message]
      : [res.statusText || `HTTP ${res.status}`];
  return new ApiError(
    res.status,
    typeof b.error === 'string' ? b.error : res.statusText,
    messages,
    res.headers.get('Retry-After'),
  );
}

export async function request(
  method: string,
  path: string,
  opts: { body?: unknown; form?: FormData; key?: string } = {},
): Promise<Response> {
  const key = opts.key ?? session.key();
  const headers: Record<string, string> = {};
  if (key) headers.Authorization = `Bearer ${key}`;
  let body: BodyInit | undefined;
  if (opts.form) body = opts.form;
  else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
  } catch {
    throw new ApiError(0, 'Network error', ['The service could not be reached. Is it running?']);
  }
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401 && !opts.key) onUnauthorized?.();
    throw err;
  }
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, { body });
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string, query?: Query): Promise<T> => api<T>('GET', withQuery(path, query));

/** Downloads through fetch (the key goes in a header, never in a link) and hands the bytes to the browser. */
export async function download(path: string, fallbackName: string): Promise<void> {
  const res = await request('GET', path);
  const disposition = res.headers.get('Content-Disposition') ?? '';
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Me {
  id: string;
  name: string;
  role: Role;
}

export interface BackupTable {
  name: string;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface Backup {
  id: string;
  type: string;
  trigger: string;
  status: string;
  scheduleId: string | null;
  description: string | null;
  tags: string[];
  pinned: boolean;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  sizeBytes: number;
  rowCount: number;
  tables: BackupTable[];
  files: { count: number; bytes: number };
  compression: string;
  encrypted: boolean;
  keyId: string | null;
  checksum: string | null;
  verifiedAt: string | null;
  error: string | null;
  progress: { phase: string; tablesDone: number; tablesTotal: number; rows: number; bytes: number } | null;
  offsite?: { status: string | null; at: string | null; attempts: number } | null;
  inventory?: unknown;
  excluded?: unknown;
}

export interface VerifyResult {
  ok: boolean;
  checks: { name: string; ok: boolean; detail?: string }[];
}

export interface Status {
  healthy: boolean;
  problems: string[];
  lastBackup: Backup | null;
  lastVerifiedBackup: Backup | null;
  rpoSeconds: number | null;
  rpoLimitSeconds?: number;
  storage: { count: number; totalBytes: number; limitBytes?: number | null };
  schedules: { id: string; name: string; nextRunAt: string | null }[];
}

export interface PlanTable {
  name: string;
  insert: number;
  update: number;
  delete: number;
  unchanged: number;
}

export interface RestoreIssue {
  code?: string;
  subject: string;
  message: string;
  count?: number;
}

export interface Plan {
  tables: PlanTable[];
  blockers?: RestoreIssue[];
  warnings?: RestoreIssue[];
}

export interface Recovery {
  id: string;
  backupId: string;
  mode: string;
  tables: string[];
  status: string;
  safetyBackupId: string | null;
  rowsWritten: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  rollbackOf?: string | null;
  rolledBackBy?: string | null;
  progress?: { phase: string; table: string | null; rows: number } | null;
}

export interface Retention {
  keepLast: number;
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
  maxAgeDays: number | null;
  maxTotalBytes: number | null;
}

export interface Schedule {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  type: string;
  tables: string[];
  enabled: boolean;
  retention: Retention;
  lastRunAt: string | null;
  lastStatus: string | null;
  nextRunAt: string | null;
}

export interface RetentionPreview {
  keep: { id: string; reasons: string[] }[];
  delete: { id: string; reasons?: string[] }[];
}

export interface AuditEvent {
  seq: number;
  at: string;
  actor: { type: string; keyId: string | null; name: string; role: string | null };
  action: string;
  resource: string;
  resourceId: string | null;
  outcome: string;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
  severity?: string;
}

export interface AuditVerify {
  ok: boolean;
  checked: number;
  head: { seq: number; hash: string } | null;
  firstBadSeq: number | null;
  problem?: string | null;
  detail?: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
  key?: string;
}
