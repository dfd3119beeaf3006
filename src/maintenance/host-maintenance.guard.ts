/**
 * For host applications (the application whose database Strongroom protects): a NestJS guard
 * that answers 503 to unsafe methods while Strongroom is in maintenance, so users see "try
 * again shortly" instead of errors from a database that is being restored or is read-only.
 * Self-contained on purpose (Nest and Node's fetch only): copy it into the host application,
 * or import it from this package.
 *
 *   app.useGlobalGuards(new HostMaintenanceGuard({
 *     url: 'http://strongroom:3000/api/maintenance',
 *     apiKey: process.env.STRONGROOM_AUDITOR_KEY,   // an auditor key is enough
 *   }));
 */
import { CanActivate, ExecutionContext, HttpException, HttpStatus, Injectable } from '@nestjs/common';

export interface HostMaintenanceOptions {
  /** Strongroom's GET /api/maintenance. */
  url: string;
  /** An API key with the auditor role (sent as X-API-Key). */
  apiKey?: string;
  /** How long one answer is trusted, so a busy host asks at most this often. Default 2000 ms. */
  cacheMs?: number;
  /** Per request to Strongroom. Default 2000 ms. */
  timeoutMs?: number;
  /** When Strongroom cannot be asked: refuse unsafe requests (true) or let them through (false, default). */
  failClosed?: boolean;
  /** Seconds in the Retry-After header. Default 30. */
  retryAfterSeconds?: number;
}

interface MaintenanceAnswer {
  active: boolean;
  reason: string | null;
  by: string | null;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

@Injectable()
export class HostMaintenanceGuard implements CanActivate {
  private cached: { at: number; value: MaintenanceAnswer | null } | null = null;
  private pending: Promise<MaintenanceAnswer | null> | null = null;

  constructor(private readonly options: HostMaintenanceOptions) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<{ method: string }>();
    if (SAFE.has(req.method.toUpperCase())) return true;
    const state = await this.state();
    const refuse = state ? state.active : !!this.options.failClosed;
    if (!refuse) return true;
    const res = ctx.switchToHttp().getResponse<{ setHeader(name: string, value: string): void }>();
    res.setHeader('Retry-After', String(this.options.retryAfterSeconds ?? 30));
    const why = state
      ? `in maintenance (${state.by ?? 'unknown'})${state.reason ? `: ${state.reason}` : ''}`
      : 'maintenance state unknown';
    throw new HttpException(`Writes are paused: ${why}; retry later`, HttpStatus.SERVICE_UNAVAILABLE);
  }

  /** The answer of GET /api/maintenance, cached; null when Strongroom could not be asked. */
  async state(now = Date.now()): Promise<MaintenanceAnswer | null> {
    if (this.cached && now - this.cached.at < (this.options.cacheMs ?? 2000)) return this.cached.value;
    this.pending ??= this.fetchState().finally(() => (this.pending = null));
    const value = await this.pending;
    this.cached = { at: now, value };
    return value;
  }

  private async fetchState(): Promise<MaintenanceAnswer | null> {
    try {
      const res = await fetch(this.options.url, {
        headers: this.options.apiKey ? { 'X-API-Key': this.options.apiKey } : {},
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 2000),
      });
      if (!res.ok) return null;
      const body = (await res.json()) as Partial<MaintenanceAnswer>;
      return typeof body.active === 'boolean'
        ? { active: body.active, reason: body.reason ?? null, by: body.by ?? null }
        : null;
    } catch {
      return null;
    }
  }
}
