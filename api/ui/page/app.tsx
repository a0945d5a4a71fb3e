import { useEffect, useState } from 'preact/hooks';
import { readSession, signOut, setCsrfToken, whenSignedOut } from './api';
import { AuditPage } from './audit-page';
import { DagPage } from './dag-page';
import { DagsPage } from './dags-page';
import { meetsRole } from './format';
import { ReposPage } from './repos-page';
import { Link, navigate, routeOf, usePath, type Route } from './router';
import { RunPage } from './run-page';
import { RunsPage } from './runs-page';
import { SignInPage } from './sign-in-page';
import { StatsPage } from './stats-page';
import type { Session } from './types';

const NAV: { href: string; label: string; pages: Route['page'][]; admin?: boolean }[] = [
  { href: '/ui', label: 'Runs', pages: ['runs', 'run'] },
  { href: '/ui/dags', label: 'DAGs', pages: ['dags', 'dag'] },
  { href: '/ui/repos', label: 'Repositories', pages: ['repos'] },
  { href: '/ui/stats', label: 'Analytics', pages: ['stats'] },
  { href: '/ui/audit', label: 'Audit', pages: ['audit'], admin: true },
];

function Page(props: { route: Route; session: Session }) {
  const { route, session } = props;
  switch (route.page) {
    case 'runs':
      return <RunsPage />;
    case 'run':
      return <RunPage key={route.runId} runId={route.runId} session={session} />;
    case 'dags':
      return <DagsPage />;
    case 'dag':
      return <DagPage key={route.dagId} dagId={route.dagId} session={session} />;
    case 'repos':
      return <ReposPage session={session} />;
    case 'stats':
      return <StatsPage />;
    case 'audit':
      return meetsRole(session.roles, 'admin') ? <AuditPage /> : <p>The audit log is for admins.</p>;
    case 'sign-in':
    case 'not-found':
      return (
        <p>
          No such page. <Link href="/ui">Back to the runs</Link>.
        </p>
      );
  }
}

/** The page: who is signed in, the navigation, and the page the path names. */
export function App() {
  const path = usePath();
  const route = routeOf(path);
  const [session, setSession] = useState<Session | null>();
  const [problem, setProblem] = useState<string>();
  // While the sign-out is on its way, pages stop asking: their answers would be 401s racing it.
  const [signingOut, setSigningOut] = useState(false);

  useEffect(() => {
    whenSignedOut(() => setSession(null));
    readSession()
      .then((found) => setSession(found ?? null))
      .catch((error: Error) => setProblem(error.message));
  }, []);
  useEffect(() => {
    if (session) setCsrfToken(session.csrf);
    if (session === null && route.page !== 'sign-in') navigate('/ui/sign-in', { replace: true });
    if (session && route.page === 'sign-in') navigate('/ui', { replace: true });
  }, [session, route.page]);

  if (problem) return <main class="main"><p class="error-text" role="alert">The page could not reach the server: {problem}</p></main>;
  if (session === undefined) return <main class="main"><p>Loading…</p></main>;
  return (
    <>
      <header class="top">
        <h1 class="brand">Qubinode Navigator</h1>
        {session && (
          <nav aria-label="pages">
            {NAV.filter((item) => !item.admin || meetsRole(session.roles, 'admin')).map((item) => (
              <Link key={item.href} href={item.href} current={item.pages.includes(route.page)} class="nav-link">
                {item.label}
              </Link>
            ))}
          </nav>
        )}
        {session && (
          <div class="who">
            <span data-user="">{session.user}</span> <span class="muted">({session.roles.join(', ')})</span>{' '}
            <button
              type="button"
              class="secondary"
              data-action="sign-out"
              disabled={signingOut}
              onClick={() => {
                setSigningOut(true);
                void signOut().finally(() => {
                  setSigningOut(false);
                  setSession(null);
                });
              }}
            >
              Sign out
            </button>
          </div>
        )}
      </header>
      <main class="main">
        {signingOut ? (
          <p>Signing out…</p>
        ) : session ? (
          <Page route={route} session={session} />
        ) : (
          <SignInPage
            onSignedIn={(signedIn) => {
              setCsrfToken(signedIn.csrf);
              setSession(signedIn);
              navigate('/ui');
            }}
          />
        )}
      </main>
    </>
  );
}
