/**
 * The task list: a search box (filtering by name through the API's `name` parameter) and a row per
 * task with its name, version, source and last status. Clicking a row opens the task.
 */
import { Widget } from '@lumino/widgets';

import { RatchetClient } from './client';
import { errorText, h, replaceChildren } from './dom';
import { formatStatus, formatTime, sourceLabel, statusTone } from './format';
import { ITaskSummary } from './tokens';

const SEARCH_DELAY_MS = 250;
const PAGE_SIZE = 200;

export class TaskList extends Widget {
  private readonly search: HTMLInputElement;
  private readonly list: HTMLElement;
  private readonly footer: HTMLElement;
  private searchTimer: number | undefined;
  /** Bumped by each refresh, so that a slow answer never overwrites a newer one. */
  private generation = 0;

  /** Called with the name of the task a row opens. */
  onOpen: (name: string) => void = () => undefined;

  constructor(private readonly client: RatchetClient) {
    super();
    this.addClass('jp-RatchetTaskList');
    this.node.dataset.testid = 'ratchet-task-list-view';
    this.search = h('input', {
      class: 'jp-RatchetTaskList-search',
      type: 'search',
      placeholder: 'Search tasks by name',
      'aria-label': 'Search tasks by name',
      'data-testid': 'ratchet-task-search'
    });
    this.search.addEventListener('input', () => {
      window.clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => void this.refresh(), SEARCH_DELAY_MS);
    });
    this.list = h('ul', { class: 'jp-RatchetTaskList-rows', 'data-testid': 'ratchet-task-list' });
    this.footer = h('div', { class: 'jp-RatchetTaskList-footer', 'data-testid': 'ratchet-task-list-footer' });
    this.node.append(this.search, this.list, this.footer);
  }

  /** Ask the server for the tasks matching the search box and show them. */
  async refresh(): Promise<void> {
    const generation = ++this.generation;
    const name = this.search.value.trim();
    try {
      const page = await this.client.listTasks({ name: name || undefined, page_size: PAGE_SIZE });
      if (generation !== this.generation) {
        return;
      }
      replaceChildren(this.list, ...page.items.map(task => this.renderRow(task)));
      this.footer.dataset.state = 'ok';
      this.footer.textContent =
        page.total === 0
          ? name
            ? `No task matches \u201c${name}\u201d.`
            : 'No tasks yet: add a task source (RegistryConfig.sources) or define one with %%ratchet.'
          : `${page.total} task${page.total === 1 ? '' : 's'}${page.total > page.items.length ? ` (first ${page.items.length} shown)` : ''}`;
    } catch (error) {
      if (generation === this.generation) {
        this.footer.dataset.state = 'error';
        this.footer.textContent = `Cannot list tasks: ${errorText(error)}`;
      }
    }
  }

  protected onBeforeDetach(): void {
    window.clearTimeout(this.searchTimer);
  }

  private renderRow(task: ITaskSummary): HTMLElement {
    const tone = statusTone(task.last_status);
    const row = h(
      'li',
      {
        class: 'jp-RatchetTaskList-row',
        tabindex: 0,
        role: 'button',
        title: task.description || task.name,
        'data-testid': 'ratchet-task-row',
        'data-task-name': task.name
      },
      h(
        'div',
        { class: 'jp-RatchetTaskList-line' },
        h('span', { class: 'jp-RatchetTaskList-name' }, task.name),
        h('span', { class: 'jp-RatchetTaskList-version' }, task.version ? `v${task.version}` : '')
      ),
      h(
        'div',
        { class: 'jp-RatchetTaskList-line jp-RatchetTaskList-meta' },
        h(
          'span',
          { class: 'jp-RatchetTaskList-source', title: task.source ?? undefined },
          sourceLabel(task.source)
        ),
        h(
          'span',
          {
            class: `jp-RatchetStatus jp-RatchetTaskList-status jp-mod-${tone}`,
            'data-status': task.last_status ?? 'none',
            title: task.last_run_at ? `last run ${formatTime(task.last_run_at)}` : undefined
          },
          formatStatus(task.last_status)
        )
      )
    );
    row.addEventListener('click', () => this.onOpen(task.name));
    row.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this.onOpen(task.name);
      }
    });
    return row;
  }
}
