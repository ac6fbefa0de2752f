// The page: sign in, or the dashboard once a token is kept.
import { useState } from 'preact/hooks'
import { Dashboard } from './dashboard.js'
import { forgetToken, saveToken, savedToken } from './session.js'
import { SignIn } from './sign-in.js'

export function App () {
  const [token, setToken] = useState<string | null>(savedToken())
  const [notice, setNotice] = useState<string | null>(null)
  if (token === null) {
    return <SignIn notice={notice} onSignedIn={(t) => { saveToken(t); setNotice(null); setToken(t) }} />
  }
  return <Dashboard token={token} onSignOut={(why) => { forgetToken(); setNotice(why); setToken(null) }} />
}
