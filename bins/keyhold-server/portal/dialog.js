// Confirmation dialogs: a modal <dialog> (showModal), never window.confirm. Escape and
// Cancel both answer "no"; the cancel button has the focus first, so a stray Enter
// destroys nothing.

import { h } from '/portal/dom.js';

/**
 * Asks `text` in `<dialog id="confirm-dialog">`, appended to `host` (the page, so leaving
 * the page takes it away). `extra`: nodes shown under the text (e.g. a checkbox).
 * Resolves to true (yes) or false (cancel, Escape). The dialog is removed afterwards.
 */
export function confirmDialog(host, { title, text, yes, extra = [] }) {
  const yesButton = h('button', { type: 'button', id: 'confirm-yes', class: 'danger', text: yes });
  const noButton = h('button', { type: 'button', id: 'confirm-no', text: 'Cancel', autofocus: true });
  const dialog = h('dialog', { id: 'confirm-dialog', 'aria-labelledby': 'confirm-title',
    'aria-describedby': 'confirm-text' },
  h('h2', { id: 'confirm-title', text: title }),
  h('p', { id: 'confirm-text', text }),
  ...extra,
  h('div', { class: 'actions' }, noButton, yesButton));
  host.querySelector('#confirm-dialog')?.remove();
  host.append(dialog);
  return new Promise((resolve) => {
    const finish = (answer) => {
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(answer);
    };
    yesButton.addEventListener('click', () => finish(true));
    noButton.addEventListener('click', () => finish(false));
    // Escape fires `cancel`; the dialog closes itself, and this answers no.
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(false);
    });
    dialog.showModal();
    noButton.focus();
  });
}

/** A labelled checkbox for a dialog: `<div class="check"><input type=checkbox> <label></div>`. */
export function checkbox(id, label) {
  const input = h('input', { type: 'checkbox', id });
  return { input, node: h('div', { class: 'check' }, input, h('label', { for: id, text: label })) };
}
