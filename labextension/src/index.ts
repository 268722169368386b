/**
 * The JupyterLab plugin: adds the Ratchet sidebar to the left panel.
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ServerConnection } from '@jupyterlab/services';

import { RatchetClient } from './client';
import { RatchetSidebar } from './sidebar';
import { PLUGIN_ID } from './tokens';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'A left-sidebar panel for Ratchet tasks.',
  autoStart: true,
  requires: [ILabShell],
  activate: (app: JupyterFrontEnd, labShell: ILabShell): void => {
    const settings = ServerConnection.makeSettings();
    const client = new RatchetClient(settings, ServerConnection.makeRequest);
    const sidebar = new RatchetSidebar(client);
    labShell.add(sidebar, 'left', { rank: 900 });
    void sidebar.refresh();
  }
};

export default plugin;
