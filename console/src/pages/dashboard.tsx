import { type Backup, get, type Page, type Recovery, type Role, type Status } from '../api';
import { BackupChart } from '../chart';
import { ago, bytes, duration, short, when } from '../format';
import { Badge, Card, ErrorBox, POLL_IDLE_MS, Progress, usePoll } from '../ui';

/** Is the data safe? Health and its reasons first, then the facts behind it. Refreshed every 15 s. */
export function DashboardPage({ role: _role }: { role: Role }) {
  const status = usePoll(() => get<Status>('/api/status'), POLL_IDLE_MS);
  const history = usePoll(() => get<Page<Backup>>('/api/backups', { status: 'completed', limit: 200 }), POLL_IDLE_MS);
  const recoveries = usePoll(() => get<Page<Recovery>>('/api/recoveries', { limit: 5 }), POLL_IDLE_MS);
  const failures = usePoll(() => get<Page<Backup>>('/api/backups', { status: 'failed', limit: 5 }), POLL_IDLE_MS);
  const s = status.data;
  const last = s?.lastBackup ?? null;
  return (
    <>
      <h1 tabIndex={-1}>Dashboard</h1>
      <ErrorBox error={status.error} />
      {s && (
        <div class="grid">
          <Card title="Health">
            <p class={s.healthy ? 'health ok' : 'health bad'} data-testid="health">
              {s.healthy ? '✔ Healthy' : '✖ Unhealthy'}
            </p>
            {s.problems.length > 0 ? (
              <ul class="problems">
                {s.problems.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
            ) : (
              <p>No problems reported.</p>
            )}
          </Card>
          <Card title="Recovery point">
            <p class="big">{s.rpoSeconds === null ? 'No backup yet' : duration(s.rpoSeconds)}</p>
            <p>
              of data at risk: time since the newest completed backup
              {s.rpoLimitSeconds ? `; the limit is ${duration(s.rpoLimitSeconds)} (MAX_BACKUP_AGE_HOURS)` : ''}.
            </p>
            <div>
              Next runs:{' '}
              {s.schedules.filter((x) => x.nextRunAt).length === 0 ? (
                'no enabled schedule'
              ) : (
                <ul>
                  {s.schedules
                    .filter((x) => x.nextRunAt)
                    .map((x) => (
                      <li key={x.id}>
                        {x.name}: {when(x.nextRunAt)}
                      </li>
                    ))}
                </ul>
              )}
            </div>
          </Card>
          <Card title="Last backup">{last ? <BackupSummary b={last} /> : <p>None completed yet.</p>}</Card>
          <Card title="Last verified backup">
            {s.lastVerifiedBackup ? (
              <>
                <BackupSummary b={s.lastVerifiedBackup} />
                <p>Verified {ago(s.lastVerifiedBackup.verifiedAt)}</p>
              </>
            ) : (
              <p>No backup verified yet.</p>
            )}
          </Card>
          <Card title="Storage">
            <p class="big">{bytes(s.storage.totalBytes)}</p>
            {s.storage.limitBytes ? (
              <Progress
                value={Math.min(s.storage.totalBytes, s.storage.limitBytes)}
                max={s.storage.limitBytes}
                label={`${Math.round((100 * s.storage.totalBytes) / s.storage.limitBytes)}% of the limit`}
              />
            ) : null}
            <p>
              in {s.storage.count} backups
              {s.storage.limitBytes ? ` of a ${bytes(s.storage.limitBytes)} limit` : ' (no limit set)'}
            </p>
          </Card>
          <Card title="Encryption">
            {last ? (
              <p>
                {last.encrypted ? (
                  <>
                    <Badge value="on" /> newest backup encrypted, key <code>{last.keyId ?? 'passphrase'}</code>
                  </>
                ) : (
                  <>
                    <Badge value="off" /> newest backup is not encrypted
                  </>
                )}
              </p>
            ) : (
              <p>No backup yet.</p>
            )}
            {last?.offsite && <p>Offsite copy: {last.offsite.status ?? 'not configured'}</p>}
          </Card>
        </div>
      )}
      <Card title="Backup size and duration" wide>
        <ErrorBox error={history.error} />
        {history.data && history.data.items.length > 0 ? (
          <BackupChart backups={history.data.items} />
        ) : (
          <p>No completed backups to chart yet.</p>
        )}
      </Card>
      <Card title="Recent restores" wide>
        <ErrorBox error={recoveries.error} />
        {recoveries.data?.items.length ? (
          <ul>
            {recoveries.data.items.map((r) => (
              <li key={r.id}>
                <a href={`#/recoveries/${r.id}`}>
                  {r.rollbackOf ? 'rollback' : 'recovery'} {short(r.id)}
                </a>{' '}
                of backup {short(r.backupId)} ({r.mode}), {when(r.createdAt)}: <Badge value={r.status} />
              </li>
            ))}
          </ul>
        ) : (
          <p>No restores yet.</p>
        )}
      </Card>
      <Card title="Recent failures" wide>
        <ErrorBox error={failures.error} />
        {failures.data?.items.length ? (
          <table>
            <caption class="sr-only">Failed backups, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Backup</th>
                <th scope="col">When</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {failures.data.items.map((b) => (
                <tr key={b.id}>
                  <td>
                    <a href={`#/backups/${b.id}`}>{short(b.id)}</a>
                  </td>
                  <td>{when(b.createdAt)}</td>
                  <td>{b.error}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p>No failed backups.</p>
        )}
      </Card>
    </>
  );
}

function BackupSummary({ b }: { b: Backup }) {
  return (
    <dl class="kv">
      <dt>Backup</dt>
      <dd>
        <a href={`#/backups/${b.id}`}>{short(b.id)}</a> ({b.type}, {b.trigger})
      </dd>
      <dt>Taken</dt>
      <dd>
        {when(b.createdAt)} ({ago(b.finishedAt ?? b.createdAt)})
      </dd>
      <dt>Size</dt>
      <dd>
        {bytes(b.sizeBytes)}, {b.rowCount.toLocaleString()} rows
      </dd>
    </dl>
  );
}
