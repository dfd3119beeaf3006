import { useEffect, useState } from 'preact/hooks';
import { api, type Backup, can, get, type Page, type Plan, type Recovery, type RestoreIssue, type Role } from '../api';
import { count, short, when } from '../format';
import {
  Badge,
  Card,
  ErrorBox,
  navigate,
  POLL_ACTIVE_MS,
  POLL_IDLE_MS,
  Progress,
  TypedConfirm,
  useAction,
  usePoll,
} from '../ui';

const MODES: { value: string; label: string; help: string }[] = [
  {
    value: 'replace',
    label: 'Replace',
    help: 'the tables become exactly what the backup holds (rows added since are removed)',
  },
  { value: 'merge', label: 'Merge', help: 'rows of the backup are inserted or overwritten; other rows stay' },
  {
    value: 'missing-only',
    label: 'Missing only',
    help: 'only rows that no longer exist are put back; nothing is overwritten',
  },
];

/**
 * Restore in steps: backup → mode and tables → the dry-run plan → the typed phrase →
 * live progress (on the recovery's own page). Operators can plan; executing needs admin.
 */
export function RestoreWizard({ role, backupId: initial }: { role: Role; backupId: string }) {
  const [backupId, setBackupId] = useState(initial);
  const [mode, setMode] = useState('replace');
  const [tables, setTables] = useState<string[] | null>(null);
  const [safety, setSafety] = useState(true);
  const [plan, setPlan] = useState<Plan | null>(null);
  const choices = usePoll(() => get<Page<Backup>>('/api/backups', { status: 'completed', limit: 50 }), POLL_IDLE_MS);
  const backup = usePoll(
    () => (backupId ? get<Backup>(`/api/backups/${backupId}`) : Promise.resolve(undefined)),
    60000,
    [backupId],
  );
  const action = useAction();
  useEffect(() => {
    setTables(null);
    setPlan(null);
  }, [backupId]);
  useEffect(() => setPlan(null), [mode, tables, safety]);
  const b = backup.data;
  const all = b?.tables.map((t) => t.name) ?? [];
  const chosen = tables ?? all;
  const body = { backupId, mode, ...(tables ? { tables } : {}) };

  const dryRun = async () => {
    const res = await action.run(() => api<{ plan: Plan }>('POST', '/api/recoveries', { ...body, dryRun: true }));
    if (res) setPlan(res.plan);
  };
  const execute = async (confirm: string) => {
    const r = await action.run(() =>
      api<Recovery>('POST', '/api/recoveries', { ...body, safetyBackup: safety, confirm }),
    );
    if (r) navigate(`/recoveries/${r.id}`);
  };

  return (
    <>
      <h1 tabIndex={-1}>Restore</h1>
      <ol class="steps" aria-label="Steps">
        <li class={backupId ? 'done' : 'current'}>Backup</li>
        <li class={b && !plan ? 'current' : b ? 'done' : ''}>Mode and tables</li>
        <li class={plan ? 'current' : ''}>Plan and confirm</li>
      </ol>
      <Card title="1. Backup to restore" wide>
        <label>
          Backup
          <select value={backupId} onChange={(e) => setBackupId(e.currentTarget.value)}>
            <option value="">Choose a completed backup…</option>
            {backupId && !choices.data?.items.some((x) => x.id === backupId) && (
              <option value={backupId}>{backupId}</option>
            )}
            {choices.data?.items.map((x) => (
              <option key={x.id} value={x.id}>
                {short(x.id)} — {x.type}, {when(x.createdAt)}
                {x.description ? ` — ${x.description}` : ''}
              </option>
            ))}
          </select>
        </label>
        <ErrorBox error={backup.error} />
      </Card>
      {b && (
        <Card title="2. Mode and tables" wide>
          <fieldset>
            <legend>Mode</legend>
            {MODES.map((m) => (
              <label key={m.value} class="check">
                <input
                  type="radio"
                  name="mode"
                  value={m.value}
                  checked={mode === m.value}
                  onChange={() => setMode(m.value)}
                />
                <strong>{m.label}</strong>: {m.help}
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>
              Tables ({chosen.length} of {all.length})
            </legend>
            {all.map((t) => (
              <label key={t} class="check">
                <input
                  type="checkbox"
                  checked={chosen.includes(t)}
                  onChange={(e) => {
                    const next = e.currentTarget.checked ? [...chosen, t] : chosen.filter((x) => x !== t);
                    setTables(next.length === all.length ? null : next);
                  }}
                />
                {t}
              </label>
            ))}
          </fieldset>
          <label class="check">
            <input type="checkbox" checked={safety} onChange={(e) => setSafety(e.currentTarget.checked)} />
            Take a safety backup first (needed to roll back)
          </label>
          <button
            type="button"
            class="primary"
            disabled={action.busy || chosen.length === 0}
            onClick={() => void dryRun()}
          >
            Plan (dry run)
          </button>
        </Card>
      )}
      <ErrorBox error={action.error} />
      {plan && (
        <Card title="3. Plan" wide>
          <p>Nothing has been written. This is what the restore would do:</p>
          <div class="scroll">
            <table data-testid="plan">
              <thead>
                <tr>
                  <th scope="col">Table</th>
                  <th scope="col">Insert</th>
                  <th scope="col">Update</th>
                  <th scope="col">Delete</th>
                  <th scope="col">Unchanged</th>
                </tr>
              </thead>
              <tbody>
                {plan.tables.map((t) => (
                  <tr key={t.name}>
                    <td>{t.name}</td>
                    <td>{count(t.insert)}</td>
                    <td>{count(t.update)}</td>
                    <td class={t.delete > 0 ? 'warn' : ''}>{count(t.delete)}</td>
                    <td>{count(t.unchanged)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Issues title="Blockers (the restore would be refused)" issues={plan.blockers} />
          <Issues title="Warnings and schema differences" issues={plan.warnings} />
          {can(role, 'admin') ? (
            (plan.blockers?.length ?? 0) === 0 && (
              <TypedConfirm
                phrase={`RESTORE ${backupId}`}
                label={`This overwrites live data (${mode}).`}
                action="Restore now"
                danger
                busy={action.busy}
                onConfirm={(typed) => void execute(typed)}
              />
            )
          ) : (
            <p class="notice">Running the restore needs an admin key; share this plan with an admin.</p>
          )}
        </Card>
      )}
    </>
  );
}

function Issues({ title, issues }: { title: string; issues?: RestoreIssue[] }) {
  if (!issues?.length) return null;
  return (
    <>
      <h3>{title}</h3>
      <ul>
        {issues.map((i, n) => (
          <li key={n}>
            <strong>{i.subject}</strong>: {i.message}
            {i.count !== undefined ? ` (${count(i.count)})` : ''}
          </li>
        ))}
      </ul>
    </>
  );
}

const active = (r: Recovery | undefined) => r?.status === 'pending' || r?.status === 'running';

/** A recovery as it runs (polled every second) and its result, with the rollback. */
export function RecoveryPage({ id, role }: { id: string; role: Role }) {
  const rec = usePoll(
    () => get<Recovery>(`/api/recoveries/${id}`),
    (r) => (active(r) ? POLL_ACTIVE_MS : POLL_IDLE_MS),
    [id],
  );
  const action = useAction();
  const [asking, setAsking] = useState(false);
  const r = rec.data;
  const rollback = async (confirm: string) => {
    const res = await action.run(() => api<Recovery>('POST', `/api/recoveries/${id}/rollback`, { confirm }));
    setAsking(false);
    if (res) navigate(`/recoveries/${res.id}`);
  };
  return (
    <>
      <h1 tabIndex={-1}>
        {r?.rollbackOf ? 'Rollback' : 'Recovery'} {short(id)}
      </h1>
      <ErrorBox error={rec.error} />
      {r && (
        <Card title="Result" wide>
          <p>
            Status: <Badge value={r.status} /> {r.error && <span class="error-text">{r.error}</span>}
          </p>
          {active(r) && (
            <Progress
              value={0}
              max={0}
              label={`${r.progress?.phase ?? r.status}${r.progress?.table ? `: ${r.progress.table}` : ''}, ${count(r.progress?.rows ?? 0)} rows read`}
            />
          )}
          <dl class="kv">
            <dt>Backup restored</dt>
            <dd>
              <a href={`#/backups/${r.backupId}`}>{short(r.backupId)}</a>
            </dd>
            <dt>Mode</dt>
            <dd>{r.mode}</dd>
            <dt>Tables</dt>
            <dd>{r.tables.join(', ')}</dd>
            <dt>Rows written</dt>
            <dd>{count(r.rowsWritten)}</dd>
            <dt>Started / finished</dt>
            <dd>
              {when(r.startedAt)} / {when(r.finishedAt)}
            </dd>
            <dt>Safety backup</dt>
            <dd>
              {r.safetyBackupId ? <a href={`#/backups/${r.safetyBackupId}`}>{short(r.safetyBackupId)}</a> : 'none'}
            </dd>
            {r.rollbackOf && (
              <>
                <dt>Undoes</dt>
                <dd>
                  <a href={`#/recoveries/${r.rollbackOf}`}>recovery {short(r.rollbackOf)}</a>
                </dd>
              </>
            )}
            {r.rolledBackBy && (
              <>
                <dt>Rolled back by</dt>
                <dd>
                  <a href={`#/recoveries/${r.rolledBackBy}`}>rollback {short(r.rolledBackBy)}</a>
                </dd>
              </>
            )}
          </dl>
          {can(role, 'admin') && r.status === 'completed' && r.safetyBackupId && !r.rollbackOf && (
            <>
              {!asking && (
                <button type="button" class="danger" onClick={() => setAsking(true)}>
                  Roll back…
                </button>
              )}
              {asking && (
                <TypedConfirm
                  phrase={`ROLLBACK ${r.id}`}
                  label="Rolling back restores the safety backup taken just before this recovery."
                  action="Roll back now"
                  danger
                  busy={action.busy}
                  onCancel={() => setAsking(false)}
                  onConfirm={(typed) => void rollback(typed)}
                />
              )}
            </>
          )}
          <ErrorBox error={action.error} />
        </Card>
      )}
    </>
  );
}
