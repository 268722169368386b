import type { ServerConnection } from '@jupyterlab/services';

import { RatchetApiError, RatchetClient, RequestFunction, queryString } from '../client';

interface ICall {
  url: string;
  init: RequestInit;
}

/** A request function that records its calls and answers with the given status and body text. */
function fakeRequest(status: number, body: string, calls: ICall[]): RequestFunction {
  return async (url, init) => {
    calls.push({ url, init });
    return {
      ok: status >= 200 && status < 300,
      status,
      statusText: status === 200 ? 'OK' : 'Error',
      text: async () => body
    } as Response;
  };
}

function settings(baseUrl: string): ServerConnection.ISettings {
  return { baseUrl } as ServerConnection.ISettings;
}

describe('RatchetClient', () => {
  it('joins the base URL and the API prefix with exactly one slash', () => {
    const calls: ICall[] = [];
    for (const base of ['http://h:8888/user/a/', 'http://h:8888/user/a']) {
      const client = new RatchetClient(settings(base), fakeRequest(200, '{}', calls));
      expect(client.url('health')).toBe('http://h:8888/user/a/ratchet/api/v1/health');
      expect(client.url('/tasks/x')).toBe('http://h:8888/user/a/ratchet/api/v1/tasks/x');
    }
  });

  it('returns the parsed health', async () => {
    const calls: ICall[] = [];
    const client = new RatchetClient(
      settings('http://h/'),
      fakeRequest(200, '{"status": "ok", "version": "0.1.0"}', calls)
    );

    await expect(client.health()).resolves.toEqual({ status: 'ok', version: '0.1.0' });
    expect(calls.map(c => c.url)).toEqual(['http://h/ratchet/api/v1/health']);
  });

  it('raises RatchetApiError with the status and the server message', async () => {
    const client = new RatchetClient(settings('http://h/'), fakeRequest(403, '{"message": "Forbidden"}', []));

    const error = await client.health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RatchetApiError);
    expect((error as RatchetApiError).status).toBe(403);
    expect((error as RatchetApiError).message).toBe('health: 403 Forbidden');
  });

  it('rejects a body that is not JSON or not a health document', async () => {
    const notJson = new RatchetClient(settings('http://h/'), fakeRequest(200, '<html>', []));
    await expect(notJson.health()).rejects.toThrow('health: response is not JSON');

    const wrongShape = new RatchetClient(settings('http://h/'), fakeRequest(200, '{"status": 1}', []));
    await expect(wrongShape.health()).rejects.toThrow('health: unexpected response body');
  });

  it('builds the URLs and bodies of every endpoint, encoding task names', async () => {
    const calls: ICall[] = [];
    const client = new RatchetClient(settings('http://h/base/'), fakeRequest(200, '{}', calls));

    await client.listTasks({ name: 'gr eet', page: 2, page_size: 10, source: undefined });
    await client.getTask('my task/v2');
    await client.getTask('greet', '1.0.0');
    await client.executeTask('a&b', { input: { name: 'W' } });
    await client.executeTask('greet', { input: 1, timeout: 5 }, { wait: false });
    await client.runTests('greet #1');
    await client.listExecutions({ task: 'greet', status: 'failed', page_size: 5 });
    await client.getExecution('ex/1');
    await client.listPlugins();
    await client.listSources();
    await client.syncSources();

    const prefix = 'http://h/base/ratchet/api/v1/';
    expect(calls.map(c => c.url.slice(prefix.length))).toEqual([
      'tasks?name=gr+eet&page=2&page_size=10',
      'tasks/my%20task%2Fv2',
      'tasks/greet?version=1.0.0',
      'tasks/a%26b/executions',
      'tasks/greet/executions?wait=false',
      'tasks/greet%20%231/tests',
      'executions?task=greet&status=failed&page_size=5',
      'executions/ex%2F1',
      'plugins',
      'sources',
      'sources/sync'
    ]);
    expect(calls.map(c => c.init.method ?? 'GET')).toEqual([
      'GET',
      'GET',
      'GET',
      'POST',
      'POST',
      'POST',
      'GET',
      'GET',
      'GET',
      'GET',
      'POST'
    ]);
    // no-cache, not makeRequest's default no-store, which appends a `?<timestamp>` the API rejects
    expect(new Set(calls.map(c => c.init.cache))).toEqual(new Set(['no-cache']));
    expect(JSON.parse(calls[3].init.body as string)).toEqual({ input: { name: 'W' } });
    expect(calls[3].init.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(JSON.parse(calls[4].init.body as string)).toEqual({ input: 1, timeout: 5 });
  });

  it('leaves empty query values out', () => {
    expect(queryString({})).toBe('');
    expect(queryString({ name: '', page: undefined, tag: null })).toBe('');
    expect(queryString({ wait: false, page: 0 })).toBe('?wait=false&page=0');
  });

  it('parses the API error body: status, type, message and details', async () => {
    const body = JSON.stringify({
      type: 'InputValidationError',
      message: "'name' is a required property",
      details: { path: '$.name', rule: 'required' }
    });
    const client = new RatchetClient(settings('http://h/'), fakeRequest(400, body, []));

    const error = (await client
      .executeTask('greet', { input: {} })
      .catch((e: unknown) => e)) as RatchetApiError;
    expect(error).toBeInstanceOf(RatchetApiError);
    expect(error.status).toBe(400);
    expect(error.type).toBe('InputValidationError');
    expect(error.reason).toBe("'name' is a required property");
    expect(error.details).toEqual({ path: '$.name', rule: 'required' });
    expect(error.message).toBe("tasks/greet/executions: 400 'name' is a required property");
  });

  it('falls back to the status text when an error has no JSON body', async () => {
    const client = new RatchetClient(settings('http://h/'), fakeRequest(404, '', []));

    const error = (await client.getTask('nope').catch((e: unknown) => e)) as RatchetApiError;
    expect(error.status).toBe(404);
    expect(error.type).toBe('RatchetApiError');
    expect(error.reason).toBe('Error');
    expect(error.details).toEqual({});
  });

  it('returns the parsed bodies', async () => {
    const page = {
      items: [{ id: 'greet', name: 'greet', version: '1', test_count: 1 }],
      total: 1,
      page: 1,
      page_size: 50
    };
    const client = new RatchetClient(settings('http://h/'), fakeRequest(200, JSON.stringify(page), []));

    await expect(client.listTasks()).resolves.toEqual(page);
  });
});
