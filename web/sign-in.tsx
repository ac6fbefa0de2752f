// Sign in with a token: checked against the server before it is kept (in this tab only).
import { useState } from 'preact/hooks'
import { clientFor, describeError } from './api.js'

export interface SignInProps {
  /** Why the page came back here (a refused token), if it did. */
  notice: string | null
  onSignedIn: (token: string) => void
}

export function SignIn ({ notice, onSignedIn }: SignInProps) {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(notice)
  const [busy, setBusy] = useState(false)
  const submit = async (ev: Event): Promise<void> => {
    ev.preventDefault()
    const t = token.trim()
    if (t === '') { setError('Enter a token.'); return }
    setBusy(true)
    setError(null)
    try {
      await clientFor(t).listVms({ limit: 1 })
      onSignedIn(t)
    } catch (e) {
      setError(describeError(e))
    } finally { setBusy(false) }
  }
  return (
    <main class="sign-in">
      <h1>faultline</h1>
      <form onSubmit={(ev) => { void submit(ev) }} aria-labelledby="sign-in-h">
        <h2 id="sign-in-h">Sign in</h2>
        <p>Use the token <code>npm start</code> printed (also in <code>./data/token</code>), or any token the server knows. It is kept in this tab only.</p>
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} aria-describedby={error !== null ? 'sign-in-error' : undefined} />
        {error !== null && <p id="sign-in-error" role="alert" class="error">{error}</p>}
        <button type="submit" class="primary" disabled={busy}>Sign in</button>
      </form>
    </main>
  )
}
