// The dashboard page: the menu, the view of the URL's #/id (views.js), and the polling
// each view asks for (ctx.poll: now, then every `ms` while the view is shown). Problems
// reaching the API show in a banner; without a session the API sends the page to /login.

import { h } from './lib.js';
import * as sampler from './sampler.js';
import { views } from './views.js';

const nav = document.getElementById('nav');
const root = document.getElementById('view');
const banner = document.getElementById('problem');
let leave;
let shown = 0;

for (const v of views) nav.append(h('a', { href: `#/${v.id}`, id: `nav-${v.id}` }, v.title));

/** Shows a problem (or hides the banner for ''). */
function say(problem) {
  banner.hidden = problem === '';
  banner.textContent = problem;
}

/** What a view gets: polling that stops when the view is left, and the banner. */
function context(generation) {
  const timers = [];
  return {
    poll(fn, ms) {
      const run = async () => {
        if (generation !== shown) return;
        try {
          await fn();
          say(sampler.problem());
        } catch (err) {
          say(`Could not reach the dashboard's API: ${err.message}`);
        }
        if (generation === shown) timers.push(setTimeout(run, ms));
      };
      run();
    },
    stop() {
      for (const t of timers) clearTimeout(t);
    },
  };
}

async function show() {
  const id = location.hash.replace(/^#\//, '').split('?')[0] || 'overview';
  const view = views.find((v) => v.id === id) ?? views[0];
  leave?.();
  const generation = ++shown;
  for (const a of nav.children) a.classList.toggle('active', a.id === `nav-${view.id}`);
  document.title = `${view.title}: sunray dashboard`;
  const mod = await view.load();
  if (generation !== shown) return;
  root.replaceChildren();
  root.dataset.view = view.id;
  const ctx = context(generation);
  const dispose = mod.mount(root, ctx);
  leave = () => {
    ctx.stop();
    dispose?.();
  };
}

sampler.start();
sampler.subscribe((s) => {
  if (s) document.getElementById('served').textContent = `node ${s.servedBy.slice(0, 8)}`;
});
window.addEventListener('hashchange', show);
show();
