import { useState } from 'preact/hooks';
import { api, type ApiKey, get, type Me, type Page, type Role } from '../api';
import { when } from '../format';
import { Badge, Card, ErrorBox, POLL_IDLE_MS, TypedConfirm, useAction, usePoll } from '../ui';

/** API keys (admin): list, create (the key is shown once, here, and never again), revoke. */
export function KeysPage({ me }: { me: Me }) {
  const list = usePoll(() => get<Page<ApiKey>>('/api/keys'), POLL_IDLE_MS);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('operator');
  const [created, setCreated] = useState<ApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const action = useAction();
  const create = async (e: Event) => {
    e.preventDefault();
    const k = await action.run(() => api<ApiKey>('POST', '/api/keys', { name, role }));
    if (k) {
      setCreated(k);
      setName('');
      await list.reload();
    }
  };
  const revoke = async (k: ApiKey) => {
    await action.run(() => api('DELETE', `/api/keys/${k.id}`));
    setRevoking(null);
    await list.reload();
  };
  return (
    <>
      <h1 tabIndex={-1}>API keys</h1>
      <Card title="Create a key" wide>
        <form class="form" onSubmit={(e) => void create(e)}>
          <label>
            Name (who or what uses it)
            <input required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              <option value="auditor">auditor — reads everything</option>
              <option value="operator">operator — also backs up, verifies and plans restores</option>
              <option value="admin">admin — everything</option>
            </select>
          </label>
          <button type="submit" class="primary" disabled={action.busy}>
            Create key
          </button>
        </form>
        {created?.key && (
          <div class="secret" role="status">
            <p>
              Key <strong>{created.name}</strong> ({created.role}) created. Copy it now: it is shown this once and only
              its hash is stored.
            </p>
            <label for="new-key">New API key</label>
            <input id="new-key" readOnly value={created.key} onFocus={(e) => e.currentTarget.select()} />
            <button type="button" onClick={() => setCreated(null)}>
              Done, I copied it
            </button>
          </div>
        )}
        <ErrorBox error={action.error} />
      </Card>
      <Card title="Keys" wide>
        <ErrorBox error={list.error} />
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {list.data?.items.map((k) => (
                <tr key={k.id}>
                  <td>
                    {k.name}
                    {k.id === me.id ? ' (this session)' : ''}
                  </td>
                  <td>{k.role}</td>
                  <td>{when(k.createdAt)}</td>
                  <td>{when(k.lastUsedAt)}</td>
                  <td>{k.revokedAt ? <Badge value="revoked" /> : <Badge value="active" />}</td>
                  <td>
                    {!k.revokedAt && (
                      <button type="button" class="danger" onClick={() => setRevoking(k)}>
                        Revoke<span class="sr-only"> {k.name}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {revoking && (
          <TypedConfirm
            phrase={`REVOKE ${revoking.name}`}
            label={`Whoever uses “${revoking.name}” loses access at once${revoking.id === me.id ? ' — including this session' : ''}.`}
            action="Revoke key"
            danger
            busy={action.busy}
            onCancel={() => setRevoking(null)}
            onConfirm={() => void revoke(revoking)}
          />
        )}
      </Card>
    </>
  );
}
