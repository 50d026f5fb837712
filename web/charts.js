// Charts as plain SVG (no library to download): a ranking's bars with the median line, a series' line.

import { svg } from "./dom.js";

/** Horizontal bars, one per entry ({label, value, rank}), best first, with the median as a dashed line. */
export function rankingChart(entries, { median, format, title }) {
  const rowHeight = 22, labelWidth = 190, width = 640, barSpace = width - labelWidth - 70;
  const values = entries.map((e) => e.value ?? 0);
  const top = Math.max(...values, median ?? 0, 1e-9);
  const height = entries.length * rowHeight + 30;
  const x = (v) => labelWidth + (barSpace * v) / top;
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart" },
    svg("title", {}, title),
    entries.map((e, i) => {
      const y = 10 + i * rowHeight;
      return svg("g", { class: "bar" },
        svg("text", { x: labelWidth - 8, y: y + 14, "text-anchor": "end" }, `${e.rank ?? "–"}. ${e.label}`),
        svg("rect", { x: labelWidth, y: y + 3, width: Math.max(0, x(e.value ?? 0) - labelWidth), height: rowHeight - 8, rx: 2 }),
        svg("text", { x: x(e.value ?? 0) + 6, y: y + 14, class: "value" }, e.value === null ? "–" : format(e.value)),
      );
    }),
    median === null || median === undefined ? null : svg("g", { class: "median" },
      svg("line", { x1: x(median), x2: x(median), y1: 4, y2: height - 18 }),
      svg("text", { x: x(median), y: height - 4, "text-anchor": "middle" }, `median ${format(median)}`),
    ),
  );
}

/** A line over periods ({period, value}); values are fractions from 0 to 1. */
export function seriesChart(points, { title, format }) {
  const width = 640, height = 200, left = 50, bottom = 30, right = 10, top = 10;
  const usable = points.filter((p) => p.value !== null && p.value !== undefined);
  const step = points.length > 1 ? (width - left - right) / (points.length - 1) : 0;
  const x = (i) => left + i * step;
  const y = (v) => top + (height - top - bottom) * (1 - v);
  const path = points.map((p, i) => (p.value === null || p.value === undefined ? null : `${x(i)},${y(p.value)}`)).filter(Boolean).join(" ");
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart series" },
    svg("title", {}, title),
    [0, 0.5, 1].map((v) => svg("g", { class: "grid" },
      svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v) }),
      svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, format(v)))),
    usable.length ? svg("polyline", { points: path, class: "line" }) : null,
    points.map((p, i) => (i % Math.ceil(points.length / 8) === 0 ? svg("text", { x: x(i), y: height - 8, "text-anchor": "middle" }, p.period) : null)),
  );
}
