/**
 * The left-panel "Ratchet" widget. For now it shows the server extension's health.
 */
import { Widget } from '@lumino/widgets';

import { RatchetClient } from './client';
import { ratchetIcon } from './icon';
import { SIDEBAR_ID } from './tokens';

export class RatchetSidebar extends Widget {
  private readonly status: HTMLElement;

  constructor(private readonly client: RatchetClient) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-RatchetSidebar');
    this.title.icon = ratchetIcon;
    this.title.caption = 'Ratchet';

    const heading = document.createElement('h2');
    heading.textContent = 'Ratchet';
    this.status = document.createElement('p');
    this.status.className = 'jp-RatchetSidebar-status';
    this.status.textContent = 'Ratchet: connecting...';
    this.node.append(heading, this.status);
  }

  /** Ask the server for its health and show the answer (or the error) as one line. */
  async refresh(): Promise<void> {
    try {
      const health = await this.client.health();
      this.status.textContent = `Ratchet ${health.status} ${health.version}`;
      this.status.dataset.state = health.status;
    } catch (error) {
      this.status.textContent = `Ratchet unavailable: ${(error as Error).message}`;
      this.status.dataset.state = 'error';
    }
  }
}
