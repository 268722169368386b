/**
 * The left-panel "Ratchet" widget: the server's health, a "Tasks" / "Plugins" switch, and the
 * current view (task list -> task view -> back). While the panel is visible it refreshes the
 * current view every few seconds; hidden, it does not poll.
 */
import type { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { RatchetClient } from './client';
import { errorText, h } from './dom';
import { ratchetIcon } from './icon';
import { PluginsView } from './pluginsView';
import { InsertCell } from './runForm';
import { TaskList } from './taskList';
import { TaskView } from './taskView';
import { POLL_INTERVAL_MS, SIDEBAR_ID } from './tokens';

type View = TaskList | TaskView | PluginsView;

export class RatchetSidebar extends Panel {
  private readonly status: HTMLElement;
  private readonly tabs: { [name: string]: HTMLButtonElement };
  private readonly taskList: TaskList;
  private readonly pluginsView: PluginsView;
  private taskView: TaskView | null = null;
  private current: View;
  private timer: number | undefined;
  private polling = false;

  constructor(
    private readonly client: RatchetClient,
    private readonly insertCell: InsertCell | null = null
  ) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-RatchetSidebar');
    this.title.icon = ratchetIcon;
    this.title.caption = 'Ratchet';

    this.status = h(
      'p',
      { class: 'jp-RatchetSidebar-status', 'data-testid': 'ratchet-status' },
      'Ratchet: connecting...'
    );
    this.tabs = {
      tasks: h(
        'button',
        { class: 'jp-RatchetSidebar-tab', type: 'button', 'data-testid': 'ratchet-nav-tasks' },
        'Tasks'
      ),
      plugins: h(
        'button',
        { class: 'jp-RatchetSidebar-tab', type: 'button', 'data-testid': 'ratchet-nav-plugins' },
        'Plugins'
      )
    };
    this.tabs.tasks.addEventListener('click', () => this.showView(this.taskList));
    this.tabs.plugins.addEventListener('click', () => this.showView(this.pluginsView));
    const header = new Widget({
      node: h(
        'div',
        { class: 'jp-RatchetSidebar-header' },
        h('h2', {}, 'Ratchet'),
        this.status,
        h('nav', { class: 'jp-RatchetSidebar-tabs' }, this.tabs.tasks, this.tabs.plugins)
      )
    });
    this.addWidget(header);

    this.taskList = new TaskList(client);
    this.taskList.onOpen = name => this.openTask(name);
    this.pluginsView = new PluginsView(client);
    this.pluginsView.hide();
    this.addWidget(this.taskList);
    this.addWidget(this.pluginsView);
    this.current = this.taskList;
    this.markTab();
  }

  /** The health line and the current view, fetched again. */
  async refresh(): Promise<void> {
    await Promise.all([this.refreshHealth(), this.current.refresh()]);
  }

  /** Ask the server for its health and show the answer (or the error) as one line. */
  async refreshHealth(): Promise<void> {
    try {
      const health = await this.client.health();
      this.status.textContent = `Ratchet ${health.status} ${health.version}`;
      this.status.dataset.state = health.status;
    } catch (error) {
      this.status.textContent = `Ratchet unavailable: ${errorText(error)}`;
      this.status.dataset.state = 'error';
    }
  }

  /** Open the view of a task (the task list stays, hidden, with its search). */
  openTask(name: string): void {
    this.taskView?.dispose();
    const view = new TaskView(this.client, name, this.insertCell);
    view.onBack = () => this.showView(this.taskList);
    this.taskView = view;
    this.addWidget(view);
    this.showView(view, false);
    void view.load();
  }

  private showView(view: View, refresh = true): void {
    for (const other of [this.taskList, this.pluginsView, this.taskView]) {
      if (other !== null && other !== view) {
        other.hide();
      }
    }
    if (view !== this.taskView && this.taskView !== null) {
      this.taskView.dispose();
      this.taskView = null;
    }
    view.show();
    this.current = view;
    this.markTab();
    if (refresh) {
      void view.refresh();
    }
  }

  private markTab(): void {
    const name = this.current === this.pluginsView ? 'plugins' : 'tasks';
    for (const [key, tab] of Object.entries(this.tabs)) {
      tab.classList.toggle('jp-mod-active', key === name);
      tab.setAttribute('aria-pressed', String(key === name));
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
    this.startPolling();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.stopPolling();
  }

  protected onBeforeDetach(msg: Message): void {
    this.stopPolling();
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    this.stopPolling();
    super.dispose();
  }

  /** Refresh the current view every POLL_INTERVAL_MS while visible (one refresh at a time). */
  private startPolling(): void {
    this.stopPolling();
    this.timer = window.setInterval(() => void this.tick(), POLL_INTERVAL_MS);
  }

  private stopPolling(): void {
    if (this.timer !== undefined) {
      window.clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async tick(): Promise<void> {
    if (
      this.polling ||
      !this.isVisible ||
      document.visibilityState === 'hidden' ||
      this.current === this.pluginsView
    ) {
      return;
    }
    this.polling = true;
    try {
      await this.current.refresh();
    } finally {
      this.polling = false;
    }
  }
}
