import { describe, expect, it } from 'vitest';
import { readServerState, SERVER_STATE_ID, serializeState, type ServerState } from './serverState';

function pageWith(json: string): Document {
  const page = document.implementation.createHTMLDocument('page');
  page.body.innerHTML = `<div id="root"></div><script type="application/json" id="${SERVER_STATE_ID}">${json}</script><p id="after">after</p>`;
  return page;
}

describe('the state a server-rendered page carries', () => {
  const hostile = 'Lamp </script><script>alert(1)</script> <!-- \u2028 \u2029 & "quoted"';
  const state: ServerState = {
    apollo: { 'Product:1': { __typename: 'Product', id: '1', name: hostile } },
    router: { loaderData: { '0-0-3': null } },
  };

  it('cannot close its block, whatever the data holds', () => {
    const json = serializeState(state);
    expect(json).not.toMatch(/</);
    expect(json).not.toMatch(/[\u2028\u2029]/);
    const page = pageWith(json);
    // the element holds all of it and the markup after it is still markup
    expect(page.getElementById('after')?.textContent).toBe('after');
    expect(page.querySelectorAll('script')).toHaveLength(1);
  });

  it('reads back as it was written', () => {
    expect(readServerState(pageWith(serializeState(state)))).toEqual(state);
  });

  it('is absent from a page the browser draws, and unreadable state counts as absent', () => {
    expect(readServerState(document.implementation.createHTMLDocument('shell'))).toBeNull();
    expect(readServerState(pageWith('{"apollo":'))).toBeNull();
  });
});
