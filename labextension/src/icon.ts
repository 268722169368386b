/**
 * The Ratchet icon shown on the sidebar's tab.
 */
import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2l2.2 3.1 3.7-.9.3 3.8 3.5 1.5-1.8 3.4 1.8 3.4-3.5 1.5-.3 3.8-3.7-.9L12 22l-2.2-3.1-3.7.9-.3-3.8-3.5-1.5L4.1 12 2.3 8.6l3.5-1.5.3-3.8 3.7.9z"/>
    <circle cx="12" cy="12" r="3.5" fill="#fff"/>
  </g>
</svg>`;

export const ratchetIcon = new LabIcon({ name: 'ratchet-jupyter:ratchet', svgstr: svg });
