/**
 * The JupyterLab plugin: adds the Ratchet sidebar to the left panel.
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';

import { RatchetClient } from './client';
import { notebookInserter } from './notebookCell';
import { RatchetSidebar } from './sidebar';
import { PLUGIN_ID } from './tokens';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'A left-sidebar panel for Ratchet tasks.',
  autoStart: true,
  requires: [ILabShell],
  optional: [INotebookTracker],
  activate: (app: JupyterFrontEnd, labShell: ILabShell, tracker: INotebookTracker | null): void => {
    const settings = ServerConnection.makeSettings();
    const client = new RatchetClient(settings, ServerConnection.makeRequest);
    const insertCell = tracker ? notebookInserter(tracker, app.shell) : null;
    const sidebar = new RatchetSidebar(client, insertCell);
    labShell.add(sidebar, 'left', { rank: 900 });
    void sidebar.refreshHealth();
  }
};

export default plugin;
