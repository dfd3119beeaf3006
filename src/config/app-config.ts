/**
 * Configuration is read once at boot from the environment (and `.env`), validated with
 * class-validator, and the process stops with a message naming every bad variable.
 * Every variable here is listed in `.env.example` with its default.
 */
import { resolve } from 'node:path';
import { plainToInstance, Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, validateSync } from 'class-validator';
import type { DialectOptions } from '../engine/dialects/create-dialect';
import {
  TOAST_COMPRESSION_POLICIES,
  type ToastCompressionPolicy,
} from '../engine/dialects/postgres/pg-toast-compression';
import { parseKeyring } from '../engine/archive/keyring';
import { validateCron, validateTimeZone } from '../scheduler/cron-schedule';

const toBool = ({ value }: { value: unknown }) =>
  typeof value === 'string'
    ? ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase())
      ? true
      : ['0', 'false', 'no', 'off', ''].includes(value.trim().toLowerCase())
        ? false
        : value
    : value;
const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
const toList = ({ value }: { value: unknown }) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : value;

const DB_URL = /^(sqlite:.+|postgres(ql)?:\/\/.+)$/;

export class AppConfig {
  @IsIn(['development', 'production', 'test']) NODE_ENV = 'development';
  @IsString() HOST = '0.0.0.0';
  @Transform(toInt) @IsInt() @Min(0) @Max(65535) PORT = 3000;
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) LOG_LEVEL = 'info';

  @Matches(DB_URL, { message: 'DATABASE_URL must be sqlite:<path> or postgres://…' })
  DATABASE_URL = 'sqlite:./data/strongroom.db';
  @IsOptional()
  @Matches(DB_URL, { message: 'TARGET_DATABASE_URL must be sqlite:<path> or postgres://…' })
  TARGET_DATABASE_URL?: string;
  @Transform(toBool) @IsBoolean() MIGRATIONS_RUN = true;

  @IsOptional()
  @IsString()
  @Matches(/^.{24,}$/, { message: 'ADMIN_API_KEY must be at least 24 characters' })
  ADMIN_API_KEY?: string;
  /** How long a verified API key is trusted without a catalog lookup; revocation elsewhere takes effect within it. 0 = look up every request. */
  @Transform(toInt) @IsInt() @Min(0) @Max(300) API_KEY_CACHE_SECONDS = 5;
  /** How long GET /api/status may reuse the catalog totals (count, bytes); this process's own changes drop them at once. 0 = count every request. */
  @Transform(toInt) @IsInt() @Min(0) @Max(300) STATUS_TOTALS_CACHE_SECONDS = 1;
  @Transform(toBool) @IsBoolean() TRUST_PROXY = false;
  @Transform(toInt) @IsInt() @Min(1) THROTTLE_TTL_SECONDS = 60;
  @Transform(toInt) @IsInt() @Min(1) THROTTLE_LIMIT = 300;
  @Transform(toInt) @IsInt() @Min(1) THROTTLE_EXPENSIVE_LIMIT = 10;
  @Transform(toInt) @IsInt() @Min(1) THROTTLE_EXPENSIVE_TTL_SECONDS = 60;
  // Request bodies are bounded before anything reads them: 413 beyond the size, 400 beyond the depth.
  @Transform(toInt) @IsInt() @Min(1024) @Max(16 * 1024 * 1024) BODY_MAX_BYTES = 102400;
  @Transform(toInt) @IsInt() @Min(2) @Max(256) BODY_MAX_DEPTH = 32;
  /** Refused anonymous and throttled requests are counted per client, route and status, one summary event per window. */
  @Transform(toInt) @IsInt() @Min(1) @Max(86400) AUDIT_AGGREGATE_SECONDS = 60;
  /** Ed25519 seed (32 bytes, base64) that signs audit checkpoints; empty = generated once, kept in the catalog and shown in the start-up banner. */
  @IsOptional() @IsString() AUDIT_SIGNING_KEY?: string;
  /** How often a signed checkpoint of the audit trail is made, when events were added (also at shutdown). */
  @Transform(toInt) @IsInt() @Min(1) @Max(86400) AUDIT_CHECKPOINT_SECONDS = 60;
  /** The log's name in every checkpoint and the signing key's name (C2SP origin: no spaces, no "+"). */
  @Matches(/^[^\s+]{1,200}$/, { message: 'AUDIT_ORIGIN must be 1-200 characters without spaces or "+"' })
  AUDIT_ORIGIN = 'strongroom/audit';
  /** Witnesses: each new checkpoint is POSTed (text/plain) to these URLs, best effort. */
  @Transform(toList) @IsString({ each: true }) AUDIT_WITNESS_URLS: string[] = [];

  @IsIn(['local', 's3']) BACKUP_STORAGE = 'local';
  @IsString() BACKUP_DIR = './data/backups';
  @IsOptional() @IsString() S3_BUCKET?: string;
  @IsString() S3_PREFIX = '';
  @IsString() S3_REGION = 'us-east-1';
  @IsOptional() @Matches(/^https?:\/\/.+/, { message: 'S3_ENDPOINT must be an http(s) URL' }) S3_ENDPOINT?: string;
  @Transform(toBool) @IsBoolean() S3_FORCE_PATH_STYLE = false;
  @IsOptional() @IsString() S3_ACCESS_KEY_ID?: string;
  @IsOptional() @IsString() S3_SECRET_ACCESS_KEY?: string;

  /** A second copy of every completed backup, in another storage (unset = no offsite copies). */
  @IsOptional() @IsIn(['local', 's3']) OFFSITE_STORAGE?: 'local' | 's3';
  @IsOptional() @IsString() OFFSITE_DIR?: string;
  @IsOptional() @IsString() OFFSITE_S3_BUCKET?: string;
  @IsString() OFFSITE_S3_PREFIX = '';
  @IsString() OFFSITE_S3_REGION = 'us-east-1';
  @IsOptional()
  @Matches(/^https?:\/\/.+/, { message: 'OFFSITE_S3_ENDPOINT must be an http(s) URL' })
  OFFSITE_S3_ENDPOINT?: string;
  @Transform(toBool) @IsBoolean() OFFSITE_S3_FORCE_PATH_STYLE = false;
  @IsOptional() @IsString() OFFSITE_S3_ACCESS_KEY_ID?: string;
  @IsOptional() @IsString() OFFSITE_S3_SECRET_ACCESS_KEY?: string;
  /** /api/status is unhealthy while a completed backup has waited longer than this for its offsite copy. */
  @Transform(toInt) @IsInt() @Min(1) OFFSITE_MAX_LAG_HOURS = 24;
  /** A failed copy is retried after this, doubling per attempt up to OFFSITE_RETRY_MAX_SECONDS; also how often copies due are looked for. */
  @Transform(toInt) @IsInt() @Min(1) @Max(86400) OFFSITE_RETRY_BASE_SECONDS = 60;
  @Transform(toInt) @IsInt() @Min(1) @Max(604800) OFFSITE_RETRY_MAX_SECONDS = 3600;

  @IsOptional() @IsString() BACKUP_ENCRYPTION_KEYS?: string;
  @IsOptional() @IsString() BACKUP_ENCRYPTION_KEY_ID?: string;
  @IsOptional()
  @IsString()
  @Matches(/^.{12,}$/, { message: 'BACKUP_ENCRYPTION_PASSPHRASE must be at least 12 characters' })
  BACKUP_ENCRYPTION_PASSPHRASE?: string;
  /** With a key configured, also accept manifests without a MAC (see backup-keys.ts). */
  @Transform(toBool) @IsBoolean() ALLOW_UNAUTHENTICATED_ARCHIVES = false;
  @IsIn(['zstd', 'gzip', 'none']) BACKUP_COMPRESSION = 'zstd';
  /** 10 GiB: far above a typical archive, low enough that a runaway upload cannot fill the temp disk. */
  @Transform(toInt) @IsInt() @Min(1) IMPORT_MAX_BYTES = 10 * 1024 ** 3;
  /** Where an upload waits while it is verified; /tmp is often a small tmpfs. Empty = the OS temp directory. */
  @IsOptional() @IsString() IMPORT_TMP_DIR?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(19) BACKUP_COMPRESSION_LEVEL?: number;
  @Transform(toList) @IsString({ each: true }) BACKUP_FILE_PATHS: string[] = [];
  @Transform(toInt) @IsInt() @Min(1) @Max(16) BACKUP_PARALLELISM = 2;
  /** How long a backup holds its next chunk back while API requests are in flight (ms); 0 = never (foreground-activity.ts). */
  @Transform(toInt) @IsInt() @Min(0) @Max(1000) BACKUP_YIELD_MAX_WAIT_MS = 20;
  /** Nice value (0-19) of the threads that compress, encrypt and hash backups and restores (Linux); 0 = same as the service. */
  @Transform(toInt) @IsInt() @Min(0) @Max(19) BACKUP_WORKER_NICE = 10;
  /** Full SQLite backups: the file's pages at the snapshot (docs/sqlite-page-image.md), or each table's rows (NDJSON). */
  @IsIn(['pages', 'rows']) SQLITE_FULL_BACKUP_FORMAT: 'pages' | 'rows' = 'pages';
  /** Full backups (PostgreSQL): glob patterns (`*`, `?`) of schemas to include (empty = all) and exclude, and tables whose rows are left out. */
  @Transform(toList)
  @IsString({ each: true })
  BACKUP_INCLUDE_SCHEMAS: string[] = [];
  @Transform(toList)
  @IsString({ each: true })
  BACKUP_EXCLUDE_SCHEMAS: string[] = [];
  @Transform(toList)
  @IsString({ each: true })
  BACKUP_EXCLUDE_TABLES: string[] = [];
  @Transform(toInt) @IsInt() @Min(1) @Max(16) RESTORE_PARALLELISM = 2;
  @Matches(/^[1-9][0-9]*(kB|MB|GB)$/, { message: 'RESTORE_MAINTENANCE_WORK_MEM must be a size like 64MB or 1GB' })
  RESTORE_MAINTENANCE_WORK_MEM = '512MB';
  @Transform(toBool) @IsBoolean() RESTORE_ANALYZE = true;
  @IsIn(TOAST_COMPRESSION_POLICIES, { message: 'RESTORE_TOAST_COMPRESSION must be auto or server' })
  RESTORE_TOAST_COMPRESSION: ToastCompressionPolicy = 'auto';
  @Transform(toInt) @IsInt() @Min(10) LEASE_TTL_SECONDS = 120;
  /** A job whose heartbeat is older than this many lease TTLs has no live owner: it is failed and its lease freed. */
  @Transform(toInt) @IsInt() @Min(1) @Max(100) JOB_STALE_AFTER_TTLS = 2;

  @Transform(toBool) @IsBoolean() SCHEDULER_ENABLED = true;
  @IsString() BACKUP_TIMEZONE = 'UTC';
  @Transform(toBool) @IsBoolean() DEFAULT_SCHEDULE_ENABLED = true;
  @IsString() DEFAULT_SCHEDULE_CRON = '0 2 * * *';
  @IsString() RETENTION_CRON = '30 3 * * *';
  @IsString() VERIFY_CRON = '0 5 * * *';
  /** Only when DRILL_ENABLED=false: the daily drill deep-verifies the newest backup otherwise. */
  @Transform(toInt) @IsInt() @Min(0) @Max(6) DEEP_VERIFY_WEEKDAY = 0;
  /** Every copy of every retained backup is re-read within this many days, a slice per VERIFY_CRON tick (src/verification). */
  @Transform(toInt) @IsInt() @Min(1) @Max(366) VERIFY_CYCLE_DAYS = 7;
  /** Read-rate cap of the rolling verifier (one copy at a time per process); 0 = none. 50 MiB/s leaves a disk or link room for backups and restores. */
  @Transform(toInt) @IsInt() @Min(0) VERIFY_MAX_BYTES_PER_SECOND = 50 * 1024 * 1024;
  /** The restore drill: the newest backup deep-verified by a real restore into a scratch database; its duration is the measured RTO. */
  @Transform(toBool) @IsBoolean() DRILL_ENABLED = true;
  @IsString() DRILL_CRON = '0 4 * * *';
  @Transform(toInt) @IsInt() @Min(1) @Max(1000) DRILL_RTO_THRESHOLD_PERCENT = 25;
  @Transform(toInt) @IsInt() @Min(1) @Max(100) DRILL_RTO_BASELINE_DRILLS = 7;
  @Transform(toInt) @IsInt() @Min(0) CATCH_UP_GRACE_MINUTES = 360;
  @Transform(toInt) @IsInt() @Min(1) FAILED_BACKUP_TTL_HOURS = 72;
  @Transform(toInt) @IsInt() @Min(1) ADHOC_RETENTION_DAYS = 30;
  @Transform(toInt) @IsInt() @Min(1) MAX_BACKUP_AGE_HOURS = 26;
  /** A schedule without a completed backup by its next fire time after the last success plus this is a problem. */
  @Transform(toInt) @IsInt() @Min(1) SCHEDULE_DEADLINE_GRACE_MINUTES = 120;
  /** Pinged (GET) after each successful scheduled backup, for an outside dead man's switch. */
  @IsOptional() @IsString() HEARTBEAT_URL?: string;
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) MAX_STORAGE_BYTES?: number;

  @Transform(toList) @IsString({ each: true }) NOTIFY_WEBHOOK_URLS: string[] = [];
  @IsIn(['json', 'slack']) NOTIFY_WEBHOOK_FORMAT = 'json';
  /** An alert still open this many hours after its last webhook is announced again (a reminder); 0 = never. */
  @Transform(toInt) @IsInt() @Min(0) @Max(8760) ALERT_RENOTIFY_HOURS = 24;
  @Transform(toBool) @IsBoolean() METRICS_PUBLIC = true;
  /** The operator console at /console (static files from dist/console, built by `npm run build`). */
  @Transform(toBool) @IsBoolean() CONSOLE_ENABLED = true;
  /** PostgreSQL targets: new sessions of the target database are read-only while Strongroom is in maintenance. */
  @Transform(toBool) @IsBoolean() MAINTENANCE_READ_ONLY_TARGET = false;

  /** The database Strongroom protects; by default its own. */
  get targetDatabaseUrl(): string {
    return this.TARGET_DATABASE_URL || this.DATABASE_URL;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** How the database engine reads and writes, from the configuration (structural: the engine does not know AppConfig). */
export function dialectOptions(config: AppConfig): Required<DialectOptions> {
  return {
    parallel: config.BACKUP_PARALLELISM,
    restoreParallel: config.RESTORE_PARALLELISM,
    maintenanceWorkMem: config.RESTORE_MAINTENANCE_WORK_MEM,
    restoreAnalyze: config.RESTORE_ANALYZE,
    toastCompression: config.RESTORE_TOAST_COMPRESSION,
    scope: {
      includeSchemas: config.BACKUP_INCLUDE_SCHEMAS,
      excludeSchemas: config.BACKUP_EXCLUDE_SCHEMAS,
      excludeTables: config.BACKUP_EXCLUDE_TABLES,
    },
  };
}

/** Builds and validates the configuration from an environment map; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const known = Object.keys(new AppConfig());
  const input: Record<string, string> = {};
  for (const key of known) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const config = plainToInstance(AppConfig, input);
  const errors = validateSync(config, { skipMissingProperties: false });
  // Values are never echoed: some of these variables hold secrets.
  const problems = errors.map((e) => `${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`);
  const bad = new Set(errors.map((e) => e.property));
  // Rules that span variables or need parsing run too, so one boot names every problem at once
  // instead of the first constructor that trips over one (skipping variables already reported).
  problems.push(...crossFieldProblems(config).filter((p) => !bad.has(p.slice(0, p.indexOf(':')))));
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/**
 * Every rule a single decorator cannot express. Each message starts with the variable it
 * blames (`NAME: ...`) and never quotes a value that could be a secret.
 */
export function crossFieldProblems(c: AppConfig): string[] {
  const problems: string[] = [];
  if (c.BACKUP_STORAGE === 's3') {
    if (!c.S3_BUCKET?.trim()) problems.push('S3_BUCKET: required when BACKUP_STORAGE=s3');
    if (!!c.S3_ACCESS_KEY_ID !== !!c.S3_SECRET_ACCESS_KEY) {
      const missing = c.S3_ACCESS_KEY_ID ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID';
      problems.push(
        `${missing}: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together, or neither (AWS default credential chain)`,
      );
    }
  }
  problems.push(...offsiteProblems(c));
  if (c.BACKUP_ENCRYPTION_KEYS) {
    try {
      parseKeyring(c.BACKUP_ENCRYPTION_KEYS, c.BACKUP_ENCRYPTION_KEY_ID);
    } catch (e) {
      // The keyring's messages name entries by position and id, never the key material.
      const message = (e as Error).message;
      problems.push(
        message.startsWith('BACKUP_ENCRYPTION_KEY_ID')
          ? `BACKUP_ENCRYPTION_KEY_ID: ${message}`
          : `BACKUP_ENCRYPTION_KEYS: ${message}`,
      );
    }
  } else if (c.BACKUP_ENCRYPTION_KEY_ID) {
    problems.push('BACKUP_ENCRYPTION_KEY_ID: set, but BACKUP_ENCRYPTION_KEYS is empty');
  }
  if (c.BACKUP_COMPRESSION === 'gzip' && c.BACKUP_COMPRESSION_LEVEL !== undefined && c.BACKUP_COMPRESSION_LEVEL > 9) {
    problems.push('BACKUP_COMPRESSION_LEVEL: gzip levels are 1-9');
  }
  c.NOTIFY_WEBHOOK_URLS.forEach((raw, i) => {
    // Webhook URLs often embed their secret: name the position, not the URL.
    if (!isHttpUrl(raw)) problems.push(`NOTIFY_WEBHOOK_URLS: entry ${i + 1} is not an http(s) URL`);
  });
  c.AUDIT_WITNESS_URLS.forEach((raw, i) => {
    if (!isHttpUrl(raw)) problems.push(`AUDIT_WITNESS_URLS: entry ${i + 1} is not an http(s) URL`);
  });
  if (c.AUDIT_SIGNING_KEY) {
    const seed = Buffer.from(c.AUDIT_SIGNING_KEY.trim(), 'base64');
    if (seed.length !== 32 || seed.toString('base64') !== c.AUDIT_SIGNING_KEY.trim()) {
      problems.push('AUDIT_SIGNING_KEY: must be 32 bytes, base64 (an Ed25519 seed)');
    }
  }
  // The URL often embeds its secret: never echo it.
  if (c.HEARTBEAT_URL && !isHttpUrl(c.HEARTBEAT_URL)) problems.push('HEARTBEAT_URL: not an http(s) URL');
  const zoneProblem = validateTimeZone(c.BACKUP_TIMEZONE);
  if (zoneProblem) problems.push(`BACKUP_TIMEZONE: ${zoneProblem.replace(/^timezone: /, '')}`);
  const zone = zoneProblem ? 'UTC' : c.BACKUP_TIMEZONE;
  for (const name of ['DEFAULT_SCHEDULE_CRON', 'RETENTION_CRON', 'VERIFY_CRON', 'DRILL_CRON'] as const) {
    const cronProblem = validateCron(c[name], zone);
    if (cronProblem) problems.push(`${name}: ${cronProblem.replace(/^cron: /, '')}`);
  }
  return problems;
}

/** The offsite storage must be complete and somewhere else than the primary storage. */
function offsiteProblems(c: AppConfig): string[] {
  const problems: string[] = [];
  if (c.OFFSITE_STORAGE === 'local') {
    if (!c.OFFSITE_DIR?.trim()) problems.push('OFFSITE_DIR: required when OFFSITE_STORAGE=local');
    else if (c.BACKUP_STORAGE === 'local' && resolve(c.OFFSITE_DIR) === resolve(c.BACKUP_DIR))
      problems.push('OFFSITE_DIR: is BACKUP_DIR; an offsite copy must live somewhere else');
  }
  if (c.OFFSITE_STORAGE === 's3') {
    if (!c.OFFSITE_S3_BUCKET?.trim()) problems.push('OFFSITE_S3_BUCKET: required when OFFSITE_STORAGE=s3');
    else if (
      c.BACKUP_STORAGE === 's3' &&
      c.OFFSITE_S3_BUCKET === c.S3_BUCKET &&
      (c.OFFSITE_S3_ENDPOINT ?? '') === (c.S3_ENDPOINT ?? '') &&
      c.OFFSITE_S3_PREFIX === c.S3_PREFIX
    )
      problems.push(
        'OFFSITE_S3_BUCKET: same bucket, endpoint and prefix as S3_*; an offsite copy must live somewhere else',
      );
    if (!!c.OFFSITE_S3_ACCESS_KEY_ID !== !!c.OFFSITE_S3_SECRET_ACCESS_KEY) {
      const missing = c.OFFSITE_S3_ACCESS_KEY_ID ? 'OFFSITE_S3_SECRET_ACCESS_KEY' : 'OFFSITE_S3_ACCESS_KEY_ID';
      problems.push(
        `${missing}: set OFFSITE_S3_ACCESS_KEY_ID and OFFSITE_S3_SECRET_ACCESS_KEY together, or neither (AWS default credential chain)`,
      );
    }
  }
  if (c.OFFSITE_RETRY_MAX_SECONDS < c.OFFSITE_RETRY_BASE_SECONDS)
    problems.push('OFFSITE_RETRY_MAX_SECONDS: must be at least OFFSITE_RETRY_BASE_SECONDS');
  return problems;
}

function isHttpUrl(raw: string): boolean {
  try {
    const u = new URL(raw);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}
