/**
 * The "Plugins" view: loaded, failed and disabled plugins (with their error) and the task sources
 * (status, error, problems) with a "Sync" button that scans every source again.
 */
import { Widget } from '@lumino/widgets';

import { RatchetClient } from './client';
import { errorText, h, replaceChildren } from './dom';
import { formatTime, statusTone } from './format';
import { IPlugin, ISource } from './tokens';

export class PluginsView extends Widget {
  private readonly plugins: HTMLElement;
  private readonly sources: HTMLElement;
  private readonly report: HTMLElement;
  private readonly syncButton: HTMLButtonElement;

  constructor(private readonly client: RatchetClient) {
    super();
    this.addClass('jp-RatchetPluginsView');
    this.node.dataset.testid = 'ratchet-plugins-view';
    this.plugins = h('ul', { class: 'jp-RatchetPluginsView-list', 'data-testid': 'ratchet-plugins' });
    this.sources = h('ul', { class: 'jp-RatchetPluginsView-list', 'data-testid': 'ratchet-sources' });
    this.report = h('div', { class: 'jp-RatchetPluginsView-report', 'data-testid': 'ratchet-sync-report' });
    this.syncButton = h(
      'button',
      {
        class: 'jp-RatchetButton',
        type: 'button',
        'data-testid': 'ratchet-sync',
        title: 'Scan every task source again'
      },
      'Sync'
    );
    this.syncButton.addEventListener('click', () => void this.sync());
    this.node.append(
      h('section', { class: 'jp-RatchetSection' }, h('h4', {}, 'Plugins'), this.plugins),
      h(
        'section',
        { class: 'jp-RatchetSection' },
        h('h4', {}, 'Task sources'),
        h('div', { class: 'jp-RatchetPluginsView-actions' }, this.syncButton),
        this.report,
        this.sources
      )
    );
  }

  /** Ask the server for the plugins and the sources and show them. */
  async refresh(): Promise<void> {
    await Promise.all([this.refreshPlugins(), this.refreshSources()]);
  }

  private async refreshPlugins(): Promise<void> {
    try {
      const plugins = await this.client.listPlugins();
      replaceChildren(
        this.plugins,
        ...(plugins.length
          ? plugins.map(renderPlugin)
          : [h('li', { class: 'jp-RatchetMessage' }, 'No plugins.')])
      );
    } catch (error) {
      replaceChildren(
        this.plugins,
        h('li', { class: 'jp-RatchetError' }, `Cannot list plugins: ${errorText(error)}`)
      );
    }
  }

  private async refreshSources(): Promise<void> {
    try {
      const sources = await this.client.listSources();
      replaceChildren(
        this.sources,
        ...(sources.length
          ? sources.map(renderSource)
          : [h('li', { class: 'jp-RatchetMessage' }, 'No task sources configured (RegistryConfig.sources).')])
      );
    } catch (error) {
      replaceChildren(
        this.sources,
        h('li', { class: 'jp-RatchetError' }, `Cannot list sources: ${errorText(error)}`)
      );
    }
  }

  /** Scan every task source again and show the report. */
  async sync(): Promise<void> {
    this.syncButton.disabled = true;
    this.report.dataset.state = 'busy';
    this.report.textContent = 'Syncing\u2026';
    try {
      const report = await this.client.syncSources();
      this.report.dataset.state = report.ok ? 'ok' : 'error';
      this.report.textContent =
        report.summary ??
        `${report.loaded} loaded, ${report.skipped} skipped, ${report.problems.length} problem(s)`;
    } catch (error) {
      this.report.dataset.state = 'error';
      this.report.textContent = errorText(error);
    } finally {
      this.syncButton.disabled = false;
      await this.refresh();
    }
  }
}

function renderPlugin(plugin: IPlugin): HTMLElement {
  return h(
    'li',
    {
      class: 'jp-RatchetPluginsView-row',
      'data-testid': 'ratchet-plugin-row',
      'data-plugin-id': plugin.id,
      'data-status': plugin.status
    },
    h('span', { class: `jp-RatchetStatus jp-mod-${statusTone(plugin.status)}` }, plugin.status),
    h('span', { class: 'jp-RatchetPluginsView-name' }, ` ${plugin.name ?? plugin.id}`),
    plugin.version ? h('span', { class: 'jp-RatchetPluginsView-version' }, ` v${plugin.version}`) : null,
    plugin.origin ? h('div', { class: 'jp-RatchetPluginsView-origin' }, plugin.origin) : null,
    plugin.error
      ? h('div', { class: 'jp-RatchetError' }, `${plugin.stage ? `${plugin.stage}: ` : ''}${plugin.error}`)
      : null
  );
}

function problemText(problem: { [key: string]: unknown }): string {
  const message = typeof problem.message === 'string' ? problem.message : JSON.stringify(problem);
  const where = typeof problem.path === 'string' ? `${problem.path}: ` : '';
  return `${where}${message}`;
}

function renderSource(source: ISource): HTMLElement {
  const problems = source.problems ?? [];
  return h(
    'li',
    {
      class: 'jp-RatchetPluginsView-row',
      'data-testid': 'ratchet-source-row',
      'data-uri': source.uri,
      'data-status': source.status
    },
    h('span', { class: `jp-RatchetStatus jp-mod-${statusTone(source.status)}` }, source.status),
    h('span', { class: 'jp-RatchetPluginsView-name' }, ` ${source.label ?? source.uri}`),
    h(
      'div',
      { class: 'jp-RatchetPluginsView-origin' },
      `${source.kind} \u00b7 ${source.task_count ?? 0} task(s) \u00b7 synced ${formatTime(source.last_sync)}`
    ),
    source.error ? h('div', { class: 'jp-RatchetError' }, source.error) : null,
    problems.length
      ? h(
          'ul',
          { class: 'jp-RatchetPluginsView-problems' },
          ...problems.map(p => h('li', {}, problemText(p)))
        )
      : null
  );
}
