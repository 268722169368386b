/**
 * The view of one task: description, the run form, test cases with "Run tests" and per-case
 * results, the input and output schemas as pretty JSON, and the task's last executions.
 */
import { Panel, Widget } from '@lumino/widgets';

import { RatchetClient } from './client';
import { errorText, h, replaceChildren } from './dom';
import { formatDuration, formatStatus, formatTime, prettyJson, sourceLabel, statusTone } from './format';
import { InsertCell, RunForm } from './runForm';
import { IExecution, ITaskDetail, ITestReport } from './tokens';

const EXECUTIONS_SHOWN = 10;

export class TaskView extends Panel {
  private readonly header = new Widget();
  private readonly details = new Widget();
  private form: RunForm | null = null;
  private executions: HTMLElement | null = null;
  private task: ITaskDetail | null = null;
  /**
   * Executions this view started: the history may record them a moment after the run answers,
   * so they are shown until the server lists them.
   */
  private recent: IExecution[] = [];

  /** Called by the back button. */
  onBack: () => void = () => undefined;

  constructor(
    private readonly client: RatchetClient,
    readonly taskName: string,
    private readonly insertCell: InsertCell | null
  ) {
    super();
    this.addClass('jp-RatchetTaskView');
    this.node.dataset.testid = 'ratchet-task-view';
    this.node.dataset.taskName = taskName;
    this.header.addClass('jp-RatchetTaskView-header');
    this.details.addClass('jp-RatchetTaskView-details');
    this.addWidget(this.header);
    this.addWidget(this.details);

    const back = h(
      'button',
      {
        class: 'jp-RatchetButton jp-RatchetTaskView-back',
        type: 'button',
        'data-testid': 'ratchet-back',
        title: 'Back to the task list'
      },
      '\u2190 Tasks'
    );
    back.addEventListener('click', () => this.onBack());
    this.header.node.append(
      back,
      h('h3', { class: 'jp-RatchetTaskView-title', 'data-testid': 'ratchet-task-title' }, taskName)
    );
    this.details.node.append(h('div', { class: 'jp-RatchetMessage' }, 'Loading\u2026'));
  }

  /** Load the task and build the view. */
  async load(): Promise<void> {
    let task: ITaskDetail;
    try {
      task = await this.client.getTask(this.taskName);
    } catch (error) {
      replaceChildren(
        this.details.node,
        h('div', { class: 'jp-RatchetError', 'data-testid': 'ratchet-task-error' }, errorText(error))
      );
      return;
    }
    if (this.isDisposed) {
      return;
    }
    this.task = task;
    this.header.node.append(
      h(
        'div',
        { class: 'jp-RatchetTaskView-meta' },
        h('span', { class: 'jp-RatchetTaskView-version' }, task.version ? `v${task.version}` : ''),
        h(
          'span',
          { class: 'jp-RatchetTaskView-source', title: task.source ?? undefined },
          sourceLabel(task.source)
        ),
        ...(task.tags ?? []).map(tag => h('span', { class: 'jp-RatchetTag' }, tag))
      ),
      h(
        'p',
        { class: 'jp-RatchetTaskView-description', 'data-testid': 'ratchet-task-description' },
        task.description || 'No description.'
      )
    );

    this.form = new RunForm(this.client, task, this.insertCell);
    this.form.onRan = execution => {
      if (execution !== null) {
        this.recent.unshift(execution);
      }
      void this.refresh();
    };
    this.insertWidget(1, this.form);

    this.executions = h('ul', { class: 'jp-RatchetExecutions', 'data-testid': 'ratchet-executions' });
    replaceChildren(
      this.details.node,
      this.renderTests(task),
      section('Last executions', 'ratchet-executions-section', this.executions),
      section(
        'Input schema',
        'ratchet-input-schema',
        h('pre', { class: 'jp-RatchetJson' }, prettyJson(task.input_schema ?? {}))
      ),
      section(
        'Output schema',
        'ratchet-output-schema',
        h('pre', { class: 'jp-RatchetJson' }, prettyJson(task.output_schema ?? {}))
      )
    );
    await this.refresh();
  }

  /** Show the task's last executions again (polled while the panel is visible). */
  async refresh(): Promise<void> {
    const list = this.executions;
    if (list === null || this.task === null) {
      return;
    }
    try {
      const page = await this.client.listExecutions({ task: this.task.name, page_size: EXECUTIONS_SHOWN });
      const listed = new Set(page.items.map(execution => execution.id));
      this.recent = this.recent.filter(execution => !listed.has(execution.id));
      const items = [...this.recent, ...page.items].slice(0, EXECUTIONS_SHOWN);
      replaceChildren(
        list,
        ...(items.length
          ? items.map(renderExecution)
          : [h('li', { class: 'jp-RatchetMessage' }, 'Never run.')])
      );
    } catch (error) {
      replaceChildren(
        list,
        h('li', { class: 'jp-RatchetError' }, `Cannot list executions: ${errorText(error)}`)
      );
    }
  }

  private renderTests(task: ITaskDetail): HTMLElement {
    const cases = h(
      'ul',
      { class: 'jp-RatchetTests', 'data-testid': 'ratchet-test-cases' },
      ...task.tests.map((test, i) =>
        h(
          'li',
          {
            class: 'jp-RatchetTests-case',
            'data-testid': 'ratchet-test-case',
            'data-test-name': test.name ?? `test ${i + 1}`
          },
          h('span', { class: 'jp-RatchetTests-name' }, test.name ?? `test ${i + 1}`),
          test.description
            ? h('span', { class: 'jp-RatchetTests-description' }, ` \u2014 ${test.description}`)
            : null
        )
      )
    );
    const summary = h('div', { class: 'jp-RatchetTests-summary', 'data-testid': 'ratchet-test-summary' });
    const button = h(
      'button',
      {
        class: 'jp-RatchetButton',
        type: 'button',
        'data-testid': 'ratchet-run-tests',
        disabled: task.tests.length === 0
      },
      'Run tests'
    );
    button.addEventListener('click', async () => {
      button.disabled = true;
      summary.dataset.state = 'busy';
      summary.textContent = 'Running tests\u2026';
      try {
        const report = await this.client.runTests(task.name);
        this.showReport(report, cases, summary);
      } catch (error) {
        summary.dataset.state = 'error';
        summary.textContent = errorText(error);
      } finally {
        button.disabled = false;
        void this.refresh();
      }
    });
    const title = `Tests (${task.tests.length})`;
    return section(
      title,
      'ratchet-tests',
      task.tests.length ? cases : h('div', { class: 'jp-RatchetMessage' }, 'No test cases.'),
      h('div', { class: 'jp-RatchetTests-actions' }, button),
      summary
    );
  }

  private showReport(report: ITestReport, cases: HTMLElement, summary: HTMLElement): void {
    summary.dataset.state = report.failed === 0 ? 'ok' : 'error';
    summary.textContent = report.summary ?? `${report.passed} passed, ${report.failed} failed`;
    replaceChildren(
      cases,
      ...report.results.map(result =>
        h(
          'li',
          {
            class: `jp-RatchetTests-case jp-mod-${result.passed ? 'ok' : 'error'}`,
            'data-testid': 'ratchet-test-result',
            'data-test-name': result.name,
            'data-passed': String(result.passed)
          },
          h(
            'span',
            { class: `jp-RatchetStatus jp-mod-${result.passed ? 'ok' : 'error'}` },
            result.passed ? 'passed' : 'failed'
          ),
          h('span', { class: 'jp-RatchetTests-name' }, ` ${result.name}`),
          result.failures.length
            ? h('ul', { class: 'jp-RatchetTests-failures' }, ...result.failures.map(f => h('li', {}, f)))
            : null
        )
      )
    );
  }
}

function section(title: string, testid: string, ...children: (Node | null)[]): HTMLElement {
  return h('section', { class: 'jp-RatchetSection', 'data-testid': testid }, h('h4', {}, title), ...children);
}

function renderExecution(execution: IExecution): HTMLElement {
  const tone = statusTone(execution.status);
  const error = execution.error ? `${execution.error.type ?? 'Error'}: ${execution.error.message ?? ''}` : '';
  return h(
    'li',
    {
      class: 'jp-RatchetExecutions-row',
      'data-testid': 'ratchet-execution-row',
      'data-status': execution.status,
      'data-execution-id': execution.id,
      title: error || `input: ${JSON.stringify(execution.input ?? null)}`
    },
    h('span', { class: `jp-RatchetStatus jp-mod-${tone}` }, formatStatus(execution.status)),
    h('span', { class: 'jp-RatchetExecutions-duration' }, formatDuration(execution.duration_ms)),
    h('span', { class: 'jp-RatchetExecutions-time' }, formatTime(execution.started_at)),
    error ? h('div', { class: 'jp-RatchetExecutions-error' }, error) : null
  );
}
