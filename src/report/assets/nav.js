// nav.js: addresses that work. A link to #run-… (or to anything inside a closed <details>)
// opens every <details> around its target and scrolls to it: on link clicks, on page load and
// on hashchange. #card-<run>-<k> first draws that run's cards. Also the table of contents'
// phone toggle, expand/collapse all, and the figures' full-size buttons.

/** Opens the <details> around `id` (and the element itself, if it is one) and scrolls to it. */
async function reveal(id) {
  let target = document.getElementById(id);
  const card = /^card-(.+)-(\d+)$/.exec(id);
  if (!target && card) {
    const run = document.getElementById('run-' + card[1]);
    if (!run) { return; }
    run.open = true;
    await showCards(run, Number(card[2]));
    target = document.getElementById(id);
  }
  if (!target) { return; }
  for (let el = target; el; el = el.parentElement) {
    if (el.tagName === 'DETAILS') { el.open = true; }
  }
  target.scrollIntoView({ block: 'start' });
  if (card) {
    target.classList.add('flash');
    setTimeout(() => target.classList.remove('flash'), 1600);
  }
}

document.addEventListener('click', ev => {
  const link = ev.target.closest && ev.target.closest('a[href^="#"]');
  if (!link) { return; }
  const id = decodeURIComponent(link.getAttribute('href').slice(1));
  if (!id) { return; }
  ev.preventDefault();
  if (location.hash !== '#' + id) { history.pushState(null, '', '#' + id); }
  reveal(id);
  closeToc();
});
window.addEventListener('hashchange', () => reveal(decodeURIComponent(location.hash.slice(1))));
window.addEventListener('popstate', () => reveal(decodeURIComponent(location.hash.slice(1))));
// After the whole script has run (the cards' code comes later in it).
document.addEventListener('DOMContentLoaded', () => {
  if (location.hash.length > 1) { reveal(decodeURIComponent(location.hash.slice(1))); }
});

const tocToggle = document.getElementById('toc-toggle');
function closeToc() {
  if (tocToggle) { tocToggle.setAttribute('aria-expanded', 'false'); }
}
if (tocToggle) {
  tocToggle.addEventListener('click', () => {
    tocToggle.setAttribute('aria-expanded', String(tocToggle.getAttribute('aria-expanded') !== 'true'));
  });
}

function setAll(open) {
  document.querySelectorAll('main details').forEach(d => { d.open = open; });
}
const expandAll = document.getElementById('expand-all'), collapseAll = document.getElementById('collapse-all');
if (expandAll) { expandAll.addEventListener('click', () => setAll(true)); }
if (collapseAll) { collapseAll.addEventListener('click', () => setAll(false)); }

document.querySelectorAll('figure.png button.zoom').forEach(button => {
  button.addEventListener('click', () => {
    const full = button.closest('figure').classList.toggle('full');
    button.setAttribute('aria-pressed', String(full));
    button.textContent = full ? 'Fit to column' : 'Full size';
  });
});
