// tables.js: sortable tables. Each column header holds a button: ascending, descending, then
// the original order again; `aria-sort` says which. Numbers sort numerically, text naturally,
// empty cells last either way.

function sortKey(row, col) {
  const cell = row.cells[col];
  return cell ? cell.getAttribute('data-v') || '' : '';
}

function compareKeys(a, b) {
  const x = Number(a), y = Number(b);
  return isFinite(x) && isFinite(y) ? x - y : a.localeCompare(b, undefined, { numeric: true });
}

document.querySelectorAll('table.sortable').forEach(table => {
  const heads = Array.from(table.tHead.rows[0].cells);
  heads.forEach((th, col) => {
    th.querySelector('button').addEventListener('click', () => {
      const now = th.getAttribute('aria-sort');
      const next = now === 'ascending' ? 'descending' : now === 'descending' ? null : 'ascending';
      heads.forEach(other => other.removeAttribute('aria-sort'));
      if (next) { th.setAttribute('aria-sort', next); }
      const body = table.tBodies[0], dir = next === 'descending' ? -1 : 1;
      const rows = Array.from(body.rows);
      rows.sort((r1, r2) => {
        if (!next) { return r1.dataset.i - r2.dataset.i; }
        const a = sortKey(r1, col), b = sortKey(r2, col);
        if (a === '' || b === '') { return (a === '') - (b === ''); }
        return dir * compareKeys(a, b);
      });
      rows.forEach(r => body.appendChild(r));
    });
  });
});

// A wide table opens on its leading columns; the button above it shows every column, and again
// only the leading ones.
document.querySelectorAll('button.all-columns').forEach(button => {
  const table = button.nextElementSibling.querySelector('table');
  const text = button.textContent;
  button.addEventListener('click', () => {
    const all = table.classList.toggle('all');
    button.setAttribute('aria-pressed', String(all));
    button.textContent = all ? 'Show the leading columns only' : text;
  });
});
