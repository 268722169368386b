/**
 * A typed client for the Ratchet REST API (`ratchet/api/v1/...` on the Jupyter server).
 *
 * The request function is injected (the plugin passes `ServerConnection.makeRequest`), so this
 * module has no runtime dependency on JupyterLab and its URL and JSON handling is tested with Jest.
 */
import type { ServerConnection } from '@jupyterlab/services';

import { API_PREFIX, IHealth } from './tokens';

/** The signature of `ServerConnection.makeRequest`. */
export type RequestFunction = (
  url: string,
  init: RequestInit,
  settings: ServerConnection.ISettings
) => Promise<Response>;

/** A request the API answered with an error status, or with a body that is not the expected JSON. */
export class RatchetApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'RatchetApiError';
  }
}

export class RatchetClient {
  constructor(
    private readonly settings: ServerConnection.ISettings,
    private readonly makeRequest: RequestFunction
  ) {}

  /** The absolute URL of an API path, e.g. `url('health')` -> `<baseUrl>ratchet/api/v1/health`. */
  url(path: string): string {
    const base = this.settings.baseUrl.replace(/\/+$/, '');
    const tail = path.replace(/^\/+/, '');
    return `${base}/${API_PREFIX}/${tail}`;
  }

  /** The server extension's status and version. */
  async health(): Promise<IHealth> {
    const body = await this.requestJson('health');
    if (
      typeof body !== 'object' ||
      body === null ||
      typeof (body as IHealth).status !== 'string' ||
      typeof (body as IHealth).version !== 'string'
    ) {
      throw new RatchetApiError('health: unexpected response body', 200);
    }
    return body as IHealth;
  }

  private async requestJson(path: string, init: RequestInit = {}): Promise<unknown> {
    const response = await this.makeRequest(this.url(path), init, this.settings);
    const text = await response.text();
    let body: unknown = null;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new RatchetApiError(`${path}: response is not JSON`, response.status);
      }
    }
    if (!response.ok) {
      const message =
        typeof body === 'object' && body !== null && 'message' in body
          ? String((body as { message: unknown }).message)
          : response.statusText;
      throw new RatchetApiError(`${path}: ${response.status} ${message}`, response.status);
    }
    return body;
  }
}
