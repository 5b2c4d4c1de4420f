// natal serve's client code: sortable and filterable tables, the charts (Chart.js), and a
// running apply's progress. The pages work without it; it only adds to them.
'use strict';

function sortable(table) {
  const heads = table.tHead ? Array.from(table.tHead.rows[0].cells) : [];
  heads.forEach((th, i) => {
    th.tabIndex = 0;
    th.title = 'sort';
    const sort = () => {
      const up = th.dataset.sort !== 'asc';
      heads.forEach((h) => delete h.dataset.sort);
      th.dataset.sort = up ? 'asc' : 'desc';
      const body = table.tBodies[0];
      const key = (tr) => {
        const td = tr.cells[i];
        const v = td.dataset.v;
        return v !== undefined ? Number(v) : td.textContent.trim().toLowerCase();
      };
      const rows = Array.from(body.rows).sort((a, b) => {
        const x = key(a);
        const y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
      });
      rows.forEach((r) => body.appendChild(r));
    };
    th.addEventListener('click', sort);
    th.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') sort();
    });
  });
}

function filterable(input) {
  const table = document.getElementById(input.dataset.filterFor);
  if (!table) return;
  input.addEventListener('input', () => {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.from(table.tBodies[0].rows).forEach((tr) => {
      const text = tr.textContent.toLowerCase();
      tr.hidden = !words.every((w) => text.includes(w));
    });
  });
}

const COLOURS = ['#2563eb', '#16a34a', '#dc2626', '#d97706', '#7c3aed', '#0891b2', '#64748b'];

function chart(canvas) {
  if (typeof Chart === 'undefined') return;
  const spec = JSON.parse(canvas.dataset.chart);
  new Chart(canvas, {
    type: spec.type,
    data: {
      labels: spec.labels,
      datasets: spec.series.map((s, i) => ({
        label: s.label,
        data: s.data,
        backgroundColor: COLOURS[i % COLOURS.length],
      })),
    },
    options: {
      indexAxis: spec.horizontal ? 'y' : 'x',
      animation: false,
      responsive: true,
      scales: { x: { stacked: !!spec.stacked }, y: { stacked: !!spec.stacked, beginAtZero: true } },
    },
  });
}

function duration(s) {
  if (s === null || s === undefined) return '';
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

function follow(el) {
  const run = el.dataset.runProgress;
  const bar = el.querySelector('progress');
  const text = el.querySelector('.progress-text');
  const tick = async () => {
    try {
      const res = await fetch(`/api/runs/${run}`, { credentials: 'same-origin' });
      if (!res.ok) return;
      const r = await res.json();
      bar.max = r.expected;
      bar.value = r.written;
      const n = (x) => Number(x).toLocaleString('en-US');
      text.textContent =
        r.run_status === 'running'
          ? `run ${run}: ${n(r.written)} of ${n(r.expected)} births, ${n(r.rate)}/s, about ${duration(r.eta_seconds)} left`
          : `run ${run}: ${r.state}, ${n(r.written)} of ${n(r.expected)} births`;
      el.dataset.state = r.run_status;
      if (r.run_status !== 'running') {
        setTimeout(() => location.reload(), 500);
        return;
      }
    } catch {
      // the next tick tries again
    }
    setTimeout(tick, 1000);
  };
  tick();
}

document.addEventListener('DOMContentLoaded', () => {
  document.querySelectorAll('table.sortable').forEach(sortable);
  document.querySelectorAll('input[data-filter-for]').forEach(filterable);
  document.querySelectorAll('canvas[data-chart]').forEach(chart);
  document.querySelectorAll('[data-run-progress]').forEach(follow);
});
