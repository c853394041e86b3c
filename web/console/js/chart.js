// A live chart of one numeric resource (uPlot, bundled): values as they arrive, the newest
// MAX_POINTS kept, resized with its container.
const MAX_POINTS = 600;

// The width inside the container's padding: the plot and its legend fit in it.
function innerWidth(el) {
  const s = getComputedStyle(el);
  return Math.floor(el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight));
}

export class LiveChart {
  constructor(container, title, units) {
    this.xs = [];
    this.ys = [];
    this.el = container;
    const width = Math.max(260, innerWidth(container) || 400);
    this.plot = new window.uPlot(
      {
        title,
        width,
        height: 180,
        scales: { x: { time: true } },
        axes: [{}, { label: units || '', size: 60 }],
        series: [{}, { label: units ? `${title} (${units})` : title, stroke: '#2b6cb0', width: 2, fill: 'rgba(43,108,176,0.08)', points: { show: true, size: 4 } }],
        legend: { show: true },
      },
      [this.xs, this.ys],
      container,
    );
    this.ro = new ResizeObserver(() => {
      const w = Math.max(260, innerWidth(container));
      if (w !== this.plot.width) this.plot.setSize({ width: w, height: 180 });
    });
    this.ro.observe(container);
  }

  get points() {
    return this.xs.length;
  }

  // One value at a Unix time in ms; ignored when older than the newest (a replay).
  push(ms, value) {
    const t = ms / 1000;
    if (this.xs.length && t < this.xs[this.xs.length - 1]) return;
    this.xs.push(t);
    this.ys.push(value);
    if (this.xs.length > MAX_POINTS) {
      this.xs.shift();
      this.ys.shift();
    }
    this.plot.setData([this.xs, this.ys]);
  }

  destroy() {
    this.ro.disconnect();
    this.plot.destroy();
  }
}
