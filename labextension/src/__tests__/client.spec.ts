import type { ServerConnection } from '@jupyterlab/services';

import { RatchetApiError, RatchetClient, RequestFunction } from '../client';

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
    const client = new RatchetClient(
      settings('http://h/'),
      fakeRequest(403, '{"message": "Forbidden"}', [])
    );

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
});
