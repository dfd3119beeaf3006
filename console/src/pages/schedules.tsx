import { useMemo, useState } from 'preact/hooks';
import {
  api,
  type Backup,
  can,
  get,
  type Page,
  type Retention,
  type RetentionPreview,
  type Role,
  type Schedule,
} from '../api';
import { describeCron, nextRuns } from '../cron';
import { short, when } from '../format';
import { Badge, Card, ErrorBox, navigate, POLL_IDLE_MS, TypedConfirm, useAction, usePoll } from '../ui';

const DEFAULT_RETENTION: Retention = {
  keepLast: 7,
  daily: 7,
  weekly: 4,
  monthly: 12,
  yearly: 0,
  maxAgeDays: null,
  maxTotalBytes: null,
};

/** Schedules with their cron in words and next five runs, and the retention preview beside them (refreshed every 15 s and after each change). */
export function SchedulesPage({ role }: { role: Role }) {
  const list = usePoll(() => get<Page<Schedule>>('/api/schedules', { limit: 200 }), POLL_IDLE_MS);
  const preview = usePoll(() => get<RetentionPreview>('/api/retention/preview'), POLL_IDLE_MS);
  const [editing, setEditing] = useState<Schedule | 'new' | null>(null);
  const refresh = async () => {
    await list.reload();
    await preview.reload();
  };
  return (
    <>
      <h1 tabIndex={-1}>Schedules and retention</h1>
      <div class="split">
        <div>
          <ErrorBox error={list.error} />
          {can(role, 'admin') && editing === null && (
            <button type="button" class="primary" onClick={() => setEditing('new')}>
              New schedule
            </button>
          )}
          {editing !== null && (
            <ScheduleForm
              key={editing === 'new' ? 'new' : editing.id}
              initial={editing === 'new' ? null : editing}
              onDone={() => {
                setEditing(null);
                void refresh();
              }}
            />
          )}
          {list.data?.items.map((s) => (
            <ScheduleCard key={s.id} s={s} role={role} onEdit={() => setEditing(s)} onChanged={() => void refresh()} />
          ))}
          {list.data?.items.length === 0 && <p>No schedules.</p>}
        </div>
        <RetentionPanel preview={preview.data} error={preview.error} />
      </div>
    </>
  );
}

function RunList({ cron, timezone }: { cron: string; timezone: string }) {
  const result = useMemo(() => {
    try {
      return { words: describeCron(cron), runs: nextRuns(cron, timezone, 5), error: null };
    } catch (e) {
      return { words: null, runs: [], error: e instanceof Error ? e.message : String(e) };
    }
  }, [cron, timezone]);
  if (result.error) return <p class="error-text">Cannot read this expression: {result.error}</p>;
  return (
    <div data-testid="cron-preview">
      <p class="cron-words">
        {result.words} ({timezone})
      </p>
      <p class="muted">Next five runs, in {timezone}:</p>
      <ol class="runs">
        {result.runs.map((d) => (
          <li key={d.getTime()}>{when(d.toISOString(), timezone)}</li>
        ))}
      </ol>
    </div>
  );
}

function ScheduleCard({
  s,
  role,
  onEdit,
  onChanged,
}: {
  s: Schedule;
  role: Role;
  onEdit: () => void;
  onChanged: () => void;
}) {
  const action = useAction();
  const [deleting, setDeleting] = useState(false);
  const act = async (fn: () => Promise<unknown>) => {
    const ok = await action.run(async () => {
      await fn();
      return true;
    });
    if (ok) onChanged();
  };
  return (
    <Card title={s.name} wide>
      <p>
        <Badge value={s.enabled ? 'enabled' : 'disabled'} /> <code>{s.cron}</code> · {s.type}
        {s.tables.length ? ` (${s.tables.join(', ')})` : ''} · last run {when(s.lastRunAt)}{' '}
        {s.lastStatus && <Badge value={s.lastStatus} />}
      </p>
      <RunList cron={s.cron} timezone={s.timezone} />
      <p class="muted">
        Keeps: last {s.retention.keepLast}, {s.retention.daily} daily, {s.retention.weekly} weekly,{' '}
        {s.retention.monthly} monthly, {s.retention.yearly} yearly
        {s.retention.maxAgeDays ? `, at most ${s.retention.maxAgeDays} days old` : ''}
      </p>
      <div class="row actions">
        {can(role, 'operator') && (
          <button
            type="button"
            disabled={action.busy}
            onClick={() =>
              void action
                .run(() => api<Backup>('POST', `/api/schedules/${s.id}/run`))
                .then((b) => b && navigate(`/backups/${b.id}`))
            }
          >
            Run now
          </button>
        )}
        {can(role, 'admin') && (
          <>
            <button type="button" onClick={onEdit}>
              Edit
            </button>
            <button
              type="button"
              disabled={action.busy}
              onClick={() => void act(() => api('PATCH', `/api/schedules/${s.id}`, { enabled: !s.enabled }))}
            >
              {s.enabled ? 'Disable' : 'Enable'}
            </button>
            <button type="button" class="danger" onClick={() => setDeleting(true)}>
              Delete…
            </button>
          </>
        )}
      </div>
      {deleting && (
        <TypedConfirm
          phrase={`DELETE ${s.name}`}
          label="The schedule stops; its backups stay."
          action="Delete schedule"
          danger
          busy={action.busy}
          onCancel={() => setDeleting(false)}
          onConfirm={() => void act(() => api('DELETE', `/api/schedules/${s.id}`))}
        />
      )}
      <ErrorBox error={action.error} />
    </Card>
  );
}

const nullableInt = (v: string): number | null => (v.trim() === '' ? null : Number(v));

function ScheduleForm({ initial, onDone }: { initial: Schedule | null; onDone: () => void }) {
  const [name, setName] = useState(initial?.name ?? '');
  const [cron, setCron] = useState(initial?.cron ?? '0 2 * * *');
  const [timezone, setTimezone] = useState(initial?.timezone ?? 'UTC');
  const [type, setType] = useState(initial?.type ?? 'full');
  const [tables, setTables] = useState((initial?.tables ?? []).join(', '));
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const [ret, setRet] = useState<Retention>({ ...DEFAULT_RETENTION, ...initial?.retention });
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = {
      name,
      cron,
      timezone,
      type,
      tables:
        type === 'tables'
          ? tables
              .split(',')
              .map((t) => t.trim())
              .filter(Boolean)
          : [],
      enabled,
      retention: ret,
    };
    const ok = await action.run(async () => {
      await (initial ? api('PATCH', `/api/schedules/${initial.id}`, body) : api('POST', '/api/schedules', body));
      return true;
    });
    if (ok) onDone();
  };
  const num = (k: keyof Retention, label: string, nullable = false) => (
    <label>
      {label}
      <input
        type="number"
        min={nullable ? 1 : 0}
        value={ret[k] ?? ''}
        placeholder={nullable ? 'no limit' : undefined}
        onInput={(e) =>
          setRet({ ...ret, [k]: nullable ? nullableInt(e.currentTarget.value) : Number(e.currentTarget.value) })
        }
      />
    </label>
  );
  return (
    <Card title={initial ? `Edit ${initial.name}` : 'New schedule'} wide>
      <form class="form" onSubmit={(e) => void submit(e)}>
        <label>
          Name
          <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Cron expression
          <input
            required
            value={cron}
            spellcheck={false}
            onInput={(e) => setCron(e.currentTarget.value)}
            aria-describedby="cron-help"
          />
        </label>
        <p id="cron-help" class="help">
          minute hour day-of-month month day-of-week, e.g. <code>0 2 * * *</code> (daily at 02:00) or{' '}
          <code>@hourly</code>.
        </p>
        <label>
          Time zone (IANA)
          <input required value={timezone} onInput={(e) => setTimezone(e.currentTarget.value)} />
        </label>
        <RunList cron={cron} timezone={validZone(timezone) ? timezone : 'UTC'} />
        <label>
          Type
          <select value={type} onChange={(e) => setType(e.currentTarget.value)}>
            <option value="full">full</option>
            <option value="tables">tables</option>
            <option value="audit">audit</option>
          </select>
        </label>
        {type === 'tables' && (
          <label>
            Tables (comma-separated)
            <input value={tables} onInput={(e) => setTables(e.currentTarget.value)} />
          </label>
        )}
        <label class="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
          Enabled
        </label>
        <fieldset class="retention">
          <legend>Retention of this schedule’s backups</legend>
          {num('keepLast', 'Keep last')}
          {num('daily', 'Daily')}
          {num('weekly', 'Weekly')}
          {num('monthly', 'Monthly')}
          {num('yearly', 'Yearly')}
          {num('maxAgeDays', 'Max age (days)', true)}
          {num('maxTotalBytes', 'Max total bytes', true)}
        </fieldset>
        <div class="row">
          <button type="submit" class="primary" disabled={action.busy}>
            {initial ? 'Save' : 'Create'}
          </button>
          <button type="button" onClick={onDone}>
            Cancel
          </button>
        </div>
      </form>
      <ErrorBox error={action.error} />
    </Card>
  );
}

function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function RetentionPanel({
  preview,
  error,
}: {
  preview: RetentionPreview | undefined;
  error: ReturnType<typeof usePoll>['error'];
}) {
  return (
    <Card title="Retention preview">
      <p class="muted">What a cleanup would do now with the saved policies, and why. Nothing is deleted here.</p>
      <ErrorBox error={error} />
      {preview && (
        <>
          <h3>Would delete ({preview.delete.length})</h3>
          {preview.delete.length === 0 ? (
            <p>Nothing.</p>
          ) : (
            <ul data-testid="retention-delete">
              {preview.delete.map((d) => (
                <li key={d.id}>
                  <a href={`#/backups/${d.id}`}>{short(d.id)}</a>
                  {d.reasons?.length ? `: ${d.reasons.join('; ')}` : ''}
                </li>
              ))}
            </ul>
          )}
          <h3>Keeps ({preview.keep.length})</h3>
          <ul data-testid="retention-keep">
            {preview.keep.map((k) => (
              <li key={k.id}>
                <a href={`#/backups/${k.id}`}>{short(k.id)}</a>: {k.reasons.join('; ')}
              </li>
            ))}
          </ul>
        </>
      )}
    </Card>
  );
}
