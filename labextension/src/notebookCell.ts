/**
 * Inserting the cell that runs a task into the current notebook, below its active cell.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';

import { loadsExtension, runCellText } from './cell';
import { InsertCell } from './runForm';

/**
 * An `InsertCell` for the notebooks of `tracker`: adds a code cell `%ratchet run NAME --input {...}`
 * below the active cell of the current notebook (starting with `%load_ext ratchet_jupyter` when no
 * cell of the notebook loads the extension yet), makes it the active cell and shows the notebook.
 */
export function notebookInserter(tracker: INotebookTracker, shell: JupyterFrontEnd.IShell): InsertCell {
  return async (name, input) => {
    const panel = tracker.currentWidget;
    if (panel === null) {
      throw new Error('Open a notebook first: the cell goes below its active cell.');
    }
    await panel.context.ready;
    const notebook = panel.content;
    const sources = notebook.widgets.map(cell => cell.model.sharedModel.getSource());
    const text = runCellText(name, input, !loadsExtension(sources));
    NotebookActions.insertBelow(notebook);
    // The new cell has the notebook's default type; making it a code cell replaces its model, so
    // the active cell is read afterwards.
    NotebookActions.changeCellType(notebook, 'code');
    const cell = notebook.activeCell;
    if (cell === null) {
      throw new Error(`${panel.context.path}: no active cell after inserting one`);
    }
    cell.model.sharedModel.setSource(text);
    shell.activateById(panel.id);
    return `Inserted a cell into ${panel.context.path}.`;
  };
}
