/**
 * The portal's API client for this page. The UI is served by the portal itself, so the API is
 * at the page's own origin and path (a proxy that keeps `/api` serves both under it).
 * The bearer token (when the server has auth on) is asked once and kept in localStorage.
 */
import { PortalApiError, PortalClient } from '@speos-portal/client';
import type { MeResponse } from '@speos-portal/protocol';
import { readPref, writePref } from './prefs.js';
import { Observable } from './uploads/observable.js';

/** `http://host:8000/` → `http://host:8000`; `https://host/api/index.html` → `https://host/api`. */
export function apiBaseUrl(location: Location = window.location): string {
  return location.origin + location.pathname.replace(/\/[^/]*$/, '');
}

interface AuthState {
  token: string | undefined;
  /** True while the token dialog should show (after a 401, or when the person opens it). */
  asking: boolean;
  /** Bumps when the token changes, so pages reload what failed. */
  generation: number;
  /** Who is signed in and how this portal signs people in (GET /auth/me); undefined until known. */
  me: MeResponse | undefined;
  /** True once the page is on its way to the provider's sign-in: render nothing more. */
  redirecting: boolean;
  /** The server refused the token this page sent: the dialog says so instead of just reopening. */
  refused: boolean;
}

class Auth extends Observable<AuthState> {
  #client: PortalClient;

  constructor() {
    const token = readPref('token');
    super({ token, asking: false, generation: 0, me: undefined, redirecting: false, refused: false });
    this.#client = new PortalClient({ baseUrl: apiBaseUrl(), token });
  }

  /** The client with the current token; call it per request, the token may change. */
  client = (): PortalClient => this.#client;

  setToken(token: string | undefined): void {
    const trimmed = token?.trim() || undefined;
    writePref('token', trimmed);
    this.#client = new PortalClient({ baseUrl: apiBaseUrl(), token: trimmed });
    this.set({ token: trimmed, asking: false, generation: this.snapshot.generation + 1, refused: false });
  }

  /**
   * Learns who is signed in. With company sign-in (OIDC) and nobody signed in, the page goes to
   * the provider and comes back here; a portal that predates /auth/me counts as open.
   */
  async load(): Promise<void> {
    let me: MeResponse;
    try {
      me = await this.#client.me();
    } catch (error) {
      if (error instanceof PortalApiError && error.status === 401) {
        // A saved token the server no longer accepts: forget it, then ask again.
        if (this.snapshot.token) {
          this.setToken(undefined);
          this.set({ refused: true });
          return this.load();
        }
      }
      me = { user: null, auth_required: false, oidc: false, login_url: null };
    }
    this.set({ me });
    if (me.oidc && !me.user) this.signIn();
  }

  /** Off to the provider's sign-in, back to this very page afterwards. */
  signIn(): void {
    if (this.snapshot.redirecting) return;
    this.set({ redirecting: true });
    const here = `${window.location.pathname}${window.location.search}${window.location.hash}`;
    window.location.assign(`${apiUrl('/auth/login')}?return_to=${encodeURIComponent(here)}`);
  }

  /** Ends the session here and, when it has one, at the provider. */
  async signOut(): Promise<void> {
    const { redirect_url } = await this.#client.logout();
    this.set({ redirecting: true });
    window.location.assign(redirect_url);
  }

  ask(): void {
    this.set({ asking: true });
  }

  dismiss(): void {
    this.set({ asking: false });
  }

  /**
   * On a 401: with company sign-in (the session ended) off to sign in again, else opens the
   * token dialog. Returns whether it was a 401.
   */
  noticeError(error: unknown): boolean {
    const api = error instanceof PortalApiError ? error : (error as { cause?: unknown })?.cause;
    if (api instanceof PortalApiError && api.status === 401) {
      if (this.snapshot.me?.oidc && !this.snapshot.token) this.signIn();
      else if (!this.snapshot.asking)
        this.set({ asking: true, refused: this.snapshot.refused || !!this.snapshot.token });
      return true;
    }
    return false;
  }
}

export const auth = new Auth();

/** The server's `detail` (what to do) or the error's message. */
export function errorDetail(error: unknown): string {
  if (error instanceof PortalApiError) return error.detail;
  return error instanceof Error ? error.message : String(error);
}

/** An API path (`/tasks/…/outputs/report.html`) as a URL the browser can open. */
export function apiUrl(path: string): string {
  return `${apiBaseUrl()}${path.startsWith('/') ? '' : '/'}${path}`;
}

/**
 * Saves a file the API serves under `filename`. Without a token a plain link hands it to the
 * browser's download manager (streamed to disk); with one, the browser cannot add the header
 * to a link, so the file is fetched with the bearer token and handed over as a blob.
 */
export async function saveDownload(path: string, filename: string): Promise<void> {
  const link = document.createElement('a');
  link.download = filename;
  if (!auth.snapshot.token) {
    link.href = apiUrl(path);
    link.click();
    return;
  }
  try {
    const response = await auth.client().download(path);
    link.href = URL.createObjectURL(await response.blob());
  } catch (error) {
    auth.noticeError(error);
    throw error;
  }
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
