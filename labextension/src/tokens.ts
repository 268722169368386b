/**
 * Identifiers and the shapes of the Ratchet REST API's JSON, shared by the client and the components.
 */

/** The plugin id of the sidebar; also the prefix of the widget and command ids. */
export const PLUGIN_ID = 'ratchet-jupyter:plugin';

/** The id of the left-panel widget (the browser tests find the tab by it). */
export const SIDEBAR_ID = 'ratchet-jupyter:sidebar';

/** Where the server extension mounts its REST API, relative to the server's base URL. */
export const API_PREFIX = 'ratchet/api/v1';

/** `GET ratchet/api/v1/health`. */
export interface IHealth {
  status: string;
  version: string;
}
