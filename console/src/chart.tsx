import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Backup } from './api';

/** Size (MB, left axis) and duration (s, right axis) of completed backups over time. */
export function BackupChart({ backups }: { backups: Backup[] }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const host = el.current;
    if (!host) return;
    const done = backups
      .filter((b) => b.status === 'completed' && b.finishedAt)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const data: uPlot.AlignedData = [
      done.map((b) => new Date(b.createdAt).getTime() / 1000),
      done.map((b) => b.sizeBytes / 1024 / 1024),
      done.map((b) => (new Date(b.finishedAt!).getTime() - new Date(b.startedAt ?? b.createdAt).getTime()) / 1000),
    ];
    const width = () => Math.max(260, host.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: 220,
        series: [
          {},
          { label: 'Size (MB)', stroke: '#2563eb', width: 2, points: { show: true }, scale: 'mb' },
          { label: 'Duration (s)', stroke: '#d97706', width: 2, points: { show: true }, scale: 's', dash: [6, 4] },
        ],
        axes: [{}, { scale: 'mb', label: 'MB' }, { scale: 's', side: 1, label: 's', grid: { show: false } }],
      },
      data,
      host,
    );
    const onResize = () => plot.setSize({ width: width(), height: 220 });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      plot.destroy();
    };
  }, [backups]);
  return <div ref={el} class="chart" role="img" aria-label="Chart of backup size and duration over time" />;
}
