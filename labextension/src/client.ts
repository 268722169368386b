/**
 * A typed client for the Ratchet REST API (`ratchet/api/v1/...` on the Jupyter server).
 *
 * The request function is injected (the plugin passes `ServerConnection.makeRequest`, which adds
 * the token and the XSRF header), so this module has no runtime dependency on JupyterLab and its
 * URL and JSON handling is tested with Jest.
 */
import type { ServerConnection } from '@jupyterlab/services';

import {
  API_PREFIX,
  IExecution,
  IExecutionPage,
  IExecutionQuery,
  IExecutionRequest,
  IHealth,
  IPlugin,
  ISource,
  ISyncReport,
  ITaskDetail,
  ITaskPage,
  ITaskQuery,
  ITestReport
} from './tokens';

/** The signature of `ServerConnection.makeRequest`. */
export type RequestFunction = (
  url: string,
  init: RequestInit,
  settings: ServerConnection.ISettings
) => Promise<Response>;

/**
 * A request the API answered with an error status, or with a body that is not the expected JSON.
 *
 * `type` and `details` come from the API's error body (`{type, message, details}`) when it has one;
 * `reason` is the server's message alone, `message` prefixes it with the path and the status.
 */
export class RatchetApiError extends Error {
  readonly type: string;
  readonly reason: string;
  readonly details: { [key: string]: unknown };

  constructor(
    message: string,
    readonly status: number,
    options: { type?: string; reason?: string; details?: { [key: string]: unknown } } = {}
  ) {
    super(message);
    this.name = 'RatchetApiError';
    this.type = options.type ?? 'RatchetApiError';
    this.reason = options.reason ?? message;
    this.details = options.details ?? {};
  }
}

type Query = { [key: string]: string | number | boolean | undefined | null };

/** `?a=1&b=x%20y` of the defined values of `query` ('' when there are none). */
export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') {
      params.append(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The path segment of a task: its name, URL-encoded (slashes and spaces included). */
function taskPath(name: string): string {
  return `tasks/${encodeURIComponent(name)}`;
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

  /** `GET tasks`: tasks whose name contains `query.name` (any case), paged. */
  async listTasks(query: ITaskQuery = {}): Promise<ITaskPage> {
    return (await this.requestJson(`tasks${queryString({ ...query })}`)) as ITaskPage;
  }

  /** `GET tasks/{name}`: code, schemas, tests and versions of a task. */
  async getTask(name: string, version?: string): Promise<ITaskDetail> {
    return (await this.requestJson(`${taskPath(name)}${queryString({ version })}`)) as ITaskDetail;
  }

  /**
   * `POST tasks/{name}/executions`: run the task and answer the finished execution (which may have
   * failed: see its status and error). With `wait: false` the server answers 202 at once with a
   * pending execution to poll through `getExecution`.
   */
  async executeTask(
    name: string,
    request: IExecutionRequest,
    options: { wait?: boolean } = {}
  ): Promise<IExecution> {
    const wait = options.wait === false ? { wait: 'false' } : {};
    return (await this.requestJson(`${taskPath(name)}/executions${queryString(wait)}`, {
      method: 'POST',
      body: JSON.stringify(request)
    })) as IExecution;
  }

  /** `POST tasks/{name}/tests`: run the task's test cases. */
  async runTests(name: string): Promise<ITestReport> {
    return (await this.requestJson(`${taskPath(name)}/tests`, { method: 'POST' })) as ITestReport;
  }

  /** `GET executions`: recorded executions, newest first, paged. */
  async listExecutions(query: IExecutionQuery = {}): Promise<IExecutionPage> {
    return (await this.requestJson(`executions${queryString({ ...query })}`)) as IExecutionPage;
  }

  /** `GET executions/{id}`. */
  async getExecution(id: string): Promise<IExecution> {
    return (await this.requestJson(`executions/${encodeURIComponent(id)}`)) as IExecution;
  }

  /** `GET plugins`: loaded, failed and disabled plugins. */
  async listPlugins(): Promise<IPlugin[]> {
    return (await this.requestJson('plugins')) as IPlugin[];
  }

  /** `GET sources`: task sources with their status and problems. */
  async listSources(): Promise<ISource[]> {
    return (await this.requestJson('sources')) as ISource[];
  }

  /** `POST sources/sync`: scan every task source again (409 while a sync runs). */
  async syncSources(): Promise<ISyncReport> {
    return (await this.requestJson('sources/sync', { method: 'POST' })) as ISyncReport;
  }

  private async requestJson(path: string, init: RequestInit = {}): Promise<unknown> {
    // `makeRequest` appends a cache-busting `?<timestamp>` to every request whose cache mode is
    // `no-store` (its default), and the API rejects unknown query parameters: ask the browser to
    // revalidate instead, which is just as fresh.
    init = { cache: 'no-cache', ...init };
    if (init.body !== undefined) {
      init = { ...init, headers: { 'Content-Type': 'application/json', ...(init.headers ?? {}) } };
    }
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
      throw errorOf(path, response, body);
    }
    return body;
  }
}

/** A `RatchetApiError` from an error answer, with the `{type, message, details}` of its body if any. */
function errorOf(path: string, response: Response, body: unknown): RatchetApiError {
  const fields = typeof body === 'object' && body !== null ? (body as { [key: string]: unknown }) : {};
  const reason = 'message' in fields ? String(fields.message) : response.statusText;
  const type = typeof fields.type === 'string' ? fields.type : undefined;
  const details =
    typeof fields.details === 'object' && fields.details !== null
      ? (fields.details as { [key: string]: unknown })
      : undefined;
  return new RatchetApiError(`${path}: ${response.status} ${reason}`, response.status, {
    type,
    reason,
    details
  });
}
