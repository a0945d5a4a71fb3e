import { useState } from 'preact/hooks';
import { signIn } from './api';
import type { Session } from './types';

/** Trades a personal token (qubinode token issue) or an OIDC JWT for a session cookie; the token is not kept by the page. */
export function SignInPage(props: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
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
