import { useEffect, useState } from 'preact/hooks';
import { signIn, signInMethods } from './api';
import type { Session, SignInMethods } from './types';

/** Why the server sent the browser back here from the identity provider (api/oidc-login.ts); fixed texts only. */
const SSO_FAILURES: Record<string, string> = {
  denied: 'The identity provider did not sign you in (declined or cancelled).',
  expired: 'That sign-in was not started from this browser, or took over 10 minutes. Try again.',
  unavailable: 'The identity provider could not be reached. Try again, or sign in with a token.',
  refused: 'The identity provider\'s answer was not accepted. Ask an administrator to check the server log.',
};

/** Trades a personal token (qubinode token issue) or an OIDC JWT for a session cookie; the token is not kept by the page. */
export function SignInPage(props: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [methods, setMethods] = useState<SignInMethods>();
  const ssoFailure = SSO_FAILURES[new URLSearchParams(window.location.search).get('sso') ?? ''];
  useEffect(() => {
    signInMethods()
      .then(setMethods)
      .catch(() => setMethods({ token: true, sso: null }));
  }, []);
  const submit = async (): Promise<void> => {
    setBusy(true);
    setProblem(undefined);
    try {
      const session = await signIn(token.trim());
      setToken('');
      props.onSignedIn(session);
    } catch (error) {
      setProblem((error as Error).message);
      setBusy(false);
    }
  };
  return (
    <section class="sign-in">
      <h2>Sign in</h2>
      {ssoFailure && (
        <p class="error-text" role="alert" data-sso-failure>
          {ssoFailure}
        </p>
      )}
      {methods?.sso && (
        <p>
          <a class="button" data-sso-start href={methods.sso.start}>
            Sign in with {methods.sso.name}
          </a>
        </p>
      )}
      <form
        data-form="sign-in"
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
      >
        <label class="field" for="token">
          Token
        </label>
        <input id="token" name="token" type="password" autocomplete="off" required maxLength={8192} value={token} onInput={(event) => setToken(event.currentTarget.value)} />
        <p class="muted">A personal token (<code>qubinode token issue</code>) or a token from your OIDC provider.</p>
        {problem && (
          <p class="error-text" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
