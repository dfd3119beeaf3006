import { useState } from 'preact/hooks';
import { type Me, request, session } from '../api';
import { ErrorBox, useAction } from '../ui';

/**
 * Sign-in with an API key. The key is checked with GET /api/keys/me, which also names its
 * role, so the console offers only what that role may do. Kept in sessionStorage: this tab only.
 */
export function SignIn({ onSignedIn, expired }: { onSignedIn: (me: Me) => void; expired: boolean }) {
  const [key, setKey] = useState('');
  const action = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const me = await action.run(
      async () => (await request('GET', '/api/keys/me', { key: key.trim() })).json() as Promise<Me>,
    );
    if (me) {
      session.set(key.trim());
      setKey('');
      onSignedIn(me);
    }
  };
  return (
    <main id="main" class="signin">
      <h1 tabIndex={-1}>Strongroom console</h1>
      <p>Backups, verified restores and the audit trail of this service.</p>
      {expired && (
        <p role="status" class="notice">
          Your key was not accepted any more (revoked?). Sign in again.
        </p>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          aria-describedby="api-key-help"
        />
        <p id="api-key-help" class="help">
          Kept for this browser tab only, and sent only to this service’s API.
        </p>
        <button type="submit" class="primary" disabled={action.busy || !key.trim()}>
          Sign in
        </button>
      </form>
      <ErrorBox error={action.error} />
    </main>
  );
}
