/**
 * A few human lines on stderr once the server listens, apart from the JSON logs on stdout:
 * where it listens, where Swagger UI is, and a generated admin key the one time there is one.
 * Log pipelines keep parsing stdout; a person starting the service sees what to do next.
 */
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { APP_VERSION } from '../app-version';
import { AuditSigner } from '../audit/audit-signer';
import { AdminBootstrap } from '../auth/admin-bootstrap';
import { signingKeyFromSeed } from '../engine/audit/checkpoint';
import { AppConfig } from '../config/app-config';

export interface BannerInput {
  host: string;
  port: number;
  generatedKey: string | null;
  envKey: boolean;
  /** An audit checkpoint signing key generated at this start (seed and public key, base64). */
  generatedAuditKey?: { seed: string; publicKey: string } | null;
}

/** The banner's text, a pure function so its wording is tested without a server. */
export function bannerText(b: BannerInput): string {
  // A wildcard address is not something to type into a browser.
  const browsable = ['0.0.0.0', '::', ''].includes(b.host)
    ? 'localhost'
    : b.host.includes(':')
      ? `[${b.host}]`
      : b.host;
  const base = `http://${browsable}:${b.port}`;
  const lines = [
    `Strongroom ${APP_VERSION} is listening on ${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`,
    `  Swagger UI:   ${base}/docs   (OpenAPI JSON: ${base}/docs-json)`,
    `  Health:       ${base}/health`,
  ];
  if (b.generatedKey) {
    lines.push(
      `  Admin key:    ${b.generatedKey}`,
      '                generated because no admin key existed; shown only this once, keep it safe',
      '                (or set ADMIN_API_KEY to choose your own)',
    );
  } else if (b.envKey) {
    lines.push('  Admin key:    the value of ADMIN_API_KEY');
  }
  if (b.generatedAuditKey) {
    lines.push(
      `  Audit key:    ${b.generatedAuditKey.seed}`,
      '                checkpoint signing key generated because AUDIT_SIGNING_KEY was not set; shown only',
      '                this once: set AUDIT_SIGNING_KEY to it to keep it out of the database.',
      `                Public key (give it to your auditors): ${b.generatedAuditKey.publicKey}`,
    );
  }
  return `\n${lines.join('\n')}\n\n`;
}

export function printStartupBanner(app: INestApplication): void {
  const address = (app.getHttpServer() as { address(): AddressInfo | string | null }).address();
  const config = app.get(AppConfig);
  const host = address && typeof address === 'object' ? address.address : config.HOST;
  const port = address && typeof address === 'object' ? address.port : config.PORT;
  const generatedKey = app.get(AdminBootstrap).takeGeneratedKey();
  const seed = app.get(AuditSigner).takeGeneratedSeed();
  const generatedAuditKey = seed
    ? { seed, publicKey: signingKeyFromSeed(seed, config.AUDIT_ORIGIN).publicKey.toString('base64') }
    : null;
  process.stderr.write(bannerText({ host, port, generatedKey, envKey: !!config.ADMIN_API_KEY, generatedAuditKey }));
}
