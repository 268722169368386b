/**
 * The run form of a task: fields generated from its input schema, a "Run" button showing the
 * output (pretty JSON) or the error (type and message), and "Insert into notebook".
 */
import { Widget } from '@lumino/widgets';

import { RatchetClient } from './client';
import { errorText, h, replaceChildren } from './dom';
import { FormValues, IFormField, IFormModel, formInput, formModel, initialValues, isValid } from './form';
import { formatDuration, prettyJson } from './format';
import { IExecution, ITaskDetail, JSONValue } from './tokens';

/** Inserts the cell that runs a task into the current notebook; answers what happened, for the user. */
export type InsertCell = (name: string, input: JSONValue) => Promise<string>;

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

export class RunForm extends Widget {
  private readonly model: IFormModel;
  private readonly controls = new Map<string, Control>();
  private readonly errors = new Map<string, HTMLElement>();
  private readonly result: HTMLElement;
  private readonly runButton: HTMLButtonElement;

  /** Called after each run with its execution, if the server answered one (the task view lists it). */
  onRan: (execution: IExecution | null) => void = () => undefined;

  constructor(
    private readonly client: RatchetClient,
    private readonly task: ITaskDetail,
    private readonly insertCell: InsertCell | null
  ) {
    super();
    this.addClass('jp-RatchetRunForm');
    this.node.dataset.testid = 'ratchet-run-form';
    this.model = formModel(task.input_schema);

    const form = h('form', { class: 'jp-RatchetRunForm-fields' });
    const values = initialValues(this.model);
    for (const field of this.model.fields) {
      form.append(this.renderField(field, values[field.name]));
    }
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.run();
    });

    this.runButton = h(
      'button',
      { class: 'jp-RatchetButton jp-mod-accept', type: 'button', 'data-testid': 'ratchet-run' },
      'Run'
    );
    this.runButton.addEventListener('click', () => void this.run());
    const insertButton = h(
      'button',
      {
        class: 'jp-RatchetButton',
        type: 'button',
        'data-testid': 'ratchet-insert',
        title: 'Add a cell "%ratchet run ..." with this input below the active cell of the current notebook',
        disabled: this.insertCell === null
      },
      'Insert into notebook'
    );
    insertButton.addEventListener('click', () => void this.insert());

    this.result = h('div', { class: 'jp-RatchetRunForm-result', 'data-testid': 'ratchet-run-result' });
    this.node.append(
      form,
      h('div', { class: 'jp-RatchetRunForm-actions' }, this.runButton, insertButton),
      this.result
    );
  }

  /** The current values of the fields. */
  values(): FormValues {
    const values: FormValues = {};
    for (const [name, control] of this.controls) {
      values[name] =
        control instanceof HTMLInputElement && control.type === 'checkbox' ? control.checked : control.value;
    }
    return values;
  }

  /** Read the input from the fields, showing an error under each bad one; `undefined` if any is bad. */
  private readInput(): JSONValue | undefined {
    const result = formInput(this.model, this.values());
    for (const [name, element] of this.errors) {
      element.textContent = result.errors[name] ?? '';
      this.controls.get(name)?.classList.toggle('jp-mod-invalid', name in result.errors);
    }
    return isValid(result) ? result.input : undefined;
  }

  /** Run the task on the form's input and show the output or the error. */
  async run(): Promise<void> {
    const input = this.readInput();
    if (input === undefined) {
      this.showMessage('error', 'Fix the fields marked above.');
      return;
    }
    this.runButton.disabled = true;
    this.showMessage('busy', 'Running\u2026');
    let execution: IExecution | null = null;
    try {
      execution = await this.client.executeTask(this.task.name, { input });
      if (execution.status === 'success') {
        replaceChildren(
          this.result,
          h(
            'div',
            { class: 'jp-RatchetRunForm-summary' },
            `success in ${formatDuration(execution.duration_ms)}`
          ),
          h(
            'pre',
            { class: 'jp-RatchetJson', 'data-testid': 'ratchet-run-output' },
            prettyJson(execution.output)
          )
        );
        this.result.dataset.state = 'ok';
      } else {
        const error = execution.error ?? {};
        this.showError(`${execution.status}: ${error.type ?? 'Error'}: ${error.message ?? ''}`.trim());
      }
    } catch (error) {
      this.showError(errorText(error));
    } finally {
      this.runButton.disabled = false;
      this.onRan(execution);
    }
  }

  /** Insert the `%ratchet run` cell with the form's input into the current notebook. */
  async insert(): Promise<void> {
    const input = this.readInput();
    if (input === undefined || this.insertCell === null) {
      this.showMessage('error', 'Fix the fields marked above.');
      return;
    }
    try {
      this.showMessage('ok', await this.insertCell(this.task.name, input));
    } catch (error) {
      this.showError(errorText(error));
    }
  }

  private showError(text: string): void {
    replaceChildren(
      this.result,
      h('pre', { class: 'jp-RatchetError', 'data-testid': 'ratchet-run-error' }, text)
    );
    this.result.dataset.state = 'error';
  }

  private showMessage(state: string, text: string): void {
    replaceChildren(this.result, h('div', { class: 'jp-RatchetRunForm-message' }, text));
    this.result.dataset.state = state;
  }

  private renderField(field: IFormField, value: string | boolean): HTMLElement {
    const id = `ratchet-field-${this.id || 'form'}-${field.name}`.replace(/[^\w-]/g, '_');
    const attributes = {
      id,
      'data-testid': `ratchet-field-${field.name}`,
      'data-field': field.name,
      name: field.name
    };
    let control: Control;
    switch (field.kind) {
      case 'boolean':
        control = h('input', { ...attributes, type: 'checkbox' });
        control.checked = value === true;
        break;
      case 'enum': {
        const select = h('select', attributes);
        if (!field.required) {
          select.append(h('option', { value: '' }, ''));
        }
        for (const option of field.options ?? []) {
          select.append(
            h(
              'option',
              { value: JSON.stringify(option) },
              typeof option === 'string' ? option : JSON.stringify(option)
            )
          );
        }
        select.value = String(value);
        control = select;
        break;
      }
      case 'json':
        control = h('textarea', { ...attributes, rows: this.model.raw ? 6 : 3, spellcheck: 'false' });
        control.value = String(value);
        break;
      default:
        control = h('input', {
          ...attributes,
          type: 'text',
          inputmode: field.kind === 'string' ? undefined : field.kind === 'integer' ? 'numeric' : 'decimal'
        });
        control.value = String(value);
    }
    control.classList.add('jp-RatchetRunForm-control');
    this.controls.set(field.name, control);
    const error = h('div', {
      class: 'jp-RatchetRunForm-error',
      'data-testid': `ratchet-field-error-${field.name}`
    });
    this.errors.set(field.name, error);
    const label = h(
      'label',
      { class: 'jp-RatchetRunForm-label', for: id },
      field.label,
      field.required ? h('span', { class: 'jp-RatchetRunForm-required', title: 'required' }, ' *') : null,
      field.kind !== 'json' || this.model.raw
        ? null
        : h('span', { class: 'jp-RatchetRunForm-hint' }, ' (JSON)')
    );
    return h(
      'div',
      { class: `jp-RatchetRunForm-field jp-mod-${field.kind}` },
      label,
      control,
      field.description ? h('div', { class: 'jp-RatchetRunForm-description' }, field.description) : null,
      error
    );
  }
}
