import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, can, type Me, type Role, session, setUnauthorizedHandler } from './api';
import { AuditPage } from './pages/audit';
import { BackupDetail, BackupsPage } from './pages/backups';
import { DashboardPage } from './pages/dashboard';
import { KeysPage } from './pages/keys';
import { RecoveryPage, RestoreWizard } from './pages/restore';
import { SchedulesPage } from './pages/schedules';
import { SignIn } from './pages/signin';
import './styles.css';

interface Route {
  path: string;
  params: URLSearchParams;
}

/** Hash routes (#/backups/…): the server serves one page, and nothing secret ever goes in them. */
function readRoute(): Route {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  return { path: path || '/', params: new URLSearchParams(query) };
}

const NAV: { path: string; label: string; role: Role }[] = [
  { path: '/', label: 'Dashboard', role: 'auditor' },
  { path: '/backups', label: 'Backups', role: 'auditor' },
  { path: '/restore', label: 'Restore', role: 'operator' },
  { path: '/schedules', label: 'Schedules', role: 'auditor' },
  { path: '/audit', label: 'Audit', role: 'auditor' },
  { path: '/keys', label: 'API keys', role: 'admin' },
];

function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(Boolean(session.key()));
  const [route, setRoute] = useState(readRoute());
  const [expired, setExpired] = useState(false);

  useEffect(() => {
    const onHash = () => setRoute(readRoute());
    window.addEventListener('hashchange', onHash);
    setUnauthorizedHandler(() => {
      session.clear();
      setMe(null);
      setExpired(true);
    });
    // A reload in the same tab keeps the key: find out again who it is.
    if (session.key())
      api<Me>('GET', '/api/keys/me')
        .then(setMe, () => session.clear())
        .finally(() => setChecking(false));
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  // Move focus to the new page's heading so keyboard and screen-reader users follow navigation.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route.path, me]);

  if (checking) return <p class="loading">Loading…</p>;
  if (!me)
    return (
      <SignIn
        expired={expired}
        onSignedIn={(m) => {
          setExpired(false);
          setMe(m);
        }}
      />
    );

  const signOut = () => {
    session.clear();
    setMe(null);
  };
  const segments = route.path.split('/').filter(Boolean);
  const top = `/${segments[0] ?? ''}`;
  const allowed = NAV.find((n) => n.path === top);
  let page;
  if (allowed && !can(me.role, allowed.role))
    page = (
      <>
        <h1 tabIndex={-1}>Not available</h1>
        <p role="alert">
          Your key’s role ({me.role}) may not open this page; it needs {allowed.role}.
        </p>
      </>
    );
  else if (top === '/backups' && segments[1]) page = <BackupDetail id={segments[1]} role={me.role} />;
  else if (top === '/backups') page = <BackupsPage role={me.role} />;
  else if (top === '/restore') page = <RestoreWizard role={me.role} backupId={route.params.get('backup') ?? ''} />;
  else if (top === '/recoveries' && segments[1]) page = <RecoveryPage id={segments[1]} role={me.role} />;
  else if (top === '/schedules') page = <SchedulesPage role={me.role} />;
  else if (top === '/audit') page = <AuditPage />;
  else if (top === '/keys') page = <KeysPage me={me} />;
  else page = <DashboardPage role={me.role} />;

  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Strongroom</span>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => can(me.role, n.role)).map((n) => (
              <li key={n.path}>
                <a href={`#${n.path}`} aria-current={top === n.path ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {me.name} <span class={`badge role-${me.role}`}>{me.role}</span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
