import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { type AuditEvent, type AuditVerify, download, get, type Page } from '../api';
import { when } from '../format';
import { Badge, Card, ErrorBox, Pager, POLL_IDLE_MS, useAction, usePoll } from '../ui';

const EMPTY = { action: '', resource: '', actor: '', outcome: '', from: '', to: '' };

/** datetime-local gives a wall time in the browser's zone; the API wants ISO-8601 UTC. */
const toIso = (local: string) => (local ? new Date(local).toISOString() : '');

export function AuditPage() {
  const [draft, setDraft] = useState(EMPTY);
  const [filters, setFilters] = useState(EMPTY);
  const [cursors, setCursors] = useState<string[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const [verify, setVerify] = useState<AuditVerify | null>(null);
  const action = useAction();
  const list = usePoll(
    () =>
      get<Page<AuditEvent>>('/api/audit', {
        action: filters.action,
        resource: filters.resource,
        actor: filters.actor,
        outcome: filters.outcome,
        from: toIso(filters.from),
        to: toIso(filters.to),
        limit: 25,
        cursor,
      }),
    POLL_IDLE_MS,
    [filters, cursor],
  );
  const field = (k: keyof typeof EMPTY, label: string, type: 'text' | 'datetime-local' = 'text') => (
    <label>
      {label}
      <input
        type={type as 'text'}
        value={draft[k]}
        onInput={(e) => setDraft({ ...draft, [k]: e.currentTarget.value })}
      />
    </label>
  );
  const exportAs = (format: 'ndjson' | 'csv') =>
    void action.run(() =>
      download(
        `/api/audit/export?format=${format}${filters.from ? `&from=${toIso(filters.from)}` : ''}${filters.to ? `&to=${toIso(filters.to)}` : ''}`,
        `audit.${format}`,
      ),
    );
  return (
    <>
      <h1 tabIndex={-1}>Audit trail</h1>
      <Card title="Integrity" wide>
        <div class="row">
          <button
            type="button"
            class="primary"
            disabled={action.busy}
            onClick={() => void action.run(() => get<AuditVerify>('/api/audit/verify')).then((v) => v && setVerify(v))}
          >
            Verify the chain
          </button>
          <button type="button" disabled={action.busy} onClick={() => exportAs('ndjson')}>
            Export NDJSON
          </button>
          <button type="button" disabled={action.busy} onClick={() => exportAs('csv')}>
            Export CSV
          </button>
        </div>
        {verify && (
          <div role="status" data-testid="chain-result" class={verify.ok ? 'health ok' : 'health bad'}>
            {verify.ok
              ? `✔ Chain intact: ${verify.checked} events checked, head #${verify.head?.seq ?? 0}`
              : `✖ Chain broken at event #${verify.firstBadSeq ?? '?'} (${verify.checked} checked)${verify.detail ? `: ${verify.detail}` : ''}`}
          </div>
        )}
        <ErrorBox error={action.error} />
      </Card>
      <Card title="Events" wide>
        <form
          class="filters"
          aria-label="Filter events"
          onSubmit={(e) => {
            e.preventDefault();
            setFilters(draft);
            setCursor(null);
            setCursors([]);
          }}
        >
          {field('action', 'Action')}
          {field('resource', 'Resource')}
          {field('actor', 'Actor (key id)')}
          <label>
            Outcome
            <select value={draft.outcome} onChange={(e) => setDraft({ ...draft, outcome: e.currentTarget.value })}>
              <option value="">any</option>
              <option value="success">success</option>
              <option value="failure">failure</option>
              <option value="denied">denied</option>
            </select>
          </label>
          {field('from', 'From', 'datetime-local')}
          {field('to', 'To', 'datetime-local')}
          <button type="submit">Apply filters</button>
        </form>
        <ErrorBox error={list.error} />
        <div class="scroll">
          <table>
            <caption class="sr-only">Audit events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Resource</th>
                <th scope="col">Outcome</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {list.data?.items.map((e) => (
                <Fragment key={e.seq}>
                  <tr>
                    <td>{e.seq}</td>
                    <td>{when(e.at)}</td>
                    <td>
                      {e.actor.name}
                      {e.actor.role ? ` (${e.actor.role})` : ''}
                    </td>
                    <td>{e.action}</td>
                    <td>
                      {e.resource} {e.resourceId ? <code>{e.resourceId.slice(0, 8)}</code> : ''}
                    </td>
                    <td>
                      <Badge value={e.outcome} />
                    </td>
                    <td>
                      <button
                        type="button"
                        aria-expanded={open === e.seq}
                        onClick={() => setOpen(open === e.seq ? null : e.seq)}
                      >
                        {open === e.seq ? 'Hide' : 'Show'}
                        <span class="sr-only"> details of event {e.seq}</span>
                      </button>
                    </td>
                  </tr>
                  {open === e.seq && (
                    <tr>
                      <td colSpan={7}>
                        <pre>{JSON.stringify(e, null, 2)}</pre>
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
        <Pager
          hasPrev={cursors.length > 0}
          next={Boolean(list.data?.nextCursor)}
          onPrev={() => {
            const prev = [...cursors];
            setCursor(prev.pop() || null);
            setCursors(prev);
          }}
          onNext={() => {
            setCursors([...cursors, cursor ?? '']);
            setCursor(list.data?.nextCursor ?? null);
          }}
        />
      </Card>
    </>
  );
}
