/**
 * Identifiers and the shapes of the Ratchet REST API's JSON, shared by the client and the components.
 *
 * The interfaces follow `ratchet_jupyter/server/openapi.json` (components/schemas); optional
 * properties there are optional here, `nullable` ones may also be `null`.
 */

/** The plugin id of the sidebar; also the prefix of the widget and command ids. */
export const PLUGIN_ID = 'ratchet-jupyter:plugin';

/** The id of the left-panel widget (the browser tests find the tab by it). */
export const SIDEBAR_ID = 'ratchet-jupyter:sidebar';

/** Where the server extension mounts its REST API, relative to the server's base URL. */
export const API_PREFIX = 'ratchet/api/v1';

/** How often the visible panel refreshes the task list's last status and the task view's executions. */
export const POLL_INTERVAL_MS = 5000;

/** Any JSON value (inputs, outputs, schemas). */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

/** `GET ratchet/api/v1/health`. */
export interface IHealth {
  status: string;
  version: string;
  isolation?: string;
  workers?: number;
  history?: string;
}

/** The JSON body of every 4xx/5xx answer. */
export interface IApiError {
  type: string;
  message: string;
  /** e.g. `{"path": "$.name"}` for an input that fails the task's input schema. */
  details?: { [key: string]: unknown };
}

/** One row of `GET tasks`. */
export interface ITaskSummary {
  id: string;
  name: string;
  version: string;
  description?: string;
  source?: string | null;
  tags?: string[];
  test_count: number;
  last_status?: string | null;
  last_run_at?: string | null;
}

/** One version of a task in `TaskDetail.versions`. */
export interface ITaskVersion {
  version: string;
  content_hash: string;
  source?: string | null;
  created_at?: string | null;
}

/** A test case of a task, as stored (`tests/*.json`). */
export interface ITaskTestCase {
  name?: string;
  description?: string;
  input?: JSONValue;
  expected_output?: JSONValue;
  [key: string]: unknown;
}

/** `GET tasks/{task_id}`. */
export interface ITaskDetail extends ITaskSummary {
  code: string;
  input_schema?: JSONValue;
  output_schema?: JSONValue;
  metadata?: { [key: string]: unknown };
  uuid?: string | null;
  tests: ITaskTestCase[];
  versions: ITaskVersion[];
}

/** A page of results: `GET tasks`, `GET executions`. */
export interface IPage<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

/** `GET tasks`. */
export type ITaskPage = IPage<ITaskSummary>;

/** Statuses of an execution. */
export type ExecutionStatus = 'pending' | 'running' | 'success' | 'failed' | 'timeout' | 'cancelled';

/** The body of `POST tasks/{task_id}/executions`. */
export interface IExecutionRequest {
  input?: JSONValue;
  version?: string;
  timeout?: number;
  outputs?: string[];
}

/** `POST tasks/{task_id}/executions`, `GET executions/{id}`, one row of `GET executions`. */
export interface IExecution {
  id: string;
  task_name: string;
  task_version?: string;
  task_hash?: string;
  status: ExecutionStatus;
  input?: JSONValue;
  output?: JSONValue;
  error?: { type?: string; message?: string; [key: string]: unknown } | null;
  logs?: { [key: string]: unknown }[];
  requests?: { [key: string]: unknown }[];
  started_at?: string | null;
  duration_ms?: number;
  attempts?: number;
}

/** `GET executions`. */
export type IExecutionPage = IPage<IExecution>;

/** The query of `GET executions`. */
export interface IExecutionQuery {
  task?: string;
  status?: ExecutionStatus;
  since?: string;
  until?: string;
  page?: number;
  page_size?: number;
}

/** The query of `GET tasks`. */
export interface ITaskQuery {
  name?: string;
  source?: string;
  tag?: string;
  page?: number;
  page_size?: number;
}

/** One test case's result in a `TestReport`. */
export interface ITestResult {
  name: string;
  passed: boolean;
  failures: string[];
  execution_id?: string | null;
  output?: JSONValue;
}

/** `POST tasks/{task_id}/tests`. */
export interface ITestReport {
  task: string;
  version?: string;
  passed: number;
  failed: number;
  summary?: string;
  results: ITestResult[];
}

/** One element of `GET plugins`. */
export interface IPlugin {
  id: string;
  name?: string;
  version?: string;
  origin?: string;
  status: 'loaded' | 'failed' | 'disabled';
  stage?: string | null;
  error?: string | null;
  capabilities?: { [key: string]: unknown };
}

/** One element of `GET sources`. */
export interface ISource {
  uri: string;
  kind: string;
  label?: string;
  status: 'pending' | 'ok' | 'error';
  task_count?: number;
  last_sync?: string | null;
  error?: string | null;
  problems?: { [key: string]: unknown }[];
}

/** `POST sources/sync`. */
export interface ISyncReport {
  loaded: number;
  skipped: number;
  ok: boolean;
  summary?: string;
  problems: { [key: string]: unknown }[];
}
