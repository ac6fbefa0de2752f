// The token lives in this tab's sessionStorage only: closing the tab forgets it, and no
// cookie, local storage or other tab ever holds it.
const KEY = 'faultline.token'

export function savedToken (): string | null {
  return sessionStorage.getItem(KEY)
}

export function saveToken (token: string): void {
  sessionStorage.setItem(KEY, token)
}

export function forgetToken (): void {
  sessionStorage.removeItem(KEY)
}
