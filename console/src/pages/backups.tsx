import { useState } from 'preact/hooks';
import { api, type Backup, can, download, get, type Page, request, type Role, type VerifyResult } from '../api';
import { ago, bytes, count, duration, short, when } from '../format';
import {
  Badge,
  Card,
  ErrorBox,
  navigate,
  Pager,
  POLL_ACTIVE_MS,
  POLL_IDLE_MS,
  Progress,
  TypedConfirm,
  useAction,
  usePoll,
} from '../ui';

const running = (b: Backup | undefined) => b?.status === 'pending' || b?.status === 'running';

/** Table names the operator can pick from: those of the newest completed full backup. */
function useKnownTables(): string[] {
  const { data } = usePoll(
    () => get<Page<Backup>>('/api/backups', { type: 'full', status: 'completed', limit: 1 }),
    60000,
  );
  return data?.items[0]?.tables.map((t) => t.name) ?? [];
}

export function BackupsPage({ role }: { role: Role }) {
  const [filters, setFilters] = useState({ status: '', type: '', trigger: '', tag: '', pinned: '' });
  const [cursors, setCursors] = useState<string[]>([]); // cursors of the pages before, for "Newer"
  const [cursor, setCursor] = useState<string | null>(null);
  const list = usePoll(
    () =>
      get<Page<Backup>>('/api/backups', {
        status: filters.status,
        type: filters.type,
        trigger: filters.trigger,
        tag: filters.tag,
        limit: 20,
        cursor,
      }),
    (v) => (v?.items.some((b) => running(b)) ? POLL_ACTIVE_MS * 2 : POLL_IDLE_MS),
    [filters.status, filters.type, filters.trigger, filters.tag, cursor],
  );
  const setFilter = (k: keyof typeof filters) => (e: Event) => {
    setFilters({ ...filters, [k]: (e.currentTarget as HTMLSelectElement).value });
    setCursor(null);
    setCursors([]);
  };
  // The API filters by status, type, trigger and tag; "pinned" is applied to the page shown.
  const items = (list.data?.items ?? []).filter((b) => filters.pinned === '' || String(b.pinned) === filters.pinned);
  return (
    <>
      <h1 tabIndex={-1}>Backups</h1>
      {can(role, 'operator') && <CreateBackup />}
      {can(role, 'admin') && <ImportBackup />}
      <Card title="Catalog" wide>
        <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter backups">
          <Select
            label="Status"
            value={filters.status}
            onChange={setFilter('status')}
            options={['pending', 'running', 'completed', 'failed', 'cancelled']}
          />
          <Select
            label="Type"
            value={filters.type}
            onChange={setFilter('type')}
            options={['full', 'tables', 'audit', 'scope', 'files']}
          />
          <Select
            label="Trigger"
            value={filters.trigger}
            onChange={setFilter('trigger')}
            options={['manual', 'scheduled', 'pre-restore', 'import']}
          />
          <label>
            Tag
            <input value={filters.tag} onChange={setFilter('tag')} placeholder="any" />
          </label>
          <Select label="Pinned" value={filters.pinned} onChange={setFilter('pinned')} options={['true', 'false']} />
        </form>
        <ErrorBox error={list.error} />
        <div class="scroll">
          <table>
            <caption class="sr-only">Backups, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Backup</th>
                <th scope="col">Status</th>
                <th scope="col">Type</th>
                <th scope="col">Trigger</th>
                <th scope="col">Created</th>
                <th scope="col">Size</th>
                <th scope="col">Rows</th>
                <th scope="col">Tags</th>
              </tr>
            </thead>
            <tbody>
              {items.map((b) => (
                <tr key={b.id}>
                  <td>
                    <a href={`#/backups/${b.id}`}>{short(b.id)}</a>
                    {b.pinned && (
                      <span title="pinned" aria-label="pinned">
                        {' '}
                        📌
                      </span>
                    )}
                    {b.description && <div class="muted">{b.description}</div>}
                  </td>
                  <td>
                    <Badge value={b.status} />
                    {b.verifiedAt && <span class="muted"> verified</span>}
                  </td>
                  <td>{b.type}</td>
                  <td>{b.trigger}</td>
                  <td>{when(b.createdAt)}</td>
                  <td>{bytes(b.sizeBytes)}</td>
                  <td>{count(b.rowCount)}</td>
                  <td>{b.tags.join(', ')}</td>
                </tr>
              ))}
              {list.data && items.length === 0 && (
                <tr>
                  <td colSpan={8}>No backups match.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <Pager
          hasPrev={cursors.length > 0}
          next={Boolean(list.data?.nextCursor)}
          onPrev={() => {
            const prev = [...cursors];
            setCursor(prev.pop() ?? null);
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

function Select(props: { label: string; value: string; options: string[]; onChange: (e: Event) => void }) {
  return (
    <label>
      {props.label}
      <select value={props.value} onChange={props.onChange}>
        <option value="">any</option>
        {props.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

const splitList = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

function CreateBackup() {
  const [type, setType] = useState('full');
  const [tables, setTables] = useState<string[]>([]);
  const [description, setDescription] = useState('');
  const [tags, setTags] = useState('');
  const known = useKnownTables();
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const b = await action.run(() =>
      api<Backup>('POST', '/api/backups', {
        type,
        ...(type === 'tables' ? { tables } : {}),
        ...(description ? { description } : {}),
        ...(tags ? { tags: splitList(tags) } : {}),
      }),
    );
    if (b) navigate(`/backups/${b.id}`);
  };
  return (
    <Card title="Take a backup" wide>
      <form class="form" onSubmit={(e) => void submit(e)}>
        <label>
          Type
          <select value={type} onChange={(e) => setType(e.currentTarget.value)}>
            <option value="full">full — the whole database</option>
            <option value="tables">tables — the tables chosen below</option>
            <option value="audit">audit — the audit trail only</option>
          </select>
        </label>
        {type === 'tables' && (
          <fieldset>
            <legend>Tables</legend>
            {known.length === 0 && <p class="muted">Take a full backup first to list the tables here.</p>}
            {known.map((t) => (
              <label key={t} class="check">
                <input
                  type="checkbox"
                  checked={tables.includes(t)}
                  onChange={(e) => setTables(e.currentTarget.checked ? [...tables, t] : tables.filter((x) => x !== t))}
                />
                {t}
              </label>
            ))}
          </fieldset>
        )}
        <label>
          Description
          <input value={description} maxLength={500} onInput={(e) => setDescription(e.currentTarget.value)} />
        </label>
        <label>
          Tags (comma-separated)
          <input value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={action.busy}>
          Start backup
        </button>
      </form>
      <ErrorBox error={action.error} />
    </Card>
  );
}

function ImportBackup() {
  const action = useAction();
  const [file, setFile] = useState<File | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    const form = new FormData();
    form.append('file', file);
    const b = await action.run(
      async () => (await request('POST', '/api/backups/import', { form })).json() as Promise<Backup>,
    );
    if (b) navigate(`/backups/${b.id}`);
  };
  return (
    <Card title="Import an archive" wide>
      <form class="form" onSubmit={(e) => void submit(e)}>
        <label>
          Archive (.tar, from a download)
          <input
            type="file"
            accept=".tar,application/x-tar"
            onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
          />
        </label>
        <button type="submit" disabled={!file || action.busy}>
          {action.busy ? 'Uploading and verifying…' : 'Import'}
        </button>
      </form>
      <ErrorBox error={action.error} />
    </Card>
  );
}

export function BackupDetail({ id, role }: { id: string; role: Role }) {
  const detail = usePoll(
    () => get<Backup>(`/api/backups/${id}`),
    (b) => (running(b) ? POLL_ACTIVE_MS : POLL_IDLE_MS),
    [id],
  );
  const action = useAction();
  const [verify, setVerify] = useState<{ deep: boolean; result: VerifyResult } | null>(null);
  const [verifying, setVerifying] = useState<boolean | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const b = detail.data;
  const doVerify = async (deep: boolean) => {
    setVerifying(deep);
    setVerify(null);
    const result = await action.run(() => api<VerifyResult>('POST', `/api/backups/${id}/verify`, { deep }));
    setVerifying(null);
    if (result) setVerify({ deep, result });
    await detail.reload();
  };
  const patch = async (body: Record<string, unknown>) => {
    await action.run(() => api<Backup>('PATCH', `/api/backups/${id}`, body));
    await detail.reload();
  };
  return (
    <>
      <h1 tabIndex={-1}>Backup {short(id)}</h1>
      <p>
        <a href="#/backups">← All backups</a>
      </p>
      <ErrorBox error={detail.error} />
      {b && (
        <>
          <Card title="Summary" wide>
            <p>
              Status: <Badge value={b.status} /> {b.error && <span class="error-text">{b.error}</span>}
            </p>
            {running(b) && (
              <Progress
                value={b.progress?.tablesDone ?? 0}
                max={b.progress?.tablesTotal ?? 0}
                label={`${b.progress?.phase ?? b.status}: ${b.progress?.tablesDone ?? 0}/${b.progress?.tablesTotal ?? '?'} tables, ${count(b.progress?.rows ?? 0)} rows, ${bytes(b.progress?.bytes ?? 0)}`}
              />
            )}
            <dl class="kv">
              <dt>Id</dt>
              <dd>
                <code>{b.id}</code>
              </dd>
              <dt>Type / trigger</dt>
              <dd>
                {b.type} / {b.trigger}
              </dd>
              <dt>Description</dt>
              <dd>{b.description ?? '—'}</dd>
              <dt>Tags</dt>
              <dd>{b.tags.join(', ') || '—'}</dd>
              <dt>Created</dt>
              <dd>{when(b.createdAt)}</dd>
              <dt>Took</dt>
              <dd>
                {b.finishedAt
                  ? duration((Date.parse(b.finishedAt) - Date.parse(b.startedAt ?? b.createdAt)) / 1000)
                  : '—'}
              </dd>
              <dt>Size</dt>
              <dd>
                {bytes(b.sizeBytes)} ({b.compression}), {count(b.rowCount)} rows, {b.files.count} files (
                {bytes(b.files.bytes)})
              </dd>
              <dt>Encryption</dt>
              <dd>{b.encrypted ? `on, key ${b.keyId ?? '(passphrase)'}` : 'off'}</dd>
              <dt>Manifest checksum</dt>
              <dd>
                <code class="hash">{b.checksum ?? '—'}</code>
              </dd>
              <dt>Verified</dt>
              <dd>{b.verifiedAt ? `${when(b.verifiedAt)} (${ago(b.verifiedAt)})` : 'never'}</dd>
              <dt>Pinned</dt>
              <dd>{b.pinned ? 'yes (never deleted by retention)' : 'no'}</dd>
            </dl>
            <div class="row actions">
              {can(role, 'operator') && b.status === 'completed' && (
                <>
                  <button type="button" disabled={action.busy} onClick={() => void doVerify(false)}>
                    Verify
                  </button>
                  <button type="button" disabled={action.busy} onClick={() => void doVerify(true)}>
                    Deep verify
                  </button>
                  <button type="button" class="primary" onClick={() => navigate(`/restore?backup=${b.id}`)}>
                    Restore…
                  </button>
                </>
              )}
              {can(role, 'admin') && b.status === 'completed' && (
                <button
                  type="button"
                  onClick={() => void action.run(() => download(`/api/backups/${b.id}/download`, `${b.id}.tar`))}
                >
                  Download
                </button>
              )}
              {can(role, 'admin') && (
                <button type="button" disabled={action.busy} onClick={() => void patch({ pinned: !b.pinned })}>
                  {b.pinned ? 'Unpin' : 'Pin'}
                </button>
              )}
              {can(role, 'admin') && !running(b) && (
                <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
                  Delete…
                </button>
              )}
            </div>
            {verifying !== null && (
              <p role="status">
                {verifying ? 'Deep verifying (restoring into a scratch database)…' : 'Verifying every stored byte…'}
              </p>
            )}
            {confirmDelete && (
              <TypedConfirm
                phrase={`DELETE ${short(b.id)}`}
                label="Deleting removes the archive from storage for good."
                action="Delete backup"
                danger
                busy={action.busy}
                onCancel={() => setConfirmDelete(false)}
                onConfirm={() =>
                  void action
                    .run(async () => {
                      await api('DELETE', `/api/backups/${b.id}`);
                      return true;
                    })
                    .then((ok) => {
                      setConfirmDelete(false);
                      if (ok) navigate('/backups');
                    })
                }
              />
            )}
            <ErrorBox error={action.error} />
          </Card>
          {verify && (
            <Card title={verify.deep ? 'Deep verification' : 'Verification'} wide>
              <p class={verify.result.ok ? 'health ok' : 'health bad'} data-testid="verify-result">
                {verify.result.ok ? '✔ Sound' : '✖ Problems found'}
              </p>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Check</th>
                    <th scope="col">Result</th>
                    <th scope="col">Detail</th>
                  </tr>
                </thead>
                <tbody>
                  {verify.result.checks.map((c) => (
                    <tr key={c.name}>
                      <td>{c.name}</td>
                      <td>{c.ok ? '✔ ok' : '✖ failed'}</td>
                      <td>{c.detail ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Card>
          )}
          {can(role, 'operator') && <EditLabels b={b} onSave={patch} busy={action.busy} />}
          <Card title="Tables" wide>
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Table</th>
                    <th scope="col">Rows</th>
                    <th scope="col">Bytes</th>
                    <th scope="col">SHA-256</th>
                  </tr>
                </thead>
                <tbody>
                  {b.tables.map((t) => (
                    <tr key={t.name}>
                      <td>{t.name}</td>
                      <td>{count(t.rows)}</td>
                      <td>{bytes(t.bytes)}</td>
                      <td>
                        <code class="hash">{t.sha256}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Card>
          <Card title="Manifest" wide>
            <details>
              <summary>The catalog record of this backup (JSON)</summary>
              <pre>{JSON.stringify(b, null, 2)}</pre>
            </details>
          </Card>
        </>
      )}
    </>
  );
}

function EditLabels({
  b,
  onSave,
  busy,
}: {
  b: Backup;
  onSave: (body: Record<string, unknown>) => Promise<void>;
  busy: boolean;
}) {
  const [description, setDescription] = useState(b.description ?? '');
  const [tags, setTags] = useState(b.tags.join(', '));
  return (
    <Card title="Description and tags" wide>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          void onSave({ description, tags: splitList(tags) });
        }}
      >
        <label>
          Description
          <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </label>
        <label>
          Tags (comma-separated)
          <input value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy}>
          Save
        </button>
      </form>
    </Card>
  );
}
